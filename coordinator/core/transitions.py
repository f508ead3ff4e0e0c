"""Pure state transitions: functions of ``(state, request, now)`` that return a ``Change``.

A transition never mutates the state and performs no I/O; the store commits the returned change atomically
(one commit, compare-and-swap push) or, when another writer won the race, calls the transition again on the
newer state. Invariants kept here: at most one live lease per task, attempts only grow, and no automatic
transition leaves a terminal status (only an explicit ``retry`` revives a failed or cancelled task).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from coordinator.core.scheduling import pick_next
from coordinator.core.state import State
from coordinator.errors import InvalidTransition, NotLeaseHolder, TaskNotFound, UsageError
from coordinator.ids import check_name
from coordinator.models import (
    Attempt,
    AttemptOutcome,
    AttemptResult,
    BranchConfig,
    Lease,
    Meta,
    Priority,
    Runner,
    Source,
    Task,
    TaskStatus,
)
from coordinator.modes import ModesConfig

_TITLE_IN_MESSAGE = 60
_ATTEMPT_IDENTITY = frozenset({"number", "round", "runner", "mode", "outcome", "counted", "reason"})


@dataclass(frozen=True)
class Change:
    """Files to write in one commit, the commit message, and the task the caller asked about."""

    message: str
    tasks: tuple[Task, ...] = ()
    runners: tuple[Runner, ...] = ()
    meta: Meta | None = None
    task: Task | None = None
    config: BranchConfig | None = None

    @property
    def empty(self) -> bool:
        """True when nothing needs committing."""
        return not self.tasks and not self.runners and self.meta is None and self.config is None


@dataclass
class _Draft:
    """Tasks changed so far by one transition, in order, and the lines of its commit message."""

    state: State
    changed: dict[str, Task] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)

    def get(self, task_id: str) -> Task:
        task = self.changed.get(task_id) or self.state.tasks.get(task_id)
        if task is None:
            raise TaskNotFound(task_id)
        return task

    def put(self, task: Task) -> None:
        self.changed[task.id] = task

    def change(self, *, task: Task | None = None, runners: tuple[Runner, ...] = (), meta: Meta | None = None) -> Change:
        return Change(
            message="; ".join(self.lines),
            tasks=tuple(self.changed.values()),
            runners=runners,
            meta=meta,
            task=task,
        )


def _short(title: str) -> str:
    title = " ".join(title.split())
    return title if len(title) <= _TITLE_IN_MESSAGE else title[: _TITLE_IN_MESSAGE - 1] + "…"


@dataclass(frozen=True)
class SubmitRequest:
    """What a person (or the GitHub integration) asks for."""

    title: str
    body: str = ""
    priority: Priority = Priority.MEDIUM
    mode: str | None = None
    requires: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    deadline: datetime | None = None
    max_attempts: int = 3
    source: Source = field(default_factory=Source)
    group: str | None = None
    task_id: str | None = None


def submit(state: State, request: SubmitRequest, now: datetime) -> Change:
    """Add a task: queued, or blocked while any dependency has not succeeded."""
    title = request.title.strip()
    if not title:
        raise UsageError("the task title is empty: give a short title, e.g. coordinator submit 'Fix the login bug'")
    mode = request.mode or state.modes.default_mode
    if mode not in state.modes.modes:
        raise UsageError(f"unknown mode '{mode}': use one of {', '.join(sorted(state.modes.modes))}")
    if not 1 <= request.max_attempts <= 100:
        raise UsageError(f"--max-attempts must be between 1 and 100, not {request.max_attempts}")
    for cap in request.requires:
        _check(partial(check_name, "capability", cap))
    missing = [dep for dep in request.depends_on if dep not in state.tasks]
    if missing:
        raise UsageError(f"unknown dependency {', '.join(missing)}: run 'coordinator list' to see the task ids")

    meta = state.meta
    if request.task_id is not None:
        task_id = _check(lambda: check_name("task id", request.task_id or ""))
        if task_id in state.tasks or task_id in state.problems:
            raise UsageError(f"task '{task_id}' exists already: run 'coordinator show {task_id}'")
        new_meta = None
    else:
        number = meta.next_task_number
        while f"task-{number}" in state.tasks or f"task-{number}" in state.problems:
            number += 1
        task_id = f"task-{number}"
        new_meta = meta.model_copy(update={"next_task_number": number + 1})

    waiting = [dep for dep in dict.fromkeys(request.depends_on) if state.tasks[dep].status != TaskStatus.SUCCEEDED]
    source = request.source if request.source.at is not None else request.source.model_copy(update={"at": now})
    task = Task(
        id=task_id,
        title=title,
        body=request.body,
        source=source,
        group=request.group,
        priority=request.priority,
        deadline=request.deadline,
        created_at=now,
        updated_at=now,
        mode=mode,
        requested_mode=mode,
        requires=sorted(set(request.requires)),
        depends_on=list(dict.fromkeys(request.depends_on)),
        max_attempts=request.max_attempts,
        status=TaskStatus.BLOCKED if waiting else TaskStatus.QUEUED,
        status_reason=f"waiting for {', '.join(waiting)}" if waiting else None,
    )
    draft = _Draft(state)
    draft.put(task)
    draft.lines.append(f"submit {task_id}: {_short(title)}")
    return draft.change(task=task, meta=new_meta)


def _check(validate: Callable[[], str]) -> str:
    try:
        return validate()
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _expire_leases(draft: _Draft, now: datetime) -> None:
    """Requeue (or fail, when the budget is spent) every running task whose lease has expired."""
    for task in draft.state.running_tasks():
        task = draft.get(task.id)
        if task.status != TaskStatus.RUNNING or task.lease is None or task.lease.expires_at > now:
            continue
        holder = task.lease.runner
        attempts = _finish_attempt(
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
                update={"status": TaskStatus.QUEUED, "status_reason": f"requeued: lease of {holder} expired"}
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


def _finish_attempt(
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


def requeue_expired(state: State, now: datetime) -> Change:
    """Requeue tasks whose runner stopped renewing its lease (any writer may do this)."""
    draft = _Draft(state)
    _expire_leases(draft, now)
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
) -> Change:
    """Requeue expired leases, then lease the best claimable task to ``runner`` (``change.task`` is it, or None).

    ``after`` is a change computed on the same state that goes into the same commit (a runner reports a result
    and claims its next task at once): the claim sees its effects (the finished task, unblocked dependents).
    """
    draft = _Draft(state)
    if after is not None:
        draft.changed.update({t.id: t for t in after.tasks})
        draft.lines.append(after.message)
    _expire_leases(draft, now)
    task = pick_next(state, capabilities=capabilities, now=now, changed=draft.changed)
    claimed: Task | None = None
    if task is not None:
        number = len(task.attempts) + 1
        attempt = Attempt(number=number, round=task.round, runner=runner, mode=task.mode, started_at=now)
        lease = Lease(runner=runner, attempt=number, acquired_at=now, expires_at=now + lease_ttl)
        claimed = task.model_copy(
            update={
                "status": TaskStatus.RUNNING,
                "status_reason": None,
                "lease": lease,
                "attempts": [*task.attempts, attempt],
                "updated_at": now,
            }
        )
        draft.put(claimed)
        # The audit log reads in order: a reported result first, then the claim, then any requeues.
        draft.lines.insert(
            1 if after is not None else 0, f"claim {task.id} by {runner}, attempt {number} ({task.mode})"
        )
    runners: tuple[Runner, ...] = after.runners if after is not None else ()
    if heartbeat is not None and (claimed is not None or draft.changed):
        running = sorted({*heartbeat.running, *([claimed.id] if claimed else [])})
        mine = heartbeat.model_copy(update={"last_heartbeat": now, "running": running})
        runners = (*[r for r in runners if r.name != mine.name], mine)
    return draft.change(task=claimed, runners=runners, meta=after.meta if after is not None else None)


def _held_by(task: Task, runner: str) -> bool:
    return task.status == TaskStatus.RUNNING and task.lease is not None and task.lease.runner == runner


def renew(state: State, *, task_id: str, runner: str, lease_ttl: timedelta, now: datetime) -> Change:
    """Extend ``runner``'s lease; raises ``NotLeaseHolder`` when the lease is gone (cancelled or reclaimed)."""
    task = _Draft(state).get(task_id)
    if not _held_by(task, runner) or task.lease is None:
        raise NotLeaseHolder(task_id, f"is not leased to {runner} any more ({task.status.value})")
    lease = task.lease.model_copy(update={"expires_at": now + lease_ttl, "renewed_at": now})
    updated = task.model_copy(update={"lease": lease, "updated_at": now})
    return Change(message=f"renew {task_id} lease of {runner}", tasks=(updated,), task=updated)


