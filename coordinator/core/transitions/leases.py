"""Leases: claiming the best task, renewing a lease, and requeueing tasks whose runner stopped renewing."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import replace
from datetime import datetime, timedelta

from coordinator.core.scheduling import permission_refusal, pick_next
from coordinator.core.spend import budget_notes, budget_refusal
from coordinator.core.state import State
from coordinator.core.transitions.attempts import finish_attempt, held_by
from coordinator.core.transitions.change import Change, Draft, short
from coordinator.core.transitions.feedback import last_seq
from coordinator.errors import NotLeaseHolder
from coordinator.models import Attempt, AttemptOutcome, Lease, Runner, RunnerState, Task, TaskStatus

#: Judges whether a running task's lease has expired at ``now``. Writers pass their own judge (the store's
#: :class:`~coordinator.store.leasewatch.LeaseWatch`, which does not trust another machine's clock); without one,
#: ``expires_at`` is compared with ``now``.
ExpiryJudge = Callable[[Task, datetime], bool]


def by_the_clock(task: Task, now: datetime) -> bool:
    """The lease expired by ``now``'s clock (the pure rule; tests and tools without observations use it)."""
    return task.lease is not None and task.lease.expires_at <= now


def expire_leases(draft: Draft, now: datetime, expired: ExpiryJudge | None = None) -> None:
    """Requeue (or fail, when the budget is spent) every running task whose lease has expired."""
    judge = expired or by_the_clock
    for task in draft.state.running_tasks():
        task = draft.get(task.id)
        if task.status != TaskStatus.RUNNING or task.lease is None or not judge(task, now):
            continue
        holder = task.lease.runner
        attempts = finish_attempt(
            task,
            task.lease.attempt,
            now,
            outcome=AttemptOutcome.LEASE_EXPIRED,
            counted=True,
            reason=f"lease of {holder} expired at {task.lease.expires_at.isoformat()}",
        )
        updated = task.model_copy(update={"attempts": attempts, "lease": None, "updated_at": now})
        if updated.attempts_left() > 0:
            updated = updated.model_copy(
                update={
                    "status": TaskStatus.QUEUED,
                    "status_reason": f"requeued: lease of {holder} expired",
                    "mode": task.next_mode or task.mode,
                    "next_mode": None,
                }
            )
            draft.lines.append(f"requeue {task.id} (lease of {holder} expired)")
        else:
            updated = updated.model_copy(
                update={
                    "status": TaskStatus.FAILED,
                    "status_reason": f"attempts exhausted: lease of {holder} expired",
                }
            )
            draft.lines.append(f"fail {task.id} (lease of {holder} expired, no attempts left)")
        draft.put(updated)


def requeue_expired(state: State, now: datetime, expired: ExpiryJudge | None = None) -> Change:
    """Requeue tasks whose runner stopped renewing its lease (any writer may do this)."""
    draft = Draft(state)
    expire_leases(draft, now, expired)
    return draft.change()


