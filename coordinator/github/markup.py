"""Markdown and HTML that GitHub renders without showing their text, removed so that what remains is what a
reader of the rendered issue sees: image alt text, link titles, link reference definitions (the ``[//]: # (...)``
"comment" idiom among them: a definition renders as nothing) and hidden HTML attributes (``alt``, ``title``,
``placeholder``, ``label``, ``aria-*``, ``data-*``). A reference to a definition becomes an inline link, so no
link loses where it points. Pure; every scan is linear (or close) in the text's length, as issue text is hostile.

The rules follow CommonMark where it matters for hiding text (balanced and escaped brackets, code spans, link
destinations with nested parentheses, titles in three quotings, attributes after any separator HTML accepts);
where they are approximated, they err towards removing more.
"""

from __future__ import annotations

import re

#: Attributes whose text a reader does not see (a tooltip at most).
_HIDDEN_ATTRIBUTE = re.compile(r"alt|title|placeholder|label|aria-[\w-]*|data-[\w.:-]*", re.IGNORECASE)
_TAG_OPEN = re.compile(r"<[A-Za-z][^\s/>]*")
_ATTRIBUTE_GAP = re.compile(r"[\s/]*")
# HTML's tokenizer: a name, then maybe "=" and a value; a quote opens a value only right after the "=".
_ATTRIBUTE = re.compile(r"""(?P<name>[^\s/>][^\s/>=]*)(?:\s*=\s*(?:"[^"]*"?|'[^']*'?|[^\s>]*))?""")

_BACKTICKS = re.compile(r"`+")
_LONGEST_LABEL = 999
#: cmark accepts link destinations with parentheses nested this deep.
_PARENTHESES_DEPTH = 32


def _destination_pattern() -> str:
    plain = r"(?:[^\s()\\]|\\[\s\S])"
    nested = plain
    for _ in range(_PARENTHESES_DEPTH):
        nested = rf"(?:{plain}|\({nested}*+\))"
    return rf"(?:<(?:[^<>\n\\]|\\[\s\S])*+>|{nested}++)"


_DESTINATION = _destination_pattern()
_TITLE = r"""(?:"(?:[^"\\]|\\[\s\S])*+"|'(?:[^'\\]|\\[\s\S])*+'|\((?:[^()\\]|\\[\s\S])*+\))"""
_INLINE_TITLE = re.compile(rf"(\]\(\s*{_DESTINATION})\s+{_TITLE}\s*\)")
_DEFINITION = re.compile(
    rf"^[ ]{{0,3}}\[(?!\^)(?P<label>(?:[^\[\]\\]|\\[\s\S]){{1,{_LONGEST_LABEL}}})\]:"
    rf"[ \t]*\n?[ \t]*(?P<target>{_DESTINATION})"
    rf"(?:(?:[ \t]+|[ \t]*\n[ \t]*){_TITLE})?[ \t]*(?:\n|\Z)",
    re.MULTILINE,
)


def visible_markup(text: str) -> str:
    """``text`` without the Markdown and HTML whose text GitHub does not show (see the module docstring)."""
    text, targets = _without_definitions(text)
    text = _resolved(text, targets)
    text = _INLINE_TITLE.sub(r"\1)", text)
    return _without_hidden_attributes(text)


def _without_definitions(text: str) -> tuple[str, dict[str, str]]:
    """``text`` without its link reference definitions, and where each label points (the first one wins)."""
    targets: dict[str, str] = {}

    def take(definition: re.Match[str]) -> str:
        targets.setdefault(_label_key(definition["label"]), definition["target"])
        return ""

    return _DEFINITION.sub(take, text), targets