def _reported_attempt(task: Task, runner: str, attempt: int | None = None) -> int:
    """The attempt a runner's report belongs to.

    ``attempt`` names it explicitly (runners do); otherwise it is the runner's live lease, else the runner's
    latest attempt if that one has not ended yet (its lease may have expired meanwhile). An older attempt is
    never reopened: a repeated or stale report must not overwrite a finished attempt.
    """
    if attempt is None and _held_by(task, runner) and task.lease is not None:
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


def _superseded(task: Task, attempt: int) -> bool:
    """True when the task is running under a newer attempt than the one reported on (late or stale report)."""
    return task.status == TaskStatus.RUNNING and (task.lease is None or task.lease.attempt != attempt)


def _unblock_dependents(draft: _Draft, now: datetime) -> None:
    for blocked in draft.state.blocked_tasks():
        task = draft.get(blocked.id)
        if task.status != TaskStatus.BLOCKED:
            continue
        if all(
            draft.changed.get(d, draft.state.tasks.get(d)) is not None and draft.get(d).status == TaskStatus.SUCCEEDED
            for d in task.depends_on
        ):
            draft.put(task.model_copy(update={"status": TaskStatus.QUEUED, "status_reason": None, "updated_at": now}))
            draft.lines.append(f"unblock {task.id}")


