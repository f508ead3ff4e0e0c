"""Issue text made safe to show an agent: what a reader of the rendered issue cannot see is removed, so nobody can
hide instructions in it.

Removed: HTML comments (also one never closed), every invisible character (Unicode format characters, category
Cf: zero-width spaces and joiners U+200B-200D, word joiners and invisible operators U+2060-2064, U+FEFF, soft
hyphens, bidi embeddings, overrides and isolates; the whole Unicode tag block U+E0000-E007F that carries "ASCII
smuggling", assigned or not; every other default-ignorable code point: variation selectors, another smuggling
channel, Hangul fillers, the combining grapheme joiner, ...), control characters other than newline and tab; and
the Markdown and HTML whose text GitHub does not show (see :mod:`coordinator.github.markup`: image alt text, link
titles, link reference definitions, hidden HTML attributes). Character references (``&#8203;``, ``&#x202E;``,
``&zwj;``) are decoded and comments removed over again until nothing changes, so neither can bring back or hide
what was removed; line and paragraph separators become newlines, so :func:`quoted` sees every line.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from html.entities import html5

from coordinator.github.markup import visible_markup

_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_NUMERIC_REFERENCE = re.compile(r"&#(?:([0-9]+)|[xX]([0-9a-fA-F]+));?")
_NEWLINES = re.compile(r"\r\n|[\r\u2028\u2029]")
_LINE_BREAK = re.compile(r"\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")
_KEPT_CONTROLS = frozenset("\n\t")
#: Unicode's Default_Ignorable_Code_Point ranges (DerivedCoreProperties.txt): rendered as nothing, assigned or
#: not. Format (Cf) and control (Cc) characters outside them are removed by category.
_IGNORABLE = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
_IGNORABLE_STARTS = [low for low, _ in _IGNORABLE]
#: Decoding and removing may reveal more to decode or remove (``&#38;#8203;``); hostile nesting beyond this many
#: rounds is neutralized instead.
_ROUNDS = 4
_MAX_CODE_POINT_DIGITS = 8


def sanitize(text: str) -> str:
    """``text`` with everything invisible in the rendered issue removed (see the module docstring)."""
    return visible_markup(_rendered_characters(_NEWLINES.sub("\n", text)))


def strip_invisible(text: str) -> str:
    """``text`` without format (Cf), control (Cc, except newline and tab) and default-ignorable characters."""
    return "".join(ch for ch in text if _visible(ch))


def _rendered_characters(text: str) -> str:
    """``text`` as the characters a reader sees: comments removed first (as GitHub reads them, on the raw text),
    then character references decoded and invisible characters removed, over again until nothing changes."""
    for _ in range(_ROUNDS):
        revealed = strip_invisible(_decoded(_HTML_COMMENT.sub("", text)))
        if revealed == text:
            return text
        text = revealed
    # Still changing: hostile nesting. Whatever could still open a comment or decode to a character is
    # neutralized (shown as text, also when posted back to GitHub), never decoded again.
    text = strip_invisible(_decoded(_HTML_COMMENT.sub("", text)))
    text = _NUMERIC_REFERENCE.sub(lambda found: "&amp;" + found.group()[1:], text)
    return _INVISIBLE_NAMED_REFERENCE.sub(lambda found: "&amp;" + found.group()[1:], text).replace("<!--", "&lt;!--")


def _visible(ch: str) -> bool:
    if ch in _KEPT_CONTROLS:
        return True
    if ch < "\x7f":
        return ch >= " "
    if unicodedata.category(ch) in ("Cf", "Cc"):
        return False
    code = ord(ch)
    index = bisect_right(_IGNORABLE_STARTS, code) - 1
    return index < 0 or code > _IGNORABLE[index][1]


def _decoded(text: str) -> str:
    """``text`` with numeric character references decoded (``&#8203;``, ``&#x202E``: browsers accept any
    number of leading zeros and, in HTML, no semicolon) and named references to invisible characters removed."""
    return _INVISIBLE_NAMED_REFERENCE.sub("", _NUMERIC_REFERENCE.sub(_character, text))


def _character(match: re.Match[str]) -> str:
    """A numeric character reference as its character, when that is a valid one (else it is dropped)."""
    decimal, hexadecimal = match.groups()
    digits = (decimal if decimal is not None else hexadecimal).lstrip("0")
    if len(digits) > _MAX_CODE_POINT_DIGITS:
        return ""
    code = int(digits or "0", 10 if decimal is not None else 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return ""
    return chr(code)


def _invisible_named_references() -> re.Pattern[str]:
    """HTML's named references to characters that render as nothing (``&zwj;``, ``&shy``, ``&lrm;``, ...)."""
    names = [name for name, value in html5.items() if not any(_visible(ch) for ch in value)]
    return re.compile("&(?:" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + ")")


_INVISIBLE_NAMED_REFERENCE = _invisible_named_references()


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, saying how much was cut (when the saying fits)."""
    if len(text) <= limit:
        return text
    kept = limit
    for _ in range(3):  # the note's length depends on the count it gives, and the count on the note's length
        note = f"\n[... {len(text) - kept} more characters not shown]"
        kept = limit - len(note)
    if kept <= 0:
        return text[: max(0, limit)]
    return text[:kept] + f"\n[... {len(text) - kept} more characters not shown]"


def quoted(text: str) -> str:
    """``text`` as a Markdown block quote: every line prefixed (whatever ends it: ``\\r``, U+2028, ...), so the
    text cannot close the quote and pose as the instructions around it."""
    return "\n".join("> " + line if line else ">" for line in _LINE_BREAK.split(text))
