"""Issue text made safe to show an agent: what a reader of the rendered issue cannot see is removed, so nobody can
hide instructions in it.

Removed: HTML comments (also one never closed), every invisible format character (Unicode category Cf: zero-width
spaces and joiners U+200B-200D, word joiners and invisible operators U+2060-2064, U+FEFF, soft hyphens, bidi
overrides and isolates, the Unicode tag characters U+E0000-E007F that carry "ASCII smuggling"), control characters,
variation selectors (another smuggling channel) and the invisible Hangul fillers; image alt text, link titles and
hidden HTML attributes (alt, title, aria-label, placeholder, data-*). Numeric character references are decoded
first, so ``&#8203;`` cannot bring back what was removed.
"""

from __future__ import annotations

import re
import unicodedata

_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_CHAR_REFERENCE = re.compile(r"&#(?:([0-9]{1,7})|[xX]([0-9a-fA-F]{1,6}));")
_IMAGE_ALT = re.compile(r"!\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(")
_LINK_TITLE = re.compile(r"""(\]\([^)\s]+)\s+(?:"[^"]*"|'[^']*'|\([^)]*\))\s*\)""")
_REFERENCE_TITLE = re.compile(r"""^(\s{0,3}\[[^\]]+\]:\s*\S+)\s+(?:"[^"]*"|'[^']*'|\([^)]*\))\s*$""", re.MULTILINE)
_HIDDEN_ATTRIBUTE = re.compile(
    r"""\s(?:alt|title|aria-label|aria-description|placeholder|data-[\w-]+)\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+)""",
    re.IGNORECASE,
)
_INVISIBLE_LETTERS = frozenset({"\u115f", "\u1160", "\u3164", "\uffa0"})  # Hangul fillers render as nothing
_KEPT_CONTROLS = frozenset("\n\t")


def sanitize(text: str) -> str:
    """``text`` with everything invisible in the rendered issue removed (see the module docstring)."""
    text = _CHAR_REFERENCE.sub(_decoded, text.replace("\r\n", "\n").replace("\r", "\n"))
    text = strip_invisible(text)
    text = _HTML_COMMENT.sub("", text)
    text = _IMAGE_ALT.sub("![](", text)
    text = _LINK_TITLE.sub(r"\1)", text)
    text = _REFERENCE_TITLE.sub(r"\1", text)
    return _HIDDEN_ATTRIBUTE.sub("", text)


def strip_invisible(text: str) -> str:
    """``text`` without format (Cf) and control (Cc) characters, variation selectors and invisible fillers."""
    return "".join(ch for ch in text if _visible(ch))


def _visible(ch: str) -> bool:
    if ch in _KEPT_CONTROLS:
        return True
    code = ord(ch)
    if 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF or ch in _INVISIBLE_LETTERS:
        return False
    return unicodedata.category(ch) not in ("Cf", "Cc")


def _decoded(match: re.Match[str]) -> str:
    """A numeric character reference as its character, when that is a valid one (else it is dropped)."""
    decimal, hexadecimal = match.groups()
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return ""
    return chr(code)


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    note = f"\n[... {len(text) - limit} more characters not shown]"
    return text[: max(0, limit - len(note))] + note


def quoted(text: str) -> str:
    """``text`` as a Markdown block quote: every line prefixed, so the text cannot close the quote and pose as
    the instructions around it."""
    return "\n".join("> " + line if line else ">" for line in text.split("\n"))
