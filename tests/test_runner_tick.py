"""Runners tick while they poll: a due recurring task is enqueued and run by the runner itself, at most one tick a
minute, and nothing is written or fetched when nothing is due. Time is the test's (a clock it moves)."""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from coordinator.core.recurring import schedules_of
from coordinator.core.state import State
from coordinator.core.transitions import Change
from coordinator.core.transitions.schedules import add_schedule, remove_schedule
from coordinator.models import Schedule, TaskStatus
from coordinator.runner.daemon import EXIT_OK
from coordinator.runner.ticker import Ticker
from tests.gitutil import branch_log
from tests.runner_helpers import Project, run_once


class MovedClock:
    """A clock the test moves: wall time and monotonic time advance together."""

    def __init__(self, start: datetime) -> None:
        self.wall, self.mono = start, 1000.0

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def wait(self, event: threading.Event, timeout: float) -> bool:
        self.advance(timeout)
        return event.is_set()

    def advance(self, seconds: float) -> None:
        self.wall += timedelta(seconds=seconds)
        self.mono += seconds


def add(project: Project, name: str, cron: str, created_at: datetime) -> None:
    schedule = Schedule(name=name, cron=cron, title=f"recurring {name}", created_at=created_at)
    project.update(lambda state, now: add_schedule(state, schedule, now))


def test_a_runner_enqueues_a_due_schedule_and_runs_its_task(project: Project, tmp_path: Path) -> None:
    add(project, "cleanup", "*/10 * * * *", datetime.now(UTC) - timedelta(days=1))
    lines: list[str] = []
    agent = tmp_path / "agent.py"
    agent.write_text("import sys; sys.stdin.read(); print('cleaned up')\n")
    daemon = project.daemon("runner-a", echo=lines.append, agent_command=f"{sys.executable} {agent}")
    assert run_once(daemon) == EXIT_OK
    (task,) = project.state().tasks.values()
    assert task.id.startswith("sched-cleanup-") and task.id.endswith(("0", "10", "20", "30", "40", "50"))
    assert task.status == TaskStatus.SUCCEEDED and task.group == "schedule-cleanup"
    assert f"tick: enqueued {task.id}: recurring cleanup" in lines
    assert any(line.startswith(f"claimed {task.id}") for line in lines)


def test_the_ticker_ticks_at_most_once_a_minute_and_only_writes_when_something_is_due(project: Project) -> None:
    start = datetime(2026, 3, 1, 10, 0, 30, tzinfo=UTC)
    add(project, "minutely", "* * * * *", start - timedelta(hours=1))
    add(project, "daily", "0 3 * * *", start - timedelta(hours=1))
    clock, lines = MovedClock(start), []
    ticker = Ticker(project.store, clock, lines.append)
    project.state()

    assert ticker.tick_if_due() is True
    assert lines == ["tick: enqueued sched-minutely-20260301t1000: recurring minutely"]
    clock.advance(45)  # 10:01:15, a new slot, but less than a minute since the last tick
    assert ticker.tick_if_due() is False
    clock.advance(15)  # 10:01:30
    assert ticker.tick_if_due() is True
    assert sorted(project.state().tasks) == ["sched-minutely-20260301t1000", "sched-minutely-20260301t1001"]

    project.update(lambda state, now: _without(state, "minutely"))
    project.state()
    stats, log = dict(project.store.stats), branch_log(project.origin)
    clock.advance(120)  # nothing due for hours: no fetch, no push
    assert ticker.tick_if_due() is False
    assert project.store.stats == stats and branch_log(project.origin) == log


def test_a_skipped_schedule_is_told_once_in_the_runner_log(project: Project) -> None:
    start = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    bad = Schedule(name="far", cron="@hourly", timezone="Mars/Olympus", title="t", created_at=start)
    project.update(lambda state, now: _with(state, bad))
    project.state()
    clock, lines = MovedClock(start), []
    ticker = Ticker(project.store, clock, lines.append)
    for _ in range(3):
        assert ticker.tick_if_due() is False
        clock.advance(60)
    assert len(lines) == 1 and lines[0].startswith("warning: schedule far skipped: unknown time zone 'Mars/Olympus'")
    assert "far" in schedules_of(project.state())


def _without(state: State, name: str) -> Change:
    return remove_schedule(state, name, datetime.now(UTC))


def _with(state: State, schedule: Schedule) -> Change:
    # Written as a machine that has the zone would write it (add_schedule checks the zone on this one).
    return Change(message=f"schedule add {schedule.name}", records=(schedule,))