def complete(
    state: State, *, task_id: str, runner: str, result: AttemptResult, now: datetime, attempt: int | None = None
) -> Change:
    """Record a successful attempt; the task succeeds unless another runner holds it now or it ended already.

    A late result (the lease expired but nobody else has taken the task) is still accepted: work is never lost.
    """
    draft = _Draft(state)
    task = draft.get(task_id)
    number = _reported_attempt(task, runner, attempt)
    attempts = _finish_attempt(task, number, now, outcome=AttemptOutcome.SUCCEEDED, counted=True, result=result)
    if task.is_terminal or _superseded(task, number):
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
            "updated_at": now,
        }
    )
    draft.put(updated)
    draft.lines.append(f"complete {task_id} by {runner}, attempt {number}")
    _unblock_dependents(draft, now)
    return draft.change(task=updated)


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
    if next_mode is not None and next_mode not in state.modes.modes:
        raise UsageError(f"unknown mode '{next_mode}': use one of {', '.join(sorted(state.modes.modes))}")
    draft = _Draft(state)
    task = draft.get(task_id)
    number = _reported_attempt(task, runner, attempt)
    outcome = AttemptOutcome.FAILED if counted else AttemptOutcome.RELEASED
    attempts = _finish_attempt(task, number, now, outcome=outcome, counted=counted, reason=reason, result=result)
    updated = task.model_copy(update={"attempts": attempts, "updated_at": now})
    if task.is_terminal or _superseded(task, number):
        draft.put(updated)
        draft.lines.append(f"record late failure of {task_id} attempt {number} by {runner}")
        return draft.change(task=updated)
    verb = "fail" if counted else "release"
    if retryable and updated.attempts_left() > 0:
        mode = next_mode or task.mode
        updated = updated.model_copy(
            update={
                "status": TaskStatus.QUEUED,
                "lease": None,
                "mode": mode,
                "status_reason": f"attempt {number} {'failed' if counted else 'released'}: {reason}",
            }
        )
        escalation = f", escalate {task.mode} -> {mode}" if mode != task.mode else ""
        draft.lines.append(f"{verb} {task_id} attempt {number} by {runner}, requeue{escalation}: {_short(reason)}")
    else:
        why = reason if not retryable else f"attempts exhausted: {reason}"
        updated = updated.model_copy(update={"status": TaskStatus.FAILED, "lease": None, "status_reason": why})
        draft.lines.append(f"{verb} {task_id} attempt {number} by {runner}, task failed: {_short(reason)}")
    draft.put(updated)
    return draft.change(task=updated)


