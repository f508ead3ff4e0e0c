"""What a plan means on GitHub: its issue's one tracking comment follows its subtasks (which have no issue of
their own), and its end gets the final report there and one pull request from the plan's integrated branch. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from coordinator.core.deliveries import work_commit
from coordinator.core.state import State
from coordinator.models import DELIVERY_ORDER, GitHubLink, Task, TaskStatus


def on_plan_end(plan: Task, now: datetime) -> Task:
    """``plan`` (just ended, its report written) as it must be stored so its GitHub delivery happens: the
    tracking comment (the final report) and the status label, and, when the plan left an integrated commit
    (``plan.report.head``), the push of it to the plan's branch and the one pull request (as ``pr_policy`` says).
    A plan of no issue (or one whose trigger was refused) is returned as it is."""
    link = plan.github
    if link is None or link.refused is not None:
        return plan
    head = work_commit(plan)  # the integrated branch's commit, never the planning attempt's
    kinds = {*link.pending, "comment", "labels"}
    if head is not None and link.pushed != head and plan.status in (TaskStatus.SUCCEEDED, TaskStatus.FAILED):
        kinds.add("push")
    opens = link.pr_policy in ("draft", "ready") and link.pull_number is None
    if head is not None and plan.status == TaskStatus.SUCCEEDED and opens:
        kinds.add("pull")
    del now  # due at once: the backoff restarts (a wait GitHub itself asked for is kept)
    return plan.model_copy(update={"github": _due(link, kinds)})


def plans_told_of(state: State, changed: Mapping[str, Task]) -> list[Task]:
    """The plans of GitHub issues whose tracking comment must show a change of one of their subtasks' status in
    ``changed`` (the subtasks have no issue: the plan's comment shows them), with the comment marked pending."""
    told: dict[str, Task] = {}
    for task in changed.values():
        before = state.tasks.get(task.id)
        if task.parent is None or (before is not None and before.status == task.status):
            continue
        plan = told.get(task.parent) or changed.get(task.parent) or state.tasks.get(task.parent)
        if plan is None or plan.github is None or plan.github.refused is not None:
            continue
        link = plan.github
        told[plan.id] = plan.model_copy(update={"github": _due(link, {*link.pending, "comment"})})
    return list(told.values())


def children_of(tasks: Iterable[Task], plan: Task) -> list[Task]:
    """A plan's children (subtasks, verify and fix children) in the order the plan made them (its
    ``depends_on``); any it no longer lists (an earlier plan's, before a replan) first, by number."""
    made = {task_id: n for n, task_id in enumerate(plan.depends_on)}
    found = [t for t in tasks if t.parent == plan.id]
    return sorted(found, key=lambda t: (made.get(t.id, -1), _number(t.id[len(plan.id) + 1 :]), t.id))


def _number(suffix: str) -> int:
    return int(suffix) if suffix.isdigit() else 0


def _due(link: GitHubLink, kinds: set[str]) -> GitHubLink:
    """``link`` with ``kinds`` pending, due at once (a new revision, the backoff restarted)."""
    return link.model_copy(
        update={
            "pending": [k for k in DELIVERY_ORDER if k in kinds],
            "revision": link.revision + 1,
            "delivery_attempts": 0,
            "retry_at": None,
        }
    )
