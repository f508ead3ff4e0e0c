"""What an ``issues`` event means for the issue's task, decided from the event and the state branch alone (pure).

- ``opened`` or ``labeled`` with the trigger label → a task ``issue-<number>``; a new round when it had ended.
  With the plan label (``claude:plan``) instead → the same, as a plan (its first attempt splits the work).
- ``reopened`` with the trigger (or plan) label on → the same.
- ``edited`` while the task waits → it takes the new title and body.
- ``labeled``/``unlabeled`` of another label while the task waits → it takes the labels' settings.
- ``closed``, or the trigger label removed (the plan label, from a plan) → the task is cancelled (a running agent
  stops).
- anything else → ignored, saying why; so is every event for an id ``issue-<number>`` that holds no task of this
  very issue (made by hand, or of another repository sharing the state branch, or a copy of another issue's task).

Everything that creates or changes what would run needs the sender's write access (the gate, checked on
GitHub by the caller); cancelling needs none: closing or unlabelling an issue never makes anything run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from coordinator.github.events import IssuesEvent
from coordinator.models import GitHubConfig, GitHubLink, Task, TaskStatus

Action = Literal["ignore", "submit", "retrigger", "update-text", "update-labels", "cancel"]
_WAITING = (TaskStatus.QUEUED, TaskStatus.BLOCKED)


@dataclass(frozen=True)
class Plan:
    """What to do (``action``) with task ``task_id``, and why (said in the ingest's output)."""

    action: Action
    task_id: str
    why: str
    #: A ``submit`` or ``retrigger`` of the plan label: the task is a plan.
    as_plan: bool = False

    @property
    def gated(self) -> bool:
        """Whether the sender must have write access for this to happen."""
        return self.action in ("submit", "retrigger", "update-text", "update-labels")


def task_id_of(issue: int) -> str:
    """The id of an issue's task: ``issue-<number>``."""
    return f"issue-{issue}"


def trigger_time(event: IssuesEvent) -> datetime:
    """When the trigger happened: the issue's creation for ``opened``, its last update (the label or the
    reopening) otherwise."""
    return event.issue.created_at if event.action == "opened" else event.issue.updated_at


def plan(event: IssuesEvent, task: Task | None, config: GitHubConfig, *, follow_ups_active: bool = False) -> Plan:
    """What ``event`` asks of the issue's task (``task``: as the state branch has it, or None);
    ``follow_ups_active``: follow-ups of it wait or run (closing the issue cancels them too)."""
    tid = task_id_of(event.issue.number)
    label = config.trigger_label
    labelled = label in event.issue.labels or config.plan_label in event.issue.labels
    if task is not None and task.github is None:
        return Plan("ignore", tid, f"task {tid} exists but was not made from an issue; rename it to use this issue")
    if task is not None and task.github is not None and not _same_issue(task.github, event):
        held = f"issue #{task.github.issue} of {task.github.repository}"
        return Plan("ignore", tid, f"task {tid} is the task of {held}, not of this issue; nothing is done to it")
    action = event.action
    if action in ("opened", "labeled", "reopened"):
        given = [event.label] if action == "labeled" else event.issue.labels  # labeled: that label alone counts
        if label in given or config.plan_label in given:
            return _trigger(event, task, tid, as_plan=config.plan_label in given)
        if action == "labeled" and labelled and _waiting(task):
            return Plan("update-labels", tid, f"label '{event.label}' added while {tid} waits")
        return Plan("ignore", tid, f"no '{label}' label on issue #{event.issue.number}")
    if action == "unlabeled":
        if event.label == label or (event.label == config.plan_label and task is not None and task.kind == "plan"):
            return _cancel(task, tid, f"label '{event.label}' removed", follow_ups_active)
        if labelled and _waiting(task):
            return Plan("update-labels", tid, f"label '{event.label}' removed while {tid} waits")
        return Plan("ignore", tid, f"label '{event.label}' is not the trigger label")
    if action == "closed":
        return _cancel(task, tid, "the issue was closed", follow_ups_active)
    if action == "edited":
        if labelled and _waiting(task):
            return Plan("update-text", tid, f"issue #{event.issue.number} edited while {tid} waits")
        return Plan("ignore", tid, "edits count only while the task waits for a runner")
    return Plan("ignore", tid, f"coordinator does not act on issues.{action}")


def _trigger(event: IssuesEvent, task: Task | None, tid: str, *, as_plan: bool) -> Plan:
    if event.issue.state != "open":
        return Plan("ignore", tid, f"issue #{event.issue.number} is closed")
    what = "planning of issue" if as_plan else "issue"
    if task is None:
        return Plan("submit", tid, f"{what} #{event.issue.number} triggered by {event.sender.login}", as_plan)
    assert task.github is not None
    if not task.is_terminal:
        return Plan("ignore", tid, f"{tid} is {task.status.value} already")
    trigger = task.github.trigger
    if (event.delivery and event.delivery == trigger.delivery) or trigger_time(event) <= trigger.at:
        return Plan("ignore", tid, f"this trigger was handled already ({tid} is {task.status.value})")
    again = "triggered again as a plan" if as_plan else "triggered again"
    return Plan("retrigger", tid, f"{tid} was {task.status.value}; {again} by {event.sender.login}", as_plan)


def _cancel(task: Task | None, tid: str, why: str, follow_ups_active: bool) -> Plan:
    if task is None or (task.is_terminal and not follow_ups_active):
        return Plan("ignore", tid, f"{why}; no task of it is waiting or running")
    return Plan("cancel", tid, why)


def _same_issue(link: GitHubLink, event: IssuesEvent) -> bool:
    """Whether ``link`` is of the event's issue (repository names compared as GitHub does, without case)."""
    return link.issue == event.issue.number and link.repository.lower() == event.repository.lower()


def _waiting(task: Task | None) -> bool:
    return task is not None and task.status in _WAITING
