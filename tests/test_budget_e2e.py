"""Budgets and spend end to end: the commands a user types (``coordinator budget``, ``runner --once``,
``status``, ``show``, ``claim``) as subprocesses on a real bare remote, a runner loop that claims again when the
UTC day turns (simulated clock), and a real ``claude`` attempt cut short by its timeout whose spend is counted.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from coordinator.core import transitions as T
from coordinator.core.spend import spend_record, utc_day
from coordinator.core.transitions.budget import set_budget
from coordinator.models import AttemptOutcome, AttemptResult, Budget, TaskStatus
from coordinator.modes import Mode, ModesConfig
from tests.fakes.anthropic_api import FakeAnthropic, Reply, Text, ToolUse, last_user_text
from tests.fakes.claude_env import claude_env
from tests.fakes.clock import FakeClock
from tests.runner_helpers import Project, run_once
from tests.user_machine import run, user_env

AGENT = """
import json, pathlib
pathlib.Path("work.txt").write_text("done\\n")
print(json.dumps({"summary": "did it", "cost_usd": 0.6, "model": "haiku"}))
"""


def _agent(tmp_path: Path) -> str:
    script = tmp_path / "agent.py"
    script.write_text(AGENT, encoding="utf-8")
    return f"{sys.executable} {script}"


def _ok(result: Any) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return str(result.stdout)


def test_a_daily_cap_stops_the_runner_and_every_command_says_why(project: Project, tmp_path: Path) -> None:
    env = user_env(tmp_path / "home")
    remote = ["--remote", str(project.origin)]
    said = _ok(run([*remote, "budget", "--daily", "1"], env))
    assert said.splitlines()[0].endswith(": max_daily_usd none -> $1.00")
    for title in ("first", "second", "third"):
        _ok(run([*remote, "submit", title], env))
    runner = ["runner", "--name", "box-1", "--repo", str(project.clone("box")), "--agent", "command"]
    runner += ["--agent-command", _agent(tmp_path), "--once"]

    ran = run(runner, env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    log = ran.stdout + ran.stderr
    assert "not claiming: the daily budget is spent: $1.20 of $1.00" in log
    assert log.count("not claiming:") == 1

    status = _ok(run([*remote, "status"], env))
    assert "spend today: $1.2000 of $1.00" in status and "(1 queued task waits for it)" in status
    shown = _ok(run([*remote, "show", "task-3"], env))
    assert "  waiting:   the daily budget is spent: $1.20 of $1.00" in shown
    claim = run([*remote, "claim", "--runner", "by-hand"], env)
    assert claim.returncode == 3 and claim.stderr.startswith("nothing to claim: the daily budget is spent")
    figures = json.loads(_ok(run([*remote, "budget", "--json"], env)))
    assert (figures["max_daily_usd"], figures["spent_today_usd"], figures["reached"]) == (1.0, 1.2, True)
    assert figures["days"][0]["attempts"] == 2
    assert json.loads(_ok(run([*remote, "status", "--json"], env)))["budget"]["reached"] is True

    _ok(run([*remote, "budget", "--daily", "5"], env))
    _ok(run(runner, env))
    state = project.state()
    assert state.tasks["task-3"].status == TaskStatus.SUCCEEDED
    assert "spend today: $1.8000 of $5.00" in _ok(run([*remote, "status"], env))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--daily", "lots"], "error: --daily 'lots': not an amount of US dollars; use e.g. --daily 25"),
        (["--daily", "-3"], "error: --daily '-3': use an amount of at least 0 (0 stops all paid work), or --no-cap"),
        (["--daily", "nan"], "error: --daily 'nan': use an amount of at least 0"),
        (["--daily", "1e9"], "error: --daily: invalid max_daily_usd: Input should be less than or equal to 1000000"),
        (["--daily", "5", "--no-cap"], "error: --daily and --no-cap contradict each other: give one of them"),
    ],
)
def test_bad_amounts_are_one_line_errors_and_change_nothing(
    project: Project, tmp_path: Path, args: list[str], message: str
) -> None:
    env = user_env(tmp_path / "home")
    result = run(["--remote", str(project.origin), "budget", *args], env)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr
    assert project.state().config.budget.max_daily_usd is None


def test_no_cap_is_the_default_and_can_be_set_back(project: Project, tmp_path: Path) -> None:
    env = user_env(tmp_path / "home")
    remote = ["--remote", str(project.origin)]
    shown = _ok(run([*remote, "budget"], env))
    assert shown.startswith("daily cap: none (set one with 'coordinator budget --daily USD')\nspend today: $0.0000")
    _ok(run([*remote, "budget", "--daily", "$2.50"], env))
    assert project.state().config.budget.max_daily_usd == 2.5
    assert _ok(run([*remote, "budget", "--no-cap"], env)).startswith("set budget by ")
    assert project.state().config.budget.max_daily_usd is None


def _wait_for(predicate: Any, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_runner_held_back_by_the_cap_claims_again_when_the_utc_day_turns(project: Project, tmp_path: Path) -> None:
    evening = datetime(2026, 11, 29, 23, 59, 0, tzinfo=UTC)
    project.update(lambda s, _now: set_budget(s, budget=Budget(max_daily_usd=1.0), by="test"))
    spent = project.submit("spent the day's budget")
    ttl = timedelta(minutes=10)
    project.update(lambda s, now: T.claim(s, runner="earlier", capabilities=(), lease_ttl=ttl, now=now))
    result = AttemptResult(cost_usd=1.0, finished_at=evening)
    project.update(lambda s, now: T.complete(s, task_id=spent, runner="earlier", result=result, now=now))
    assert spend_record(project.state(), "2026-11-29").cost_usd == 1.0
    waiting = project.submit("waits for tomorrow")

    clock = FakeClock(evening)
    daemon = project.daemon("r1", agent_command=_agent(tmp_path), poll_seconds=20, clock=clock)
    loop = threading.Thread(target=daemon.run, name="runner-main")
    loop.start()
    try:
        _wait_for(lambda: project.state().tasks[waiting].status == TaskStatus.SUCCEEDED)
    finally:
        daemon.request_stop()
        loop.join(timeout=30)
        daemon.store.close()
    lines: list[str] = daemon.lines  # type: ignore[attr-defined]
    assert sum(line.startswith("not claiming: the daily budget is spent") for line in lines) == 1
    assert "the daily budget allows claims again: claiming" in lines
    attempt = project.state().tasks[waiting].attempts[0]
    assert attempt.started_at is not None and attempt.started_at >= datetime(2026, 11, 30, tzinfo=UTC)
    assert spend_record(project.state(), "2026-11-30").cost_usd == 0.6


@pytest.mark.slow
def test_a_real_claude_attempt_stopped_by_its_timeout_is_counted_and_escalates(
    project: Project, claude_exe: str, tmp_path: Path
) -> None:
    """The issue's case: the haiku attempt timed out and its spend vanished. Now it is recorded (partial)."""
    modes = ModesConfig(
        modes={
            "simple": Mode(model="haiku", max_turns=5, timeout_seconds=8, escalate_to="complex"),
            "complex": Mode(model="sonnet", max_turns=5, timeout_seconds=120),
        }
    )
    project.update(lambda s, _now: T.set_modes(s, modes=modes, by="test"))
    task_id = project.submit("Write notes")
    second_haiku_turn, release = threading.Event(), threading.Event()
    holder: dict[str, Any] = {}

    def reply(body: dict[str, Any]) -> Reply:
        text = last_user_text(body)
        if "File created successfully" not in text and "has been updated" not in text:  # an attempt's first turn
            return ToolUse.write(str(holder["daemon"].worktrees.path_for(task_id) / "notes.md"), "notes\n")
        if "haiku" in str(body.get("model")):
            second_haiku_turn.set()
            release.wait(60)
        return Text("Wrote notes.md.")

    with FakeAnthropic(reply) as api:
        daemon = project.daemon(
            "runner-a", agent="claude", claude_path=claude_exe, agent_env=claude_env(api.url, tmp_path / "home")
        )
        holder["daemon"] = daemon
        try:
            run_once(daemon)
        finally:
            release.set()
    assert second_haiku_turn.is_set(), "the first haiku turn did not finish within its timeout: machine too slow"
    task = project.state().tasks[task_id]
    assert task.status == TaskStatus.SUCCEEDED, daemon.lines  # type: ignore[attr-defined]
    cut, done = task.attempts
    assert (cut.outcome, cut.outcome_detail, cut.cost_partial) == (AttemptOutcome.FAILED, "timeout", True)
    assert cut.cost_usd is not None and cut.cost_usd > 0 and cut.tokens is not None and cut.tokens.input > 0
    assert done.cost_partial is None and done.cost_usd is not None
    record = spend_record(project.state(), utc_day(done.finished_at or datetime.now(UTC)))
    assert record.cost_usd == pytest.approx(cut.cost_usd + done.cost_usd, abs=2e-6)
    assert (record.attempts, record.partial_attempts) == (2, 1)
