"""The GitHub side effects a task change calls for, kept on the task as pending deliveries (an outbox on the
state branch): the change is committed first, GitHub is told afterwards, and whoever sees a delivery pending
(the runner, a later ingest or runner) retries it until GitHub accepts it. Pure functions; no I/O.

Kinds, in delivery order: ``push`` (the task branch), ``pull`` (its pull request), ``comment`` (the tracking
comment, always the full current text), ``labels`` (the status label).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from coordinator.models import DELIVERY_ORDER, GitHubConfig, GitHubLink, Task, TaskStatus

#: The status label's suffix for each task status (a blocked task is still waiting: queued).
STATUS_SUFFIX = {
    TaskStatus.QUEUED: "queued",
    TaskStatus.BLOCKED: "queued",
    TaskStatus.RUNNING: "running",
    TaskStatus.NEEDS_INPUT: "needs-input",
    TaskStatus.SUCCEEDED: "succeeded",
    TaskStatus.FAILED: "failed",
    TaskStatus.CANCELLED: "cancelled",
}
#: How long a process that set up a task may create its tracking comment before others may (if it died).
CREATE_WINDOW = timedelta(minutes=5)
_FIRST_RETRY_SECONDS = 15.0
_LONGEST_RETRY_SECONDS = 3600.0


def status_label(task: Task, config: GitHubConfig) -> str:
    """The status label ``task`` should carry, e.g. ``coordinator:running``."""
    return config.status_label_prefix + STATUS_SUFFIX[task.status]


def needs_person(task: Task) -> str | None:
    """Why ``task`` needs a person (it failed for good: no attempt will be made without one), or None."""
    if task.status != TaskStatus.FAILED:
        return None
    return task.status_reason or "it failed"


def status_labels(config: GitHubConfig) -> set[str]:
    """Every status label coordinator sets (to remove the stale ones)."""
    return {config.status_label_prefix + suffix for suffix in set(STATUS_SUFFIX.values())}


def _visible(task: Task) -> tuple[object, ...]:
    """What the tracking comment shows of ``task``: when it changes, the comment must be edited. Attempts are
    compared whole (a late result adds the summary, cost, model, ... to an attempt that already ended)."""
    shown = (task.status, task.status_reason, task.round, task.mode, task.next_mode, task.priority, task.max_attempts)
    retry = [f for f in task.feedback if f.kind == "retry" and f.round == task.round]
    return (*shown, task.question, tuple(task.attempts), tuple(retry), task.plan)


def work_commit(task: Task) -> str | None:
    """The commit holding the task's latest work in its current round, if any attempt left one; a plan's is its
    integrated branch's, once its report names it (its own attempt only planned)."""
    if task.kind == "plan":
        report = task.plan.report if task.plan is not None else None
        return report.head if report is not None else None
    for attempt in reversed(task.attempts):
        if attempt.round == task.round and attempt.commit:
            return attempt.commit
    return None


def wanted(task: Task, link: GitHubLink, config: GitHubConfig) -> list[str]:
    """The deliveries ``task`` needs now that it is in its current state (before looking at what is pending)."""
    kinds: list[str] = []
    commit = work_commit(task)
    # A failed task's work in progress is pushed for people to look at, except a follow-up's: its branch is the
    # pull request under review, which must not get broken work.
    ended = (TaskStatus.SUCCEEDED,) if task.follow_up is not None else (TaskStatus.SUCCEEDED, TaskStatus.FAILED)
    if task.status in ended and commit and link.pushed != commit:
        kinds.append("push")
    if task.status == TaskStatus.SUCCEEDED and commit and link.pr_policy in ("draft", "ready") and not link.pull_number:
        kinds.append("pull")
    labels_wrong = config.status_labels and link.status_label != status_label(task, config)
    if labels_wrong or link.needs_human != (needs_person(task) is not None):
        kinds.append("labels")
    return kinds


def mark_deliveries(before: Task | None, after: Task, config: GitHubConfig) -> Task:
    """``after`` with the deliveries its change calls for marked pending. Something new to tell GitHub (the
    comment's text changed, or a delivery that was not pending is wanted) restarts the backoff; a change that
    adds nothing (e.g. recording a failed delivery) leaves it alone."""
    link = after.github
    if link is None or link.refused is not None:
        return after
    changed = before is None or _visible(before) != _visible(after)
    fresh = [k for k in wanted(after, link, config) if k not in link.pending]
    if not changed and not fresh:
        return after
    kinds = {*link.pending, *fresh, *(["comment"] if changed else [])}
    updated = link.model_copy(
        update={
            "pending": [k for k in DELIVERY_ORDER if k in kinds],
            "revision": link.revision + 1,
            "delivery_attempts": 0,
            "retry_at": None,
        }
    )
    return after.model_copy(update={"github": updated})


def due(task: Task, now: datetime) -> bool:
    """True when ``task`` has deliveries pending that may be tried now."""
    link = task.github
    if link is None or not link.pending or link.refused is not None:
        return False
    return link.retry_at is None or link.retry_at <= now


def due_for_others(
    task: Task, now: datetime, *, grace: timedelta = timedelta(minutes=2), honour_backoff: bool = True
) -> bool:
    """Pending deliveries someone other than the process that made the change may try now: after a failed try
    (when its backoff ended, or at once with ``honour_backoff`` off: a one-shot process such as an ingest, which
    only runs when GitHub sent an event), or once the change has waited ``grace`` (its maker died)."""
    link = task.github
    if link is None or not link.pending or link.refused is not None:
        return False
    if link.github_wait_until is not None and link.github_wait_until > now:
        return False  # GitHub itself asked to wait (rate limit): nobody calls before then
    if link.retry_at is not None:
        return not honour_backoff or link.retry_at <= now
    return task.updated_at + grace <= now


def next_try(failures: int, now: datetime, retry_after: float | None = None) -> datetime:
    """When to try again after ``failures`` failed tries in a row: exponential backoff (15 s doubling, at most
    an hour), or later when GitHub asked to wait (``Retry-After``, rate-limit reset)."""
    pause = min(_LONGEST_RETRY_SECONDS, _FIRST_RETRY_SECONDS * 2 ** max(0, failures - 1))
    return now + timedelta(seconds=max(pause, retry_after or 0.0))


def holds_creation(link: GitHubLink, who: str, now: datetime) -> bool:
    """Whether ``who`` may create the tracking comment now (it holds the creation window): two processes never
    both create one, as the window is taken by a compare-and-swap commit."""
    return link.creating_by == who and link.creating_until is not None and link.creating_until > now


def creation_free(link: GitHubLink, now: datetime) -> bool:
    """Whether nobody holds the creation window (never taken, or its holder let it lapse: died or gave up)."""
    return link.creating_by is None or link.creating_until is None or link.creating_until <= now
