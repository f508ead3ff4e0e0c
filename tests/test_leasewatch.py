"""Leases are judged by how long this machine has seen them unchanged, never by another machine's clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from core_helpers import make_running

from coordinator.core.state import State
from coordinator.models import Lease
from coordinator.store.leasewatch import CLOCK_TRUST, LeaseWatch
from tests.core_helpers import HandClock

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def running(expires_in: timedelta, *, holder_clock: datetime) -> State:
    lease = Lease(runner="a", attempt=1, acquired_at=holder_clock, expires_at=holder_clock + expires_in)
    return State.build(tasks=[make_running("task-1", runner="a").model_copy(update={"lease": lease})])


def test_a_lease_expires_after_its_length_as_this_machine_measures_it(tmp_path: Path) -> None:
    # The holder's clock is 10 minutes slow: by this machine's clock the lease expired long ago.
    mine = HandClock(T0)
    state = running(timedelta(seconds=60), holder_clock=T0 - timedelta(minutes=10))
    watch = LeaseWatch(tmp_path / "leases.json", mine)
    watch.observe(state)
    task = state.tasks["task-1"]
    assert not watch.expired(task, mine())
    mine.now = T0 + timedelta(seconds=59)
    assert not watch.expired(task, mine())
    mine.now = T0 + timedelta(seconds=60)
    assert watch.expired(task, mine())


def test_processes_of_one_machine_share_what_they_saw(tmp_path: Path) -> None:
    mine = HandClock(T0)
    state = running(timedelta(seconds=30), holder_clock=T0)
    LeaseWatch(tmp_path / "leases.json", mine).observe(state)  # e.g. the runner that claimed it
    mine.now = T0 + timedelta(seconds=45)
    later = LeaseWatch(tmp_path / "leases.json", mine)  # e.g. `coordinator claim` from cron
    assert later.expired(state.tasks["task-1"], mine())


def test_a_lease_long_past_by_this_clock_is_expired_without_waiting(tmp_path: Path) -> None:
    mine = HandClock(T0)
    state = running(timedelta(seconds=60), holder_clock=T0 - CLOCK_TRUST - timedelta(minutes=5))
    assert LeaseWatch(None, mine).expired(state.tasks["task-1"], mine())  # the runner died long ago


def test_a_renewed_lease_is_a_new_lease(tmp_path: Path) -> None:
    mine = HandClock(T0)
    watch = LeaseWatch(None, mine)
    first = running(timedelta(seconds=60), holder_clock=T0)
    watch.observe(first)
    mine.now = T0 + timedelta(seconds=50)
    renewed = first.tasks["task-1"].model_copy(deep=True)
    assert renewed.lease is not None
    renewed.lease.renewed_at = T0 + timedelta(seconds=50)
    renewed.lease.expires_at = T0 + timedelta(seconds=110)
    watch.observe(State.build(tasks=[renewed]))
    mine.now = T0 + timedelta(seconds=100)
    assert not watch.expired(renewed, mine())  # 50 s seen of a 60 s lease
    mine.now = T0 + timedelta(seconds=111)
    assert watch.expired(renewed, mine())
