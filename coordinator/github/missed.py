"""Triggers whose own event never reached ``coordinator ingest``.

GitHub keeps one pending workflow run per concurrency group and drops an older pending one: when an issue is
labelled and then edited (or labelled again with another label) while an earlier run of that issue is still going,
the run of the ``labeled`` event can be dropped, and the label would never become a task. So an event that is
ignored on an open issue carrying the trigger (or the plan) label, whose task is missing or ended before that
label, looks at the issue's events (one call) for the label's latest application and, when it is recent, handles
it as the
``labeled`` event it was (with the gate on whoever applied it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from coordinator.github.api import IssueEvent
from coordinator.github.events import IssuesEvent, User
from coordinator.models import GitHubConfig, Task

#: A label applied longer ago than this is not taken for a missed trigger (it predates the workflow, say).
RECENT = timedelta(hours=1)


def may_have_missed(event: IssuesEvent, task: Task | None, config: GitHubConfig) -> bool:
    """Whether ``event`` (which the plan ignores) is on an issue whose trigger may have gone missing."""
    labels = (config.trigger_label, config.plan_label)
    if event.issue.state != "open" or not any(label in event.issue.labels for label in labels):
        return False
    return task is None or (task.is_terminal and task.github is not None)


def latest_trigger(
    events: Sequence[IssueEvent], task: Task | None, config: GitHubConfig, now: datetime
) -> IssueEvent | None:
    """The latest application of the trigger label (or the plan label), when it is recent, still in force and newer
    than the task's trigger; else None."""
    found: list[IssueEvent] = []
    for label in (config.trigger_label, config.plan_label):
        changes = [e for e in events if e.event in ("labeled", "unlabeled") and e.label == label]
        if changes and changes[-1].event == "labeled":
            found.append(changes[-1])
    if not found:
        return None
    last = max(found, key=lambda e: e.created_at)
    if now - last.created_at > RECENT:
        return None
    if task is not None and task.github is not None and last.created_at <= task.github.trigger.at:
        return None
    return last


def as_labeled(event: IssuesEvent, found: IssueEvent) -> IssuesEvent:
    """The ``labeled`` event GitHub sent but coordinator never received, rebuilt from the issue's timeline."""
    return replace(
        event,
        action="labeled",
        label=found.label,
        sender=User(found.actor),
        issue=replace(event.issue, updated_at=found.created_at),
        delivery=None,
    )
