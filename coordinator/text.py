"""Text for people: aligned tables, and untrusted strings made safe to print on a terminal.

Titles, bodies, summaries, runner messages and file names come from the state branch or from GitHub, so anyone
who can open an issue or push to the branch chooses them. Printed raw, an escape sequence clears the screen,
retitles the window (OSC 0), writes the clipboard (OSC 52) or hides a link (OSC 8), and a bidi override shows
text in another order than it is stored. :func:`terminal_safe` shows every such character escaped instead.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence

#: Control characters (C0, DEL, C1: every escape sequence starts with one), format characters (bidi overrides
#: and isolates, zero-width characters, the BOM, word joiners...), lone surrogates, line and paragraph separators.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
#: Unicode tag characters: invisible, and able to carry a hidden message (some are unassigned, so not "Cf").
_TAG_CHARACTERS = range(0xE0000, 0xE0080)
_SHORT_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def is_unsafe(char: str) -> bool:
    """True for a character a terminal acts on or does not show: controls, bidi, zero-width, tags."""
    return unicodedata.category(char) in _UNSAFE_CATEGORIES or ord(char) in _TAG_CHARACTERS


def first_unsafe(text: str) -> tuple[int, str] | None:
    """The position and escaped form of the first unsafe character of ``text``, or None when there is none."""
    if text.isprintable():  # fast path: every unsafe character is also non-printable
        return None
    for position, char in enumerate(text):
        if is_unsafe(char):
            return position, escaped(char)
    return None


#: How ``surrogateescape`` decoding keeps bytes that are not UTF-8 (file names on the branch can hold any).
_UNDECODED_BYTES = range(0xDC80, 0xDD00)


def escaped(char: str) -> str:
    """How an unsafe character is shown: ``\\n``, ``\\x1b``, ``\\u202e``, ``\\U000e0041``; a byte that was not
    UTF-8 (kept by ``surrogateescape``) as the byte, ``\\xff``."""
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    if code in _UNDECODED_BYTES:
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def terminal_safe(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every unsafe character shown escaped (``\\x1b[2J``), so printing it cannot act on the terminal.

    ``keep_newlines`` keeps ``\\n`` (for a multi-line body printed on purpose); nothing else is kept. The result
    is plain printable text, so applying it twice changes nothing.
    """
    if text.isprintable():
        return text
    return "".join(escaped(char) if is_unsafe(char) and not (keep_newlines and char == "\n") else char for char in text)


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A plain aligned text table (the last column is not padded); every cell is made terminal-safe."""
    rows = [[terminal_safe(str(cell)) for cell in row] for row in rows]
    widths = [max(len(x) for x in col) for col in zip(headers, *rows, strict=False)] if rows else []
    if not rows:
        widths = [len(h) for h in headers]
    lines = []
    for row in [list(headers), *rows]:
        cells = [str(c).ljust(w) for c, w in zip(row[:-1], widths[:-1], strict=False)] + [str(row[-1])]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
