"""``terminal_safe``: untrusted text printed on a terminal can act on nothing and hide nothing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coordinator.text import first_unsafe, is_unsafe, table, terminal_safe

#: What the security issue found reaching the terminal raw: clear screen, OSC 0 (window title), OSC 52
#: (clipboard write), OSC 8 (hyperlink), an RLO bidi override; plus a C1 CSI, a zero-width space and a tag.
HOSTILE = (
    "\x1b[2J"
    "\x1b]0;pwned\x07"
    "\x1b]52;c;ZXZpbA==\x07"
    "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\"
    "\u202eevil"
    "\x9b31m"
    "\u200bhidden\U000e0041"
)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[2J", "\\x1b[2J"),
        ("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),
        ("a\tb\rc\nd", "a\\tb\\rc\\nd"),
        ("\x00\x7f\x85\x9b", "\\x00\\x7f\\x85\\x9b"),
        ("\u202eevil\u202c", "\\u202eevil\\u202c"),
        ("\u2066x\u2069\u200e\u200f\u061c", "\\u2066x\\u2069\\u200e\\u200f\\u061c"),
        ("a\u200bb\u200cc\u200dd\u2060e\u2064f\ufeff", "a\\u200bb\\u200cc\\u200dd\\u2060e\\u2064f\\ufeff"),
        ("\U000e0001\U000e0041\U000e007f", "\\U000e0001\\U000e0041\\U000e007f"),
        ("line\u2028para\u2029", "line\\u2028para\\u2029"),
        ("\udcff", "\\xff"),  # an undecodable byte (surrogateescape) would crash the print itself: shown as the byte
        ("\ud800", "\\ud800"),  # any other lone surrogate
    ],
)
def test_each_kind_of_unsafe_character_is_shown_escaped(raw: str, shown: str) -> None:
    assert terminal_safe(raw) == shown


@pytest.mark.parametrize(
    "text",
    ["Fix the login bug", "Überprüfe café — naïve 日本語 😀", "C:\\Users\\me\\file.txt", "tabs\\tare text", ""],
)
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert terminal_safe(text) == text
    assert first_unsafe(text) is None


def test_keep_newlines_keeps_only_newlines() -> None:
    assert terminal_safe("one\ntwo\r\n\x1b[2J", keep_newlines=True) == "one\ntwo\\r\n\\x1b[2J"


def test_first_unsafe_says_where_and_what() -> None:
    assert first_unsafe("ok\u202eno") == (2, "\\u202e")
    assert first_unsafe("title\n") == (5, "\\n")


def test_table_cells_are_made_safe_and_stay_aligned() -> None:
    text = table(("A", "B"), [("\x1b[31mred", "x"), ("plain", "\u202eevil")])
    assert "\x1b" not in text and "\u202e" not in text
    # Widths are measured on what is printed, so the columns line up.
    assert text.splitlines() == ["A            B", "\\x1b[31mred  x", "plain        \\u202eevil"]


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(codec="utf-8", exclude_categories=()), max_size=40) | st.just(HOSTILE))
def test_output_holds_no_unsafe_character_and_is_stable(text: str) -> None:
    safe = terminal_safe(text)
    assert not any(is_unsafe(char) for char in safe)
    assert terminal_safe(safe) == safe  # idempotent: safe to apply at every layer
    multiline = terminal_safe(text, keep_newlines=True)
    assert not any(is_unsafe(char) for char in multiline if char != "\n")
    assert multiline.count("\n") == text.count("\n")


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(exclude_categories=("Cc", "Cf", "Cs", "Zl", "Zp", "Cn")), max_size=40))
def test_visible_text_passes_through_exactly(text: str) -> None:
    assert terminal_safe(text) == text