def claim(
    state: State,
    *,
    runner: str,
    capabilities: Collection[str],
    lease_ttl: timedelta,
    now: datetime,
    heartbeat: Runner | None = None,
    after: Change | None = None,
    max_permission_mode: str | None = None,
    expired: ExpiryJudge | None = None,
) -> Change:
    """Requeue expired leases, then lease the best claimable task to ``runner`` (``change.task`` is it, or None).

    ``after`` is a change computed on the same state that goes into the same commit (a runner reports a result
    and claims its next task at once): the claim sees its effects (the finished task, unblocked dependents).
    A runner allowing at most ``max_permission_mode`` is never given a task whose mode needs more; such a task
    that no live runner allows is failed with the reason, rather than left waiting forever. ``expired`` judges
    leases (see :data:`ExpiryJudge`). Once today's spend reached the daily cap nothing is leased and
    ``change.refused`` says why (see :mod:`coordinator.core.spend`).
    """
    draft = Draft(state)
    if after is not None:
        draft.changed.update({t.id: t for t in after.tasks})
        draft.lines.append(after.message)
    expire_leases(draft, now, expired)
    # The cost this very commit records (a result reported with the claim) counts against today's cap too.
    over_budget = budget_refusal(state, now, pending=draft.changed.values())
    refused: list[Task] = []
    task = None
    if over_budget is None:
        task = pick_next(
            state,
            capabilities=capabilities,
            now=now,
            changed=draft.changed,
            max_permission_mode=max_permission_mode,
            refused=refused,
            runner=runner,
        )
    _fail_unrunnable(draft, refused, now, claimer=runner)
    for noted in budget_notes(state, now, held=over_budget is not None):
        if noted.id not in draft.changed:
            draft.put(noted)
    claimed: Task | None = None
    if task is not None:
        claimed = _leased(task, runner, lease_ttl, now)
        draft.put(claimed)
        # The audit log reads in order: a reported result first, then the claim, then any requeues.
        draft.lines.insert(
            1 if after is not None else 0, f"claim {task.id} by {runner}, attempt {len(claimed.attempts)} ({task.mode})"
        )
    runners: tuple[Runner, ...] = after.runners if after is not None else ()
    if heartbeat is not None and (claimed is not None or draft.changed):
        running = sorted({*heartbeat.running, *([claimed.id] if claimed else [])})
        mine = heartbeat.model_copy(update={"last_heartbeat": now, "running": running})
        runners = (*[r for r in runners if r.name != mine.name], mine)
    change = draft.change(task=claimed, runners=runners, meta=after.meta if after is not None else None)
    return replace(change, refused=over_budget) if over_budget is not None else change


def _leased(task: Task, runner: str, lease_ttl: timedelta, now: datetime) -> Task:
    """``task`` leased to ``runner`` for a new attempt."""
    number = len(task.attempts) + 1
    attempt = Attempt(
        number=number, round=task.round, runner=runner, mode=task.mode, started_at=now, feedback_seen=last_seq(task)
    )
    lease = Lease(runner=runner, attempt=number, acquired_at=now, expires_at=now + lease_ttl)
    return task.model_copy(
        update={
            "status": TaskStatus.RUNNING,
            "status_reason": None,
            "lease": lease,
            "attempts": [*task.attempts, attempt],
            "updated_at": now,
        }
    )


def renew(state: State, *, task_id: str, runner: str, lease_ttl: timedelta, now: datetime) -> Change:
    """Extend ``runner``'s lease; raises ``NotLeaseHolder`` when the lease is gone (cancelled or reclaimed)."""
    task = Draft(state).get(task_id)
    if not held_by(task, runner) or task.lease is None:
        raise NotLeaseHolder(task_id, f"is not leased to {runner} any more ({task.status.value})")
    lease = task.lease.model_copy(update={"expires_at": now + lease_ttl, "renewed_at": now})
    updated = task.model_copy(update={"lease": lease, "updated_at": now})
    return Change(message=f"renew {task_id} lease of {runner}", tasks=(updated,), task=updated)


def _fail_unrunnable(draft: Draft, refused: list[Task], now: datetime, *, claimer: str) -> None:
    """Fail queued tasks passed over for their permission mode when no live runner allows that mode."""
    state = draft.state
    live = [
        r
        for r in state.runners.values()
        if r.name != claimer and r.state != RunnerState.STOPPED and not r.is_silent(now)
    ]
    for seen in refused:
        task = draft.get(seen.id)
        if task.status != TaskStatus.QUEUED:
            continue
        if any(permission_refusal(task, state.modes, r.max_permission_mode) is None for r in live):
            continue
        mode = state.modes.modes[task.mode]
        reason = (
            f"no live runner allows its mode {task.mode} (permission_mode {mode.permission_mode}): raise "
            f"max_permission_mode in a runner's config, or run 'coordinator retry {task.id} --mode MODE'"
        )
        draft.put(task.model_copy(update={"status": TaskStatus.FAILED, "status_reason": reason, "updated_at": now}))
        draft.lines.append(f"fail {task.id} ({short(reason)})")
