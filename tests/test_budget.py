"""Budgets: the day's spend record goes into the same commit as each cost, a daily cap stops claims (with a
reason), they resume the next UTC day, and the cap is never overrun by more than the tasks already running.

Time is a parameter: the store's clock is a value the test sets, never a sleep.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from coordinator.core import transitions as T
from coordinator.core.spend import budget_refusal, budget_status, spend_record, waiting_reason, with_spend
from coordinator.core.state import State
from coordinator.core.transitions.budget import set_budget
from coordinator.models import AttemptResult, Budget, DailySpend, TaskStatus
from coordinator.runner.budget import BudgetWatch
from coordinator.store.remote import Remote
from coordinator.store.store import StateStore
from tests.core_helpers import HandClock
from tests.gitutil import git

DAY1 = datetime(2026, 11, 29, 22, 0, tzinfo=UTC)
TTL = timedelta(minutes=10)


@pytest.fixture
def clock() -> HandClock:
    return HandClock(DAY1)


@pytest.fixture
def store(remote_path: Path, tmp_path: Path, clock: HandClock) -> Iterator[StateStore]:
    with StateStore(Remote.parse(str(remote_path)), cache_dir=tmp_path / "cache", clock=clock) as s:
        s.init()
        yield s


def _submit(store: StateStore, title: str) -> str:
    change = store.update(lambda s, now: T.submit(s, T.SubmitRequest(title=title), now))
    assert change.task is not None
    return change.task.id


def _claim(store: StateStore, runner: str, after: T.Change | None = None) -> T.Change:
    return store.update(lambda s, now: T.claim(s, runner=runner, capabilities=(), lease_ttl=TTL, now=now, after=after))


def _cap(store: StateStore, usd: float | None) -> None:
    store.update(lambda s, _now: set_budget(s, budget=Budget(max_daily_usd=usd), by="test"))


def _result(cost: float, *, partial: bool = False, finished: datetime | None = None) -> AttemptResult:
    return AttemptResult(cost_usd=cost, cost_partial=partial or None, finished_at=finished)


def _complete(store: StateStore, task_id: str, runner: str, cost: float, **kw: object) -> T.Change:
    result = _result(cost, **kw)  # type: ignore[arg-type]
    return store.update(lambda s, now: T.complete(s, task_id=task_id, runner=runner, result=result, now=now))


def _branch_json(remote: Path, path: str) -> str:
    return git("show", f"coordinator/state:{path}", cwd=remote)


# -- the day's record ---------------------------------------------------------------------------------------


def test_each_cost_is_added_to_its_days_record_in_the_same_commit(
    store: StateStore, remote_path: Path, clock: HandClock
) -> None:
    first, second = _submit(store, "one"), _submit(store, "two")
    _claim(store, "r1")
    _claim(store, "r2")
    _complete(store, first, "r1", 0.25)
    change = store.update(
        lambda s, now: T.fail(
            s, task_id=second, runner="r2", reason="timed out", result=_result(0.5, partial=True), now=now
        )
    )
    assert any(isinstance(r, DailySpend) for r in change.records)
    record = spend_record(store.read(), "2026-11-29")
    assert (record.cost_usd, record.attempts) == (0.75, 2)
    assert (record.partial_attempts, record.partial_cost_usd) == (1, 0.5)
    # One commit per result: the record changed in the very commit that recorded the failure.
    files = git("show", "--name-only", "--format=%s", "coordinator/state", cwd=remote_path).split()
    assert "spend/2026-11-29.json" in files and any(f.startswith("tasks/") for f in files)
    assert '"cost_usd": 0.75' in _branch_json(remote_path, "spend/2026-11-29.json")


def test_a_cost_counts_on_the_day_its_attempt_finished_and_a_result_without_cost_writes_nothing(
    store: StateStore, clock: HandClock
) -> None:
    late, free = _submit(store, "late"), _submit(store, "free")
    _claim(store, "r1")
    _claim(store, "r2")
    clock.now = DAY1 + timedelta(days=1)
    _complete(store, late, "r1", 1.5, finished=DAY1 + timedelta(minutes=5))  # reported the next morning
    change = store.update(
        lambda s, now: T.complete(s, task_id=free, runner="r2", result=AttemptResult(summary="ok"), now=now)
    )
    assert not change.records
    state = store.read()
    assert spend_record(state, "2026-11-29").cost_usd == 1.5
    assert spend_record(state, "2026-11-30").cost_usd == 0


def test_with_spend_reads_only_the_changed_tasks_and_ignores_unchanged_costs(store: StateStore) -> None:
    task_id = _submit(store, "one")
    _claim(store, "r1")
    _complete(store, task_id, "r1", 0.4)
    state = store.read()
    same = state.tasks[task_id].model_copy(update={"title": "renamed"})
    assert with_spend(state, T.Change(message="x", tasks=(same,)), DAY1).records == ()


# -- the cap stops claims, with a reason, until the next UTC day --------------------------------------------


def test_a_daily_cap_stops_claiming_and_claims_resume_the_next_day(store: StateStore, clock: HandClock) -> None:
    _cap(store, 1.0)
    first = _submit(store, "first")
    _claim(store, "r1")
    _complete(store, first, "r1", 1.2)
    waiting = _submit(store, "waits")
    refused = _claim(store, "r1")
    assert refused.task is None and refused.refused is not None
    assert "daily budget is spent: $1.20 of $1.00 on 2026-11-29" in refused.refused
    assert "2026-11-30 00:00 UTC" in refused.refused and "coordinator budget --daily USD" in refused.refused
    state = store.read()
    assert state.tasks[waiting].status == TaskStatus.QUEUED
    assert waiting_reason(state, state.tasks[waiting], clock.now) == refused.refused
    clock.now = DAY1.replace(hour=23, minute=59, second=59)
    assert _claim(store, "r1").task is None
    clock.now = DAY1 + timedelta(hours=2)  # 00:00 UTC of the next day
    resumed = _claim(store, "r1")
    assert resumed.task is not None and resumed.task.id == waiting and resumed.refused is None
    assert waiting_reason(store.read(), resumed.task, clock.now) is None


def test_raising_or_removing_the_cap_lets_claims_go_on_the_same_day(store: StateStore) -> None:
    _cap(store, 0)  # 0: no paid work at all
    task_id = _submit(store, "waits")
    assert _claim(store, "r1").refused is not None
    _cap(store, None)
    assert _claim(store, "r1").task is not None
    assert store.read().tasks[task_id].status == TaskStatus.RUNNING


def test_a_result_that_reaches_the_cap_claims_nothing_in_its_own_commit(store: StateStore) -> None:
    _cap(store, 1.0)
    first, _second = _submit(store, "first"), _submit(store, "second")
    _claim(store, "r1")
    result = _result(1.0)

    def report_and_claim(s: State, now: datetime) -> T.Change:
        done = T.complete(s, task_id=first, runner="r1", result=result, now=now)
        return T.claim(s, runner="r1", capabilities=(), lease_ttl=TTL, now=now, after=done)

    change = store.update(report_and_claim)
    assert change.task is None and change.refused is not None
    state = store.read()
    assert state.tasks[first].status == TaskStatus.SUCCEEDED
    assert spend_record(state, "2026-11-29").cost_usd == 1.0


def test_the_cap_is_overrun_by_at_most_what_the_tasks_already_running_spend(store: StateStore) -> None:
    """Three runners, tasks of $0.40, a $1.00 cap: once the spend reaches the cap no claim succeeds, and the
    final spend is the spend then plus what the tasks running at that moment cost."""
    _cap(store, 1.0)
    for n in range(8):
        _submit(store, f"task {n}")
    running = {r: _claim(store, r).task for r in ("r1", "r2", "r3")}
    spent_when_reached: float | None = None
    running_when_reached: set[str] = set()
    for runner in ["r1", "r2", "r3", "r1", "r2", "r3", "r1", "r2", "r3"]:
        task = running.get(runner)
        if task is None:
            continue
        change = store.update(
            lambda s, now, t=task, r=runner: T.claim(  # report and claim the next task in one commit, as runners do
                s,
                runner=r,
                capabilities=(),
                lease_ttl=TTL,
                now=now,
                after=T.complete(s, task_id=t.id, runner=r, result=_result(0.4), now=now),
            )
        )
        running[runner] = change.task
        status = budget_status(store.read(), DAY1)
        if status.reached and spent_when_reached is None:
            spent_when_reached = status.spent_usd
            running_when_reached = {t.id for t in running.values() if t is not None}
        if spent_when_reached is not None:
            assert change.task is None, "a task was claimed after the cap was reached"
    final = budget_status(store.read(), DAY1).spent_usd
    assert spent_when_reached is not None and spent_when_reached < 1.0 + 0.4
    assert final == pytest.approx(spent_when_reached + 0.4 * len(running_when_reached))
    assert final - 1.0 <= 0.4 * 3  # at most one task per runner beyond the cap
    assert sum(t.status == TaskStatus.QUEUED for t in store.read().tasks.values()) == 3


def test_no_cap_means_no_refusal_and_the_status_says_so(store: StateStore) -> None:
    task_id = _submit(store, "free")
    _claim(store, "r1")
    _complete(store, task_id, "r1", 5.0)
    state = store.read()
    assert budget_refusal(state, DAY1) is None
    status = budget_status(state, DAY1)
    assert (status.spent_usd, status.cap_usd, status.reached, status.left_usd) == (5.0, None, False, None)


def test_set_budget_commits_only_a_change_and_keeps_the_other_settings(store: StateStore) -> None:
    _cap(store, 12.5)
    change = store.update(lambda s, _now: set_budget(s, budget=Budget(max_daily_usd=12.5), by="alice"))
    assert change.empty and change.message == "budget unchanged"
    change = store.update(lambda s, _now: set_budget(s, budget=Budget(max_daily_usd=20), by="alice"))
    assert change.message == "set budget by alice: max_daily_usd $12.50 -> $20.00"
    state = store.read()
    assert state.config.budget.max_daily_usd == 20 and state.modes.default_mode == "simple"


# -- the runner's watch ----------------------------------------------------------------------------------------


def test_the_runner_says_it_once_and_tries_again_when_the_day_turns() -> None:
    lines: list[str] = []
    watch = BudgetWatch(lines.append)
    refused = T.Change(message="", refused="the daily budget is spent: …")
    watch.saw(refused, DAY1)
    watch.saw(refused, DAY1 + timedelta(minutes=5))
    assert lines == ["not claiming: the daily budget is spent: …"]
    assert not watch.due(DAY1 + timedelta(hours=1, minutes=59))
    assert watch.due(DAY1 + timedelta(hours=2)) and not watch.due(DAY1 + timedelta(hours=2, seconds=1))
    watch.saw(T.Change(message="claim"), DAY1 + timedelta(hours=2))
    assert lines[-1] == "the daily budget allows claims again: claiming" and watch.refused is None
