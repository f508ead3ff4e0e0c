"""Shared helpers for the tests of the pure core (models, scheduling, transitions).

Transitions never mutate a ``State``: they return a ``Change``. ``apply`` writes a change into a state the way
the store does after committing it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from coordinator.core import transitions as tr
from coordinator.core.state import State
from coordinator.core.transitions import Change, SubmitRequest
from coordinator.models import (
    Attempt,
    AttemptOutcome,
    AttemptResult,
    Lease,
    Priority,
    Runner,
    Task,
    TaskStatus,
)
from coordinator.store import layout

#: A fixed "now" for every test (no test reads the clock).
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
#: The lease time-to-live the tests use.
TTL = timedelta(minutes=10)


class HandClock:
    """A clock the test sets by hand (``clock.now = …``); time is a parameter, nothing sleeps."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def apply(state: State, change: Change) -> Change:
    """Write ``change`` into ``state`` (tasks, runners, meta), like the store after a commit; returns the change."""
    ids = [t.id for t in change.tasks]
    assert len(ids) == len(set(ids)), f"a change writes one task twice: {ids}"
    for task in change.tasks:
        state.put_task(task)
    for runner in change.runners:
        state.runners[runner.name] = runner
    if change.meta is not None:
        state.meta = change.meta
    for record in change.records:  # the other collections (locks, ...), where the store would write them
        found = layout.path_of(record).split("/")
        state.put_record(found[0], found[-1].removesuffix(".json"), record)
    for directory, key in change.deletes:
        state.remove_record(directory, key)
    return change


def make_task(
    task_id: str = "task-1",
    *,
    priority: Priority | str = Priority.MEDIUM,
    created_at: datetime = NOW,
    status: TaskStatus = TaskStatus.QUEUED,
    **fields: Any,
) -> Task:
    """A task built directly (not through ``submit``), for scheduling tests."""
    fields.setdefault("title", f"title of {task_id}")
    fields.setdefault("updated_at", created_at)
    return Task(id=task_id, priority=Priority(priority), created_at=created_at, status=status, **fields)


def make_attempts(*specs: tuple[AttemptOutcome, bool], round_: int = 0, runner: str = "runner-x") -> list[Attempt]:
    """Finished attempts numbered from 1: each spec is (outcome, counted)."""
    return [
        Attempt(number=i + 1, round=round_, runner=runner, mode="simple", outcome=outcome, counted=counted)
        for i, (outcome, counted) in enumerate(specs)
    ]


def make_running(task_id: str = "task-1", *, runner: str = "runner-x", **fields: Any) -> Task:
    """A running task with a consistent lease and running attempt."""
    attempt = Attempt(number=1, runner=runner, mode="simple", started_at=NOW)
    lease = Lease(runner=runner, attempt=1, acquired_at=NOW, expires_at=NOW + TTL)
    return make_task(task_id, status=TaskStatus.RUNNING, lease=lease, attempts=[attempt], **fields)


def make_runner(name: str = "runner-a", capabilities: Sequence[str] = (), **fields: Any) -> Runner:
    fields.setdefault("last_heartbeat", NOW - hours(1))
    return Runner(name=name, capabilities=list(capabilities), **fields)


def build(tasks: Iterable[Task] = ()) -> State:
    return State.build(tasks)


# --- shortcuts over the transitions that apply the change and return the interesting task ---


def submit(state: State, title: str = "Do the thing", *, now: datetime = NOW, **request: Any) -> Task:
    change = apply(state, tr.submit(state, SubmitRequest(title=title, **request), now))
    assert change.task is not None
    return change.task


def claim(
    state: State,
    runner: str = "runner-a",
    capabilities: Sequence[str] = (),
    *,
    now: datetime = NOW,
    ttl: timedelta = TTL,
) -> Task | None:
    change = apply(state, tr.claim(state, runner=runner, capabilities=capabilities, lease_ttl=ttl, now=now))
    return change.task


def complete(state: State, task_id: str, runner: str = "runner-a", *, now: datetime = NOW, **result: Any) -> Change:
    return apply(state, tr.complete(state, task_id=task_id, runner=runner, result=AttemptResult(**result), now=now))


def fail(state: State, task_id: str, runner: str = "runner-a", reason: str = "boom", **kw: Any) -> Change:
    kw.setdefault("now", NOW)
    return apply(state, tr.fail(state, task_id=task_id, runner=runner, reason=reason, **kw))
