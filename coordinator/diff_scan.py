"""Stopping a commit or push whose changes hold a secret: a pure scan of a unified diff.

Give it what ``git diff --cached --text --no-color --no-ext-diff`` prints (before committing the agent's
work), or ``git log -p --reverse --text --no-color --no-ext-diff --format= BASE..TIP`` (before pushing a task
branch: every commit is pushed, so a secret an agent committed and then removed counts), and the runner's
:class:`~coordinator.redaction.Redactor`. Only *added* lines count, so a file that already held a placeholder
token does not fail every attempt; a secret split over several added lines of a file is still found. The
names of new files count too (a file named after a token would be committed). Binary sections
(``Binary files … differ``) cannot be scanned: ``--text`` avoids them.

A finding names the file, the line and the kind of secret ("the value of ANTHROPIC_API_KEY", "a GitHub
token"), never the value; a file name that itself holds a secret is shown redacted.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from coordinator.redaction import Redactor

_HUNK = re.compile(r"^@@ -\d+(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_NEW_NAME = re.compile(r"^(?:rename|copy) to (.+)$")
_C_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


@dataclass(frozen=True)
class DiffFinding:
    """A secret in the changes: which file, which line of the new file (0: the file's name) and what kind."""

    path: str
    line: int
    kind: str

    def describe(self) -> str:
        """E.g. ``env.txt line 3 holds the value of ANTHROPIC_API_KEY``."""
        where = "the name" if self.line == 0 else f"line {self.line}"
        return f"{self.path} {where} holds {self.kind}"


def describe_findings(findings: Iterable[DiffFinding]) -> str:
    """One line for an attempt's failure reason, e.g. ``the changes hold a secret: env.txt line 3 holds …``
    (the first five findings, then how many more)."""
    listed = [finding.describe() for finding in findings]
    shown = "; ".join(listed[:5]) + (f"; and {len(listed) - 5} more" if len(listed) > 5 else "")
    return (
        f"the changes hold {'a secret' if len(listed) == 1 else 'secrets'}: {shown}. Nothing was committed or "
        "pushed: remove the secret from those files (or stop the task from writing it) and retry the task"
    )


@dataclass
class _File:
    path: str
    new_name: bool = False  # a new, renamed or copied file: its name is part of the change
    added: list[str] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)  # new-file line number of each added line


def scan_diff(diff: str, redactor: Redactor) -> list[DiffFinding]:
    """Every added line (and new file name) in ``diff`` holding a known secret value or a certain token shape.

    One finding per file, line and kind, in the order of the diff; a secret spanning lines is reported on its
    first line.
    """
    findings: list[DiffFinding] = []
    for changed in _parse(diff):
        shown_path = redactor.redact(changed.path)
        found: set[tuple[int, str]] = set()
        if changed.new_name:
            found.update((0, hit.kind) for hit in redactor.find(changed.path, confident_only=True))
        # Added lines joined, so a secret that spans lines (a key, a value with a newline) is found whole.
        starts, offset = [], 0
        for line in changed.added:
            starts.append(offset)
            offset += len(line) + 1
        for hit in redactor.find("\n".join(changed.added), confident_only=True):
            found.add((changed.numbers[bisect.bisect_right(starts, hit.start) - 1], hit.kind))
        findings.extend(DiffFinding(shown_path, line, kind) for line, kind in sorted(found))
    return findings


def _parse(diff: str) -> list[_File]:
    """The files of a unified diff with their added lines; hunks are followed by their line counts, so an added
    line that reads like a header (``+++ x``) is still content."""
    files: list[_File] = []
    current: _File | None = None
    old_left = new_left = 0
    number = 0
    for line in diff.split("\n"):
        if old_left > 0 or new_left > 0:
            tag, content = line[:1], line[1:]
            if tag == "+":
                current = current or _start(files, "")
                current.added.append(content)
                current.numbers.append(number)
                new_left, number = new_left - 1, number + 1
            elif tag == "-":
                old_left -= 1
            elif tag != "\\":  # context (" ", or "" when trailing spaces were stripped); "\ No newline…" counts not
                old_left, new_left, number = old_left - 1, new_left - 1, number + 1
            continue
        if line.startswith("diff --git "):
            current = _start(files, _path_from_header(line))
        elif line.startswith("+++ "):
            name = _unquote(line[4:].removesuffix("\t"))  # git adds a tab after a name with a space
            current = current or _start(files, "")
            if name != "/dev/null":
                current.path = name.removeprefix("b/")
        elif current is not None and (line.startswith("new file mode") or _NEW_NAME.match(line)):
            current.new_name = True
            if match := _NEW_NAME.match(line):
                current.path = _unquote(match.group(1))
        elif match := _HUNK.match(line):
            old_left = int(match.group(1) or "1")
            number, new_left = int(match.group(2)), int(match.group(3) or "1")
    return files


def _start(files: list[_File], path: str) -> _File:
    files.append(_File(path))
    return files[-1]


def _path_from_header(line: str) -> str:
    # "diff --git a/X b/X": the two names are equal unless renamed (then "rename to" and "+++" say better).
    rest = line[len("diff --git ") :]
    if rest.endswith('"'):
        return _unquote(re.findall(r'"(?:[^"\\]|\\.)*"', rest)[-1]).removeprefix("b/")
    half = (len(rest) - 1) // 2
    return rest[half + 1 :].removeprefix("b/")


def _unquote(name: str) -> str:
    """A path as git prints it: C-quoted when it holds special or non-ASCII characters (``"caf\\303\\251"``)."""
    if not (name.startswith('"') and name.endswith('"') and len(name) >= 2):
        return name
    out = bytearray()
    body, i = name[1:-1], 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            if re.fullmatch(r"[0-7]{3}", body[i + 1 : i + 4]):
                out.append(int(body[i + 1 : i + 4], 8))
                i += 4
                continue
            out.extend(bytes([_C_ESCAPES[body[i + 1]]]) if body[i + 1] in _C_ESCAPES else body[i + 1].encode())
            i += 2
            continue
        out.extend(char.encode("utf-8", "surrogateescape"))
        i += 1
    return out.decode("utf-8", "replace")
