"""The completion log: the state branch's history read as events (submitted, claimed, attempt outcomes, escalated,
cancelled, locks, deliveries...), derived from the audit lines every transition writes into its commit message,
never kept by hand. Pure: commits in, events out.

A commit message is the transition's lines joined by ``"; "`` (see ``Draft.lines``); each line starts with a verb
this module knows. A line it does not know is kept as an ``other`` event, so nothing in the history is hidden.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

_TASK = r"(?P<task>[^\s:;,()]+)"
_WHO = r"(?P<who>[^,;:()]+?)"
#: (event kind, pattern): the first that matches a line names its event. Order matters where verbs overlap.
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        ("submitted", rf"^submit {_TASK}: (?P<detail>.*)$"),
        ("claimed", rf"^claim {_TASK} by {_WHO}, attempt (?P<attempt>\d+) \((?P<detail>[^)]*)\)$"),
        ("succeeded", rf"^complete {_TASK} by {_WHO}, attempt (?P<attempt>\d+)$"),
        (
            "escalated",
            rf"^(?:fail|release) {_TASK} attempt (?P<attempt>\d+) by {_WHO}, requeue, escalate (?P<detail>\S+ -> \S+):",
        ),
        ("attempt failed", rf"^fail {_TASK} attempt (?P<attempt>\d+) by {_WHO}, requeue: (?P<detail>.*)$"),
        ("handed back", rf"^release {_TASK} attempt (?P<attempt>\d+) by {_WHO}, requeue: (?P<detail>.*)$"),
        ("failed", rf"^(?:fail|release) {_TASK} attempt (?P<attempt>\d+) by {_WHO}, task failed: (?P<detail>.*)$"),
        ("lease expired", rf"^requeue {_TASK} \(lease of {_WHO} expired\)$"),
        ("failed", rf"^fail {_TASK} \((?P<detail>.*)\)$"),
        ("cancelled", rf"^cancel {_TASK} by (?P<who>.+)$"),
        ("cancelled", rf"^cancel {_TASK} \((?P<detail>(?:dependency|run|its plan) .*)\)$"),
        ("pipeline run", r"^run pipeline (?P<detail>\S+ #\d+) by (?P<who>[^:]+): (?P<why>.*)$"),
        ("waits again", rf"^wait again {_TASK} \((?P<detail>.*)\)$"),
        ("retried", rf"^retry {_TASK} by {_WHO}, round (?P<detail>\d+)$"),
        ("retriggered", rf"^retrigger {_TASK} by {_WHO}, round (?P<detail>\d+)"),
        ("unblocked", rf"^unblock {_TASK}$"),
        ("planned", rf"^plan {_TASK} by {_WHO}, attempt (?P<attempt>\d+)$"),
        ("subtasks queued", rf"^enqueue (?P<detail>\d+ subtasks) of {_TASK}: (?P<why>.*)$"),
        ("checks queued", rf"^enqueue (?P<detail>\S+(?:, \S+)*) of plan {_TASK} \((?P<why>.*)\)$"),
        ("plan ended", rf"^plan {_TASK} (?P<detail>succeeded|failed)(?:: (?P<why>.*))?$"),
        ("plan reopened", rf"^reopen plan {_TASK} \((?P<detail>.*)\)$"),
        ("plan proposed", rf"^propose (?P<detail>\d+ subtasks) of {_TASK} for approval: (?P<why>.*)$"),
        ("plan approved", rf"^approve plan {_TASK} by (?P<who>.+)$"),
        ("replanned", rf"^replan {_TASK} by {_WHO}, round (?P<detail>\d+)$"),
        ("asked", rf"^question from {_TASK} attempt (?P<attempt>\d+) by {_WHO}: (?P<detail>.*)$"),
        ("answered", rf"^answer for {_TASK} by (?P<who>.+)$"),
        ("escalated", rf"^escalate {_TASK} to (?P<detail>\S+) by (?P<who>.+)$"),
        ("commented", rf"^feedback for {_TASK} by (?P<who>.+)$"),
        ("priority", rf"^priority of {_TASK} (?P<detail>\S+ -> \S+) by {_WHO}:"),
        ("delivered", rf"^github {_TASK}: delivered (?P<detail>.*)$"),
        ("lock acquired", r"^acquire lock (?P<lock>\S+) by (?P<who>.+) for (?P<detail>\d+s.*)$"),
        ("lock renewed", r"^renew lock (?P<lock>\S+) by (?P<who>.+) for (?P<detail>\d+s)$"),
        ("lock released", r"^release lock (?P<lock>\S+) by (?P<who>.+)$"),
        ("lock forced", r"^force-release lock (?P<lock>\S+) held by (?P<detail>.+?) by (?P<who>[^:]+): (?P<why>.*)$"),
    )
)


@dataclass(frozen=True)
class Commit:
    """One commit of the state branch: its id, author (the writing process), time and message."""

    sha: str
    author: str
    at: datetime
    message: str


@dataclass(frozen=True)
class Event:
    """Something that happened, as the history tells it."""

    kind: str
    at: datetime
    commit: str
    line: str
    task: str | None = None
    who: str | None = None
    attempt: int | None = None
    detail: str | None = None
    lock: str | None = None


def events(commits: Iterable[Commit]) -> list[Event]:
    """The events of ``commits``, in the order given (newest first when the commits are)."""
    found: list[Event] = []
    for commit in commits:
        found += [_event(line, commit) for line in _lines(commit.message)]
    return found


def _lines(message: str) -> list[str]:
    """The audit lines of a message. A line's own text may hold ``"; "`` (a failure reason): a piece that does not
    start with a known verb belongs to the line before it."""
    pieces = " ".join(message.split("\n")).split("; ")
    lines: list[str] = []
    for piece in pieces:
        if lines and not any(pattern.match(piece) for _, pattern in _PATTERNS) and not _verb_like(piece):
            lines[-1] += "; " + piece
        else:
            lines.append(piece)
    return [line.strip() for line in lines if line.strip()]


def _verb_like(piece: str) -> bool:
    """Lines coordinator writes that this module does not turn into events start with a lower-case verb."""
    word = piece.split(" ", 1)[0]
    return word in {"record", "repair", "update", "init", "set", "github"} or piece.startswith("set ")


def _event(line: str, commit: Commit) -> Event:
    for kind, pattern in _PATTERNS:
        match = pattern.match(line)
        if match is None:
            continue
        groups = match.groupdict()
        detail = groups.get("detail")
        if groups.get("why"):
            detail = f"{detail}: {groups['why']}" if detail else groups["why"]
        attempt = groups.get("attempt")
        return Event(
            kind=kind,
            at=commit.at,
            commit=commit.sha,
            line=line,
            task=groups.get("task"),
            who=(groups.get("who") or "").strip() or None,
            attempt=int(attempt) if attempt else None,
            detail=detail,
            lock=groups.get("lock"),
        )
    return Event(kind="other", at=commit.at, commit=commit.sha, line=line, who=commit.author)


def about(found: Iterable[Event], task_id: str) -> list[Event]:
    """The events of one task."""
    return [e for e in found if e.task == task_id]
