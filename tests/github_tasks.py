"""Tasks of GitHub issues for the tests of the GitHub modules: links, triggers and tasks built directly, and a
state holding an issue task made by the real transition (``submit_issue``), as ``coordinator ingest`` makes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from coordinator.core.state import State
from coordinator.core.transitions import SubmitRequest
from coordinator.core.transitions.github import submit_issue
from coordinator.models import GitHubLink, Source, Task, TaskStatus, Trigger
from tests.core_helpers import NOW, apply

REPO = "Codertocat/Hello-World"
#: When the recorded ``issues.labeled`` payload says the issue was labelled (its ``updated_at``).
LABELLED_AT = datetime(2019, 5, 15, 15, 20, 18, tzinfo=UTC)
INGEST = "ingest-1#abcd"


def trigger(**fields: Any) -> Trigger:
    """The trigger of a task: Codertocat labelled it ``claude`` at ``LABELLED_AT`` unless told otherwise."""
    values: dict[str, Any] = {
        "actor": "Codertocat",
        "actor_id": 21031067,
        "permission": "admin",
        "event": "issues.labeled",
        "delivery": "delivery-1",
        "label": "claude",
        "at": LABELLED_AT,
    }
    return Trigger(**(values | fields))


def link(issue: int = 1, *, repository: str = REPO, **fields: Any) -> GitHubLink:
    """A task's GitHub link; ``trigger`` may be given as a :class:`Trigger` or as a dict of its changes."""
    made = fields.pop("trigger", None)
    the_trigger = made if isinstance(made, Trigger) else trigger(**(made or {}))
    url = f"https://github.com/{repository}/issues/{issue}"
    return GitHubLink(repository=repository, issue=issue, url=fields.pop("url", url), trigger=the_trigger, **fields)


def issue_task(
    issue: int = 1,
    *,
    status: TaskStatus = TaskStatus.QUEUED,
    github: GitHubLink | None = None,
    **fields: Any,
) -> Task:
    """A task of issue ``issue`` built directly (no transition ran), e.g. to plan an event against."""
    fields.setdefault("title", "Spelling error in the README file")
    fields.setdefault("created_at", NOW)
    fields.setdefault("updated_at", NOW)
    return Task(id=f"issue-{issue}", status=status, github=github or link(issue), **fields)


def submitted(
    state: State | None = None,
    issue: int = 1,
    *,
    now: datetime = NOW,
    github: GitHubLink | None = None,
    **request: Any,
) -> tuple[State, Task]:
    """``state`` (default: an empty one) with the task of issue ``issue`` submitted as ingest does it."""
    state = state if state is not None else State.build()
    the_link = github or link(issue)
    request.setdefault("title", "Spelling error in the README file")
    source = Source(kind="github-issue", actor=the_link.trigger.actor, repository=the_link.repository, issue=issue)
    change = submit_issue(
        state,
        SubmitRequest(task_id=f"issue-{issue}", github=the_link, source=source, **request),
        by=INGEST,
        now=now,
    )
    apply(state, change)
    assert change.task is not None
    return state, change.task


def later(minutes: float) -> datetime:
    """``LABELLED_AT`` plus ``minutes``."""
    return LABELLED_AT + timedelta(minutes=minutes)