def release(state: State, *, task_id: str, runner: str, reason: str, now: datetime) -> Change:
    """Hand a leased task back to the queue without using up an attempt."""
    return fail(state, task_id=task_id, runner=runner, reason=reason, now=now, counted=False)


def cancel(state: State, *, task_id: str, now: datetime, by: str = "unknown", reason: str | None = None) -> Change:
    """Cancel a task that has not ended; a running agent is stopped when its runner next renews the lease."""
    draft = _Draft(state)
    task = draft.get(task_id)
    if task.is_terminal:
        raise InvalidTransition(task_id, f"is {task.status.value} already; nothing to cancel")
    attempts = list(task.attempts)
    if task.status == TaskStatus.RUNNING and task.lease is not None:
        attempts = _finish_attempt(
            task,
            task.lease.attempt,
            now,
            outcome=AttemptOutcome.CANCELLED,
            counted=True,
            reason=f"cancelled by {by}",
        )
    why = f"cancelled by {by}" + (f": {reason}" if reason else "")
    updated = task.model_copy(
        update={
            "status": TaskStatus.CANCELLED,
            "lease": None,
            "attempts": attempts,
            "status_reason": why,
            "updated_at": now,
        }
    )
    draft.put(updated)
    draft.lines.append(f"cancel {task_id} by {by}")
    return draft.change(task=updated)


def retry(state: State, *, task_id: str, now: datetime, by: str = "unknown", mode: str | None = None) -> Change:
    """Give a failed or cancelled task a new round of attempts (in ``mode`` if given, else its last mode)."""
    if mode is not None and mode not in state.modes.modes:
        raise UsageError(f"unknown mode '{mode}': use one of {', '.join(sorted(state.modes.modes))}")
    draft = _Draft(state)
    task = draft.get(task_id)
    if task.status == TaskStatus.SUCCEEDED:
        raise InvalidTransition(task_id, "succeeded; submit a new task to do more work")
    if not task.is_terminal:
        raise InvalidTransition(task_id, f"is {task.status.value}; only failed or cancelled tasks can be retried")
    waiting = [d for d in task.depends_on if d not in state.tasks or state.tasks[d].status != TaskStatus.SUCCEEDED]
    updated = task.model_copy(
        update={
            "round": task.round + 1,
            "mode": mode or task.mode,
            "status": TaskStatus.BLOCKED if waiting else TaskStatus.QUEUED,
            "status_reason": f"retried by {by}" + (f"; waiting for {', '.join(waiting)}" if waiting else ""),
            "lease": None,
            "updated_at": now,
        }
    )
    draft.put(updated)
    draft.lines.append(f"retry {task_id} by {by}, round {updated.round}")
    return draft.change(task=updated)


def heartbeat(state: State, *, runner: Runner, now: datetime) -> Change:
    """Write a runner's heartbeat file."""
    updated = runner.model_copy(update={"last_heartbeat": now})
    return Change(message=f"heartbeat {runner.name} ({runner.state.value})", runners=(updated,))


def with_heartbeat(change: Change, runner: Runner, now: datetime) -> Change:
    """``change`` plus the runner's heartbeat file, so reporting a result costs no extra commit."""
    updated = runner.model_copy(update={"last_heartbeat": now})
    return Change(
        message=change.message,
        tasks=change.tasks,
        runners=(*[r for r in change.runners if r.name != runner.name], updated),
        meta=change.meta,
        task=change.task,
    )


def set_modes(state: State, *, modes: ModesConfig, by: str = "unknown") -> Change:
    """Replace the modes in ``config.json``, refusing to drop a mode that unfinished tasks still use."""
    missing = sorted({t.mode for t in state.tasks.values() if not t.is_terminal and t.mode not in modes.modes})
    if missing:
        raise UsageError(
            f"unfinished tasks use modes {', '.join(missing)}, which the new configuration drops: keep them, "
            "or cancel those tasks first"
        )
    return Change(message=f"set modes by {by}: {', '.join(sorted(modes.modes))}", config=BranchConfig(modes=modes))
