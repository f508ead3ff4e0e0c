"""An issue's title and body as a task keeps them: visible characters only, within the branch's limits."""

from __future__ import annotations

from coordinator.core.state import State
from coordinator.github.events import IssueCommentEvent, IssuesEvent
from coordinator.github.sanitize import strip_invisible
from coordinator.text import is_unsafe


def issue_title(event: IssuesEvent | IssueCommentEvent, state: State) -> str:
    """The issue's title as a task title: visible characters only, one line, within the branch's limit."""
    flat = " ".join(strip_invisible(event.issue.title).split())
    # What strip_invisible keeps that a title may not hold (unassigned tag characters, lone surrogates) goes too:
    # a writer's trigger must never be dropped for a character nobody can see.
    flat = "".join(ch for ch in flat if not is_unsafe(ch)).strip() or f"Issue #{event.issue.number}"
    limit = state.limits.max_title_chars
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def issue_body(event: IssuesEvent | IssueCommentEvent, state: State) -> str:
    """The issue's body as the event carried it (the text when triggered), cut to the branch's size limit in
    bytes (GitHub allows 65,536 characters, up to four bytes each) with a note saying so when it fits."""
    limit = state.limits.max_body_bytes
    # A lone surrogate (JSON can spell one; GitHub never sends it) becomes "?" rather than dropping the trigger.
    data = event.issue.body.encode("utf-8", "replace")
    if len(data) <= limit:
        return data.decode("utf-8")
    note = f"\n[... the rest of the issue's body is not shown: it is over {limit} bytes]"
    room = limit - len(note.encode("utf-8"))
    if room < len(note):  # a tiny limit: the text is worth more than the note
        return data[:limit].decode("utf-8", "ignore")
    return data[:room].decode("utf-8", "ignore") + note
