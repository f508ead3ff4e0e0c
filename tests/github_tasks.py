"""Tasks of GitHub issues for the tests of the GitHub modules: links, triggers and tasks built directly, and a
state holding an issue task made by the real transition (``submit_issue``), as ``coordinator ingest`` makes it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from coordinator.core import transitions as tr
from coordinator.core.state import State
from coordinator.core.transitions import Change, SubmitRequest
from coordinator.core.transitions.github import (
    DeliveryRecord,
    IssueSettings,
    record_delivery,
    retrigger,
    submit_issue,
)
from coordinator.models import GITHUB_CAPABILITY, AttemptResult, GitHubLink, Source, Task, TaskStatus, Trigger
from tests.core_helpers import NOW, TTL, apply

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


class IssueLife:
    """One issue task's life through the real transitions on one state, the clock one minute further at each
    step; every step returns the task as the step left it."""

    def __init__(self, issue: int = 1, *, github: GitHubLink | None = None, **request: Any) -> None:
        self.now = NOW
        self.state, self.task = submitted(None, issue, now=self.now, github=github, **request)
        self.id = self.task.id
        self.changes: list[Change] = []

    def step(self, transition: Callable[[State, datetime], Change], minutes: float = 1) -> Task:
        """Apply ``transition`` at the next time; the task after it."""
        self.now += timedelta(minutes=minutes)
        change = apply(self.state, transition(self.state, self.now))
        self.changes.append(change)
        self.task = self.state.tasks[self.id]
        return self.task

    def claim(self, runner: str = "runner-a") -> Task:
        return self.step(
            lambda s, now: tr.claim(s, runner=runner, capabilities=[GITHUB_CAPABILITY], lease_ttl=TTL, now=now)
        )

    def complete(self, runner: str = "runner-a", **result: Any) -> Task:
        return self.step(
            lambda s, now: tr.complete(s, task_id=self.id, runner=runner, result=AttemptResult(**result), now=now)
        )

    def fail(self, reason: str = "boom", runner: str = "runner-a", **kw: Any) -> Task:
        return self.step(lambda s, now: tr.fail(s, task_id=self.id, runner=runner, reason=reason, now=now, **kw))

    def release(self, reason: str = "usage limit", runner: str = "runner-a") -> Task:
        return self.step(lambda s, now: tr.release(s, task_id=self.id, runner=runner, reason=reason, now=now))

    def cancel(self, by: str = "alice on GitHub") -> Task:
        return self.step(lambda s, now: tr.cancel(s, task_id=self.id, now=now, by=by))

    def expire(self) -> Task:
        """The lease runs out (nobody renewed it) and another writer requeues the task."""
        return self.step(tr.requeue_expired, minutes=TTL.total_seconds() / 60 + 1)

    def retrigger(self, at: datetime, **settings: Any) -> Task:
        return self.step(
            lambda s, now: retrigger(
                s,
                task_id=self.id,
                trigger=trigger(at=at, delivery=f"delivery-{at:%H%M%S}"),
                title=self.task.title,
                body=self.task.body,
                settings=IssueSettings(**settings),
                now=now,
            )
        )

    def record(self, **record: Any) -> Task:
        """A delivery pass by ``INGEST`` recorded (revision: the task's current one unless given)."""
        assert self.task.github is not None
        record.setdefault("revision", self.task.github.revision)
        return self.step(
            lambda s, now: record_delivery(s, task_id=self.id, by=INGEST, record=DeliveryRecord(**record), now=now)
        )
