"""Runners under faults that are not the task's: API trouble, a branch that refuses writes for a while.

Runners are built exactly as `coordinator runner` builds them (tests/runner_helpers.py goes through
coordinator.runner.build); the fake clock only replaces the runner's own waiting, never what it runs.
"""

from __future__ import annotations

import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from coordinator.cli.app import cli
from coordinator.models import AttemptOutcome, TaskStatus
from coordinator.runner.clock import SystemClock
from tests.fakes.clock import FakeClock
from tests.runner_helpers import Project, run_once

pytestmark = pytest.mark.slow


def script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return f"{sys.executable} {path}"


def wait_for(predicate, seconds: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


API_ERROR_ONCE = """
import json, pathlib, sys
marker = pathlib.Path(sys.argv[1])
if not marker.exists():
    marker.write_text("seen")
    print(json.dumps({"outcome": "api_error", "error": "API Error: 529 Overloaded"}))
    sys.exit(1)
pathlib.Path("done.txt").write_text("done")
"""


def test_api_errors_hand_the_task_back_and_the_runner_pauses_without_a_real_sleep(
    project: Project, tmp_path: Path
) -> None:
    task_id = project.submit("flaky API")
    clock = FakeClock()
    agent = script(tmp_path, "api.py", API_ERROR_ONCE) + f" {tmp_path / 'marker'}"
    daemon = project.daemon("r1", agent_command=agent, api_error_pause_seconds=600, poll_seconds=30, clock=clock)
    runner = threading.Thread(target=daemon.run, name="runner-main")
    runner.start()
    try:
        wait_for(lambda: project.state().tasks[task_id].status == TaskStatus.SUCCEEDED)
    finally:
        daemon.request_stop()
        runner.join(timeout=30)
        daemon.store.close()
    task = project.state().tasks[task_id]
    first, second = task.attempts
    assert (first.outcome, first.counted, first.outcome_detail) == (AttemptOutcome.RELEASED, False, "api_error")
    assert second.outcome == AttemptOutcome.SUCCEEDED
    assert task.counted_attempts() == 1  # the API's trouble cost the task nothing
    assert sum(clock.waited) >= 600  # it paused ten minutes, simulated
    assert any("pausing claims for 600s" in line for line in daemon.lines)  # type: ignore[attr-defined]


REFUSE_WHILE_FLAGGED = """#!/bin/sh
if [ -f "{flag}" ]; then
  echo "refused by the test: the remote is unavailable" >&2
  exit 1
fi
exit 0
"""

START_REFUSING = """
import pathlib, sys
pathlib.Path(sys.argv[1]).write_text("refuse")  # from now on the remote refuses every push
pathlib.Path("work.txt").write_text("done")
"""


def test_a_result_waits_while_the_branch_refuses_writes_and_lands_once(project: Project, tmp_path: Path) -> None:
    flag = tmp_path / "refuse"
    hook = project.origin / "hooks" / "pre-receive"
    hook.write_text(REFUSE_WHILE_FLAGGED.format(flag=flag))
    hook.chmod(0o755)
    task_id = project.submit("one result, one run")
    agent = script(tmp_path, "refuse.py", START_REFUSING) + f" {flag}"
    daemon = project.daemon("r1", agent_command=agent, lease_ttl_seconds=30)
    threading.Timer(4.0, flag.unlink).start()
    assert run_once(daemon) == 0
    task = project.state().tasks[task_id]
    assert task.status == TaskStatus.SUCCEEDED
    assert [a.outcome for a in task.attempts] == [AttemptOutcome.SUCCEEDED]  # the agent ran once
    assert any("could not record" in line for line in daemon.lines)  # type: ignore[attr-defined]
    assert not list((daemon.log_dir / "outbox").glob("*.json"))


class FastClock(SystemClock):
    """This machine's clock, ten minutes fast (as `faketime -f +10m` would make it)."""

    def now(self) -> datetime:
        return super().now() + timedelta(minutes=10)


WORK_UNTIL_TOLD = """
import pathlib, sys, time
pathlib.Path(sys.argv[1]).write_text("started")
deadline = time.time() + 60
while not pathlib.Path(sys.argv[2]).exists() and time.time() < deadline:
    time.sleep(0.05)
pathlib.Path("work.txt").write_text("done")
"""


def test_a_runner_whose_clock_runs_fast_never_takes_a_live_task(project: Project, tmp_path: Path) -> None:
    task_id = project.submit("twenty minutes of honest work")
    started, finish = tmp_path / "started", tmp_path / "finish"
    agent = script(tmp_path, "work.py", WORK_UNTIL_TOLD) + f" {started} {finish}"
    healthy = project.daemon("healthy", agent_command=agent, lease_ttl_seconds=60)
    runner = threading.Thread(target=run_once, args=(healthy,))
    runner.start()
    try:
        wait_for(started.exists)
        fast = project.daemon("fast", agent="scripted", clock=FastClock())
        assert run_once(fast) == 0  # by its clock the lease expired 9 minutes ago; it saw it a moment ago
        task = project.state().tasks[task_id]
        assert task.status == TaskStatus.RUNNING and task.lease is not None and task.lease.runner == "healthy"
        assert len(task.attempts) == 1
        wait_for(lambda: any("dated" in line for line in healthy.lines))  # type: ignore[attr-defined]
    finally:
        finish.write_text("go")
        runner.join(timeout=60)
    task = project.state().tasks[task_id]
    assert task.status == TaskStatus.SUCCEEDED and [a.runner for a in task.attempts] == ["healthy"]
    told = next(line for line in healthy.lines if "dated" in line)  # type: ignore[attr-defined]
    assert "coordinator (fast)" in told and "ahead of this machine's clock" in told
    status = CliRunner().invoke(cli, ["--remote", str(project.origin), "status"])
    fast_row = next(line for line in status.output.splitlines() if line.startswith("fast "))
    assert "clock 9m" in fast_row or "clock 10m" in fast_row
