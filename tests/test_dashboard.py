"""STATUS.md on the state branch: what it says after claims, results and heartbeats, that it rides in the commits
that change the branch (never one of its own), and that its incremental figures agree with a full count."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from coordinator.core.dashboard import LATEST_RESULTS, dashboard
from coordinator.core.dashboard_markdown import cell, status_markdown
from coordinator.core.state import State
from coordinator.core.transitions import SubmitRequest, claim, complete, fail, heartbeat, submit
from coordinator.models import AttemptResult, Runner, RunnerState, TaskStatus
from coordinator.store.remote import Remote
from coordinator.store.store import StateStore
from tests.core_helpers import HandClock, make_task
from tests.user_machine import run, start, user_env

BRANCH = "coordinator/state"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> HandClock:
    return HandClock(START)


@pytest.fixture
def timed_store(remote_path: Path, tmp_path: Path, clock: HandClock) -> Iterator[StateStore]:
    with StateStore(Remote.parse(str(remote_path)), cache_dir=tmp_path / "cache-d", clock=clock) as store:
        store.init()
        yield store


def status_file(remote: Path) -> str:
    done = subprocess.run(
        ["git", "--git-dir", str(remote), "show", f"{BRANCH}:STATUS.md"], capture_output=True, text=True, check=True
    )
    return done.stdout


def commits(remote: Path) -> int:
    done = subprocess.run(
        ["git", "--git-dir", str(remote), "rev-list", "--count", BRANCH], capture_output=True, text=True, check=True
    )
    return int(done.stdout)


def runner(name: str, now: datetime, **fields: object) -> Runner:
    return Runner(name=name, host=f"{name}.lan", last_heartbeat=now, heartbeat_seconds=60, **fields)  # type: ignore[arg-type]


def test_status_md_after_claims_and_results(timed_store: StateStore, remote_path: Path, clock: HandClock) -> None:
    for title in ("Fix the login | bug", "Write docs", "Tidy up"):
        timed_store.update(lambda s, now, title=title: submit(s, SubmitRequest(title=title), now))
    before = commits(remote_path)
    for name in ("r1", "r2"):
        timed_store.update(
            lambda s, now, name=name: claim(
                s, runner=name, capabilities=(), lease_ttl=timedelta(minutes=10), now=now, heartbeat=runner(name, now)
            )
        )
    clock.now += timedelta(minutes=3, seconds=5)
    result = AttemptResult(cost_usd=0.42, finished_at=clock.now, outcome_detail="success")
    timed_store.update(lambda s, now: complete(s, task_id="task-1", runner="r1", result=result, now=now))
    clock.now += timedelta(minutes=2)
    timed_store.update(lambda s, now: fail(s, task_id="task-2", runner="r2", reason="boom", now=now))  # requeued
    busy = RunnerState.BUSY
    timed_store.update(
        lambda s, now: claim(
            s,
            runner="r2",
            capabilities=(),
            lease_ttl=timedelta(minutes=30),
            now=now,
            heartbeat=runner("r2", now, state=busy),
        )
    )
    clock.now += timedelta(minutes=10)  # r2 promised a heartbeat a minute: three missed, it is flagged
    timed_store.update(lambda s, now: heartbeat(s, runner=runner("r1", now, state=RunnerState.IDLE), now=now))

    # One commit per change: STATUS.md rode along in each, never in a commit of its own.
    assert commits(remote_path) == before + 6
    text = status_file(remote_path)
    assert "As of 2026-03-02 09:15:05 UTC" in text
    assert "| queued | running | succeeded | archived |\n|---|---|---|---|\n| 1 | 1 | 1 | 0 |" in text
    assert "## Running (1)" in text and "| task-2 | Write docs | r2 | simple | 2 | 10m00s |" in text
    assert "| r1 | r1.lan | idle | 0/1 | 0s ago |" in text
    assert "| r2 | r2.lan | busy | 1/1 | 10m00s ago **silent** |" in text
    assert "| task-1 | Fix the login \\| bug | succeeded (success) | simple | 1 | $0.42 | 12m00s ago |" in text
    assert "$0.42 recorded by 1 attempt(s)." in text


def test_the_dashboard_agrees_with_a_full_count() -> None:
    rng = random.Random(7)
    state = State()
    statuses = list(TaskStatus)
    for step in range(400):
        task_id = f"task-{rng.randrange(60)}"
        if rng.random() < 0.15:
            state.remove_task(task_id)
            continue
        when = START - timedelta(hours=rng.randrange(48))
        status = rng.choice(statuses)
        attempts = []
        if rng.random() < 0.7:
            from coordinator.models import Attempt

            attempts = [Attempt(number=1, runner="r", mode="simple", finished_at=when, cost_usd=rng.random())]
        state.put_task(make_task(task_id, status=status, updated_at=when + timedelta(seconds=step), attempts=attempts))
    board = dashboard(state, START)
    assert board.counts == {s: Counter(t.status for t in state.tasks.values())[s] for s in TaskStatus}
    ended = sorted((t for t in state.tasks.values() if t.is_terminal), key=lambda t: (t.updated_at, t.id))
    assert [t.id for t in board.latest] == [t.id for t in reversed(ended[-LATEST_RESULTS:])]


def test_todays_spend_is_the_days_spend_record_also_when_its_tasks_are_archived() -> None:
    from coordinator.models import Attempt, DailySpend

    paid = [Attempt(number=1, runner="r", mode="simple", finished_at=START, cost_usd=0.5)]
    state = State.build([make_task("task-1", status=TaskStatus.SUCCEEDED, attempts=paid)])
    day = START.strftime("%Y-%m-%d")
    state.put_record("spend", day, DailySpend(day=day, cost_usd=0.5, attempts=1))
    assert (dashboard(state, START).spent_today_usd, dashboard(state, START).paid_attempts_today) == (0.5, 1)
    # Archiving the task does not take back what was spent (it used to: the sum came from the live tasks).
    assert dashboard(state, START, deleted=["task-1"]).spent_today_usd == 0.5
    # What a change writes counts at once, in the STATUS.md of its own commit.
    more = DailySpend(day=day, cost_usd=0.75, attempts=2)
    assert dashboard(state, START, records=[more]).spent_today_usd == 0.75


def test_the_dashboard_of_a_change_is_that_of_the_state_after_it() -> None:
    state = State.build([make_task("task-1"), make_task("task-2", status=TaskStatus.SUCCEEDED)])
    done = make_task("task-1", status=TaskStatus.FAILED, updated_at=START)
    board = dashboard(state, START, tasks=[done], deleted=["task-2"])
    assert board.counts[TaskStatus.QUEUED] == 0 and board.counts[TaskStatus.FAILED] == 1
    assert board.counts[TaskStatus.SUCCEEDED] == 0 and board.archived == 1
    assert [t.id for t in board.latest] == ["task-1"]


def test_titles_stay_plain_text_in_status_md() -> None:
    hostile = "[click](https://evil.example) <img src=x> `code` *bold* | cell \x1b[31m"
    assert cell(hostile) == (
        "\\[click\\](https://evil.example) \\<img src=x\\> \\`code\\` \\*bold\\* \\| cell \\\\x1b\\[31m"
    )
    state = State.build([make_task("task-1", title="ok", status=TaskStatus.SUCCEEDED)])
    text = status_markdown(dashboard(state, START))
    assert text.count("\n## ") == 5 and text.endswith("$0.00 recorded by 0 attempt(s).\n")


@pytest.mark.skipif(os.name == "nt", reason="stops the watch with SIGINT (Ctrl-C), which Popen cannot send on Windows")
def test_status_watch_shows_changes_live_until_ctrl_c(store: StateStore, remote_path: Path, tmp_path: Path) -> None:
    env = user_env(tmp_path / "home")
    assert run(["--remote", str(remote_path), "submit", "Watch me"], env).returncode == 0
    watcher = start(["--remote", str(remote_path), "status", "--watch", "--interval", "0.2"], env)
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(iter(watcher.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        assert wait_for(lambda: "Latest results: none yet" in "".join(seen)), "".join(seen)
        assert run(["--remote", str(remote_path), "cancel", "task-1"], env).returncode == 0
        # The cancelled task shows up in a new view, without restarting the watch.
        assert wait_for(lambda: "cancelled" in "".join(seen) and "Watch me" in "".join(seen)), "".join(seen)
    finally:
        watcher.send_signal(signal.SIGINT)
        watcher.wait(timeout=20)
    reader.join(timeout=20)
    assert watcher.returncode == 0, "".join(seen)
    assert "Traceback" not in "".join(seen)


def wait_for(condition: Callable[[], bool], seconds: float = 30) -> bool:
    """Poll ``condition`` until it holds, for at most ``seconds`` (a bound, not a timed assertion)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_the_running_table_is_bounded() -> None:
    from tests.core_helpers import make_running

    state = State.build([make_running(f"task-{i}") for i in range(45)])
    text = status_markdown(dashboard(state, START))
    assert "## Running (45)" in text and "… and 15 more (`coordinator list --status running`)." in text
    assert text.count("| runner-x | simple | 1 |") == 30
