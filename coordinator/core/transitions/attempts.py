"""Finding and ending attempts: which attempt a report belongs to, and closing one with its result."""

from __future__ import annotations

from datetime import datetime

from coordinator.errors import InvalidTransition, NotLeaseHolder
from coordinator.models import Attempt, AttemptOutcome, AttemptResult, Task, TaskStatus

#: Fields that say which attempt it is: a reported result may never rewrite them.
_ATTEMPT_IDENTITY = frozenset({"number", "round", "runner", "mode", "outcome", "counted", "reason"})


def finish_attempt(
    task: Task,
    number: int,
    now: datetime,
    *,
    outcome: AttemptOutcome,
    counted: bool,
    reason: str | None = None,
    result: AttemptResult | None = None,
) -> list[Attempt]:
    attempts = list(task.attempts)
    for index, attempt in enumerate(attempts):
        if attempt.number == number:
            update: dict[str, object] = {}
            if result is not None:
                # A result describes what happened, never which attempt it was: identity fields are ours.
                reported = result.model_dump(exclude_none=True, exclude_unset=True)
                update.update({k: v for k, v in reported.items() if k not in _ATTEMPT_IDENTITY})
                # A result's own fields are a subset of Attempt's; reparse nested models.
                attempt = Attempt.model_validate({**attempt.model_dump(), **update})
                update = {}
            # An attempt whose lease expired was already counted; a late "released" must not hand it back.
            counted = counted or attempt.outcome == AttemptOutcome.LEASE_EXPIRED
            update.update({"outcome": outcome, "counted": counted, "finished_at": attempt.finished_at or now})
            if reason is not None:
                update["reason"] = reason
            if attempt.duration_seconds is None and attempt.started_at is not None:
                update["duration_seconds"] = round((now - attempt.started_at).total_seconds(), 3)
            attempts[index] = attempt.model_copy(update=update)
            return attempts
    raise InvalidTransition(task.id, f"has no attempt {number}")


def held_by(task: Task, runner: str) -> bool:
    return task.status == TaskStatus.RUNNING and task.lease is not None and task.lease.runner == runner


def reported_attempt(task: Task, runner: str, attempt: int | None = None) -> int:
    """The attempt a runner's report belongs to.

    ``attempt`` names it explicitly (runners do); otherwise it is the runner's live lease, else the runner's
    latest attempt if that one has not ended yet (its lease may have expired meanwhile). An older attempt is
    never reopened: a repeated or stale report must not overwrite a finished attempt.
    """
    if attempt is None and held_by(task, runner) and task.lease is not None:
        return task.lease.attempt
    mine = [a for a in task.attempts if a.runner == runner]
    if attempt is not None:
        mine = [a for a in mine if a.number == attempt]
    candidate = mine[-1] if mine else None
    if candidate is not None and candidate.outcome in (AttemptOutcome.RUNNING, AttemptOutcome.LEASE_EXPIRED):
        return candidate.number
    which = "attempt" if attempt is None else f"attempt {attempt}"
    ended = f"; its attempt {candidate.number} ended: {candidate.outcome.value}" if candidate is not None else ""
    raise NotLeaseHolder(task.id, f"has no {which} by {runner} to report on ({task.status.value}{ended})")


def superseded(task: Task, attempt: int) -> bool:
    """True when the task is running under a newer attempt than the one reported on (late or stale report)."""
    return task.status == TaskStatus.RUNNING and (task.lease is None or task.lease.attempt != attempt)


def cancelled(task: Task, *, why: str, attempt_reason: str, now: datetime) -> Task:
    """``task`` cancelled with ``why``; a running attempt ends cancelled (counted) with ``attempt_reason``, and its
    agent stops at the runner's next poll or lease renewal."""
    attempts = list(task.attempts)
    if task.status == TaskStatus.RUNNING and task.lease is not None:
        ended = AttemptOutcome.CANCELLED
        attempts = finish_attempt(task, task.lease.attempt, now, outcome=ended, counted=True, reason=attempt_reason)
    update = {"status": TaskStatus.CANCELLED, "lease": None, "attempts": attempts, "status_reason": why}
    return task.model_copy(update={**update, "updated_at": now})