def _resolved(text: str, targets: dict[str, str]) -> str:
    """``text`` with the alt text of its images emptied and its references to ``targets`` made inline links."""
    closes = _matching_brackets(text)
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement)
    labels: set[int] = set()  # where the label of a full or collapsed reference starts: no link of its own
    for start, end in closes.items():
        if start in labels:
            continue
        reference = _reference(text, start, end, closes, targets)
        if reference is not None:
            target, reference_end = reference
            edits.append((end + 1, reference_end, f"({target})"))
            labels.add(end + 1)
        image = start > 0 and text[start - 1] == "!" and not _escaped(text, start - 1)
        if image and (reference is not None or text.startswith("(", end + 1)):
            edits.append((start + 1, end, ""))
    pieces: list[str] = []
    position = 0
    for start, end, replacement in sorted(edits):
        if start < position:
            continue  # inside an alt text already removed (an image within an image's alt)
        pieces += [text[position:start], replacement]
        position = end
    return "".join(pieces) + text[position:]


def _reference(
    text: str, start: int, end: int, closes: dict[int, int], targets: dict[str, str]
) -> tuple[str, int] | None:
    """Where ``[...]`` at ``start``-``end`` points as a reference (full ``[t][l]``, collapsed ``[l][]`` or
    shortcut ``[l]``), and where the reference ends; None when it is no reference to a known label."""
    if not targets:
        return None
    label_end = closes.get(end + 1)
    if label_end is not None:
        label = (end + 2, label_end) if label_end > end + 2 else (start + 1, end)
        key = _label_key(text, *label)
        return (targets[key], label_end + 1) if key in targets else None
    if text.startswith("(", end + 1):
        return None  # an inline link
    key = _label_key(text, start + 1, end)
    return (targets[key], end + 1) if key in targets else None


def _label_key(text: str, start: int = 0, end: int | None = None) -> str:
    """How a label (``text[start:end]``) is matched: without case, runs of whitespace as one space; labels are
    at most 999 characters (CommonMark), longer ones match nothing."""
    end = len(text) if end is None else end
    if end - start > _LONGEST_LABEL:
        return ""
    return " ".join(text[start:end].split()).casefold()


def _matching_brackets(text: str) -> dict[int, int]:
    """Each ``[``'s matching ``]`` (by index), skipping backslash-escaped brackets and those in code spans."""
    closes: dict[int, int] = {}
    opened: list[int] = []
    no_closing_run: dict[int, int] = {}  # backtick run length -> from where no run of that length follows
    at, size = 0, len(text)
    while at < size:
        char = text[at]
        if char == "\\":
            at += 2
            continue
        if char == "`":
            run = _BACKTICKS.match(text, at)
            assert run is not None
            at = _code_span_end(text, run.end(), run.end() - at, no_closing_run)
            continue
        if char == "[":
            opened.append(at)
        elif char == "]" and opened:
            closes[opened.pop()] = at
        at += 1
    return dict(sorted(closes.items()))


def _code_span_end(text: str, start: int, length: int, no_closing_run: dict[int, int]) -> int:
    """Where the code span opened by ``length`` backticks ending at ``start`` ends (``start``: it is none)."""
    if no_closing_run.get(length, len(text) + 1) <= start:
        return start
    for run in _BACKTICKS.finditer(text, start):
        if run.end() - run.start() == length:
            return run.end()
    no_closing_run[length] = start
    return start


def _escaped(text: str, index: int) -> bool:
    """Whether the character at ``index`` is escaped by an odd run of backslashes."""
    run = 0
    while index - run - 1 >= 0 and text[index - run - 1] == "\\":
        run += 1
    return run % 2 == 1


def _without_hidden_attributes(text: str) -> str:
    """``text`` with the hidden attributes of its HTML start tags replaced by a space (never by nothing: the
    pieces around a removed attribute must not join into a new one)."""
    pieces: list[str] = []
    position = 0
    at = 0
    while (tag := _TAG_OPEN.search(text, at)) is not None:
        at = tag.end()
        while True:
            gap = _ATTRIBUTE_GAP.match(text, at)
            assert gap is not None
            at = gap.end()
            if at >= len(text) or text[at] == ">":
                break
            attribute = _ATTRIBUTE.match(text, at)
            assert attribute is not None  # the first character is none of whitespace, '/' and '>'
            if _HIDDEN_ATTRIBUTE.fullmatch(attribute["name"]):
                pieces += [text[position:at], " "]
                position = attribute.end()
            at = attribute.end()
    return "".join(pieces) + text[position:]
