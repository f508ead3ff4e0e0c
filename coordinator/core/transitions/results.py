"""What runners report: a successful attempt, a failed one, or a task handed back without using an attempt."""

from __future__ import annotations

from datetime import datetime

from coordinator.core.state import State
from coordinator.core.transitions.attempts import finish_attempt, reported_attempt, superseded
from coordinator.core.transitions.change import Change, Draft, require_mode, short
from coordinator.models import AttemptOutcome, AttemptResult, Task, TaskStatus


def complete(
    state: State, *, task_id: str, runner: str, result: AttemptResult, now: datetime, attempt: int | None = None
) -> Change:
    """Record a successful attempt; the task succeeds unless another runner holds it now or it ended otherwise.

    A late result (the lease expired but nobody else has taken the task) is still accepted: work is never lost.
    That includes a task that failed only because this very attempt's lease expired with no attempts left.
    """
    draft = Draft(state)
    task = draft.get(task_id)
    number = reported_attempt(task, runner, attempt)
    attempts = finish_attempt(task, number, now, outcome=AttemptOutcome.SUCCEEDED, counted=True, result=result)
    if (task.is_terminal and not _failed_by_this_expiry(task, number)) or superseded(task, number):
        updated = task.model_copy(update={"attempts": attempts, "updated_at": now})
        draft.put(updated)
        draft.lines.append(f"record late result of {task_id} attempt {number} by {runner} (task {task.status.value})")
        return draft.change(task=updated)
    updated = task.model_copy(
        update={
            "attempts": attempts,
            "status": TaskStatus.SUCCEEDED,
            "status_reason": None,
            "lease": None,
            "next_mode": None,
            "resume": None,
            "updated_at": now,
        }
    )
    draft.put(updated)
    draft.lines.append(f"complete {task_id} by {runner}, attempt {number}")  # dependents: see Draft.change
    return draft.change(task=updated)


def _failed_by_this_expiry(task: Task, number: int) -> bool:
    """The task failed because attempt ``number``, its last, lost its lease: a late success of that attempt is
    the task's success (nobody else worked on it since)."""
    last = task.attempts[-1] if task.attempts else None
    return (
        task.status == TaskStatus.FAILED
        and last is not None
        and last.number == number
        and last.outcome == AttemptOutcome.LEASE_EXPIRED
    )


def fail(
    state: State,
    *,
    task_id: str,
    runner: str,
    reason: str,
    now: datetime,
    result: AttemptResult | None = None,
    retryable: bool = True,
    counted: bool = True,
    next_mode: str | None = None,
    attempt: int | None = None,
) -> Change:
    """Record a failed attempt. The task is requeued (in ``next_mode`` when escalating) while attempts are left
    and the failure is retryable; otherwise it fails. ``counted=False`` hands the task back without using the
    budget (shutdown, usage limit, a misconfigured runner)."""
    if next_mode is not None:
        require_mode(state.modes, next_mode)
    draft = Draft(state)
    task = draft.get(task_id)
    number = reported_attempt(task, runner, attempt)
    outcome = AttemptOutcome.FAILED if counted else AttemptOutcome.RELEASED
    attempts = finish_attempt(task, number, now, outcome=outcome, counted=counted, reason=reason, result=result)
    updated = task.model_copy(update={"attempts": attempts, "updated_at": now})
    if task.is_terminal or superseded(task, number):
        draft.put(updated)
        draft.lines.append(f"record late failure of {task_id} attempt {number} by {runner}")
        return draft.change(task=updated)
    verb = "fail" if counted else "release"
    if retryable and updated.attempts_left() > 0:
        mode = task.next_mode or next_mode or task.mode  # a person's /escalate wins over the runner's choice
        updated = updated.model_copy(
            update={
                "status": TaskStatus.QUEUED,
                "lease": None,
                "mode": mode,
                "next_mode": None,
                "status_reason": f"attempt {number} {'failed' if counted else 'released'}: {reason}",
            }
        )
        escalation = f", escalate {task.mode} -> {mode}" if mode != task.mode else ""
        draft.lines.append(f"{verb} {task_id} attempt {number} by {runner}, requeue{escalation}: {short(reason)}")
    else:
        why = reason if not retryable else f"attempts exhausted: {reason}"
        updated = updated.model_copy(update={"status": TaskStatus.FAILED, "lease": None, "status_reason": why})
        draft.lines.append(f"{verb} {task_id} attempt {number} by {runner}, task failed: {short(reason)}")
    draft.put(updated)
    return draft.change(task=updated)


def release(state: State, *, task_id: str, runner: str, reason: str, now: datetime) -> Change:
    """Hand a leased task back to the queue without using up an attempt."""
    return fail(state, task_id=task_id, runner=runner, reason=reason, now=now, counted=False)
