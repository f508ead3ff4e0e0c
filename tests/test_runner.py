"""The runner loop in-process: worktrees, results, escalation, limits, cancellation, outbox, dry runs."""

from __future__ import annotations

import json
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from coordinator.core import transitions as T
from coordinator.models import AttemptOutcome, AttemptResult, RunnerState, TaskStatus
from coordinator.runner.daemon import EXIT_MISCONFIGURED, EXIT_OK
from coordinator.runner.outbox import Outbox, Report
from tests.fakes.claude_env import make_fake_claude
from tests.runner_helpers import Project, branch_files, run_once


def script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text(body)
    return f"{sys.executable} {path}"


WRITE_FILE = """
import os, sys, pathlib
prompt = sys.stdin.read()
task = os.environ["COORDINATOR_TASK_ID"]
pathlib.Path(f"out-{task}.txt").write_text(prompt)
print("wrote the file for", task, "in mode", os.environ["COORDINATOR_MODE"])
"""


def test_once_runs_every_task_and_commits_on_the_task_branch(project: Project, tmp_path: Path) -> None:
    first = project.submit("first task", body="do the first thing")
    second = project.submit("second task")
    daemon = project.daemon("runner-a", agent_command=script(tmp_path, "w.py", WRITE_FILE))
    assert run_once(daemon) == EXIT_OK
    state = project.state()
    for task_id in (first, second):
        task = state.tasks[task_id]
        assert task.status == TaskStatus.SUCCEEDED
        attempt = task.attempts[0]
        assert attempt.branch == f"coordinator/{task_id}"
        assert attempt.commit and len(attempt.commit) == 40
        assert attempt.log and Path(attempt.log).exists()
        assert "wrote the file" in Path(attempt.log).read_text()
        assert f"out-{task_id}.txt" in branch_files(daemon.config.repo, f"coordinator/{task_id}")
        assert "wrote the file" in (attempt.summary or "")
    prompt = (daemon.worktrees.repo / ".git").exists()
    assert prompt
    runner = state.runners["runner-a"]
    assert runner.state == RunnerState.STOPPED
    assert runner.running == []
    # worktrees are removed after each task; branches stay
    assert not any((project.root / "worktrees" / "runner-a").glob("task-*"))


def test_prompt_carries_title_body_and_the_branch(project: Project, tmp_path: Path) -> None:
    task_id = project.submit("Fix the login bug", body="Users cannot log in with SSO.")
    daemon = project.daemon("runner-a", agent_command=script(tmp_path, "w.py", WRITE_FILE))
    run_once(daemon)
    from tests.gitutil import git

    prompt = git("show", f"coordinator/{task_id}:out-{task_id}.txt", cwd=daemon.config.repo)
    assert "Fix the login bug" in prompt
    assert "Users cannot log in with SSO." in prompt
    assert f"coordinator/{task_id}" in prompt


def test_failure_escalates_to_the_next_mode_and_records_each_attempt(project: Project) -> None:
    task_id = project.submit("hard one", body="[demo: fail-in simple] [demo: seconds 0.05]")
    daemon = project.daemon("runner-a", agent="scripted")
    run_once(daemon)
    task = project.state().tasks[task_id]
    assert task.status == TaskStatus.SUCCEEDED
    assert [(a.mode, a.outcome, a.model) for a in task.attempts] == [
        ("simple", AttemptOutcome.FAILED, "haiku"),
        ("complex", AttemptOutcome.SUCCEEDED, "sonnet"),
    ]
    assert task.attempts[0].outcome_detail == "max_turns"
    assert all(a.cost_usd and a.cost_usd > 0 for a in task.attempts)
    assert task.mode == "complex"


def test_exhausted_attempts_fail_the_task(project: Project, tmp_path: Path) -> None:
    task_id = project.submit("always fails", max_attempts=2)
    failing = script(tmp_path, "f.py", "import sys; print('boom'); sys.exit(3)")
    daemon = project.daemon("runner-a", agent_command=failing)
    run_once(daemon)
    task = project.state().tasks[task_id]
    assert task.status == TaskStatus.FAILED
    assert [a.mode for a in task.attempts] == ["simple", "complex"]
    assert "attempts exhausted" in (task.status_reason or "")


def fake_claude_daemon(project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str):  # type: ignore[no-untyped-def]
    exe = make_fake_claude(tmp_path / "bin")
    monkeypatch.setenv("FAKE_CLAUDE_CASE", case)
    monkeypatch.setenv("FAKE_CLAUDE_ARGV_LOG", str(tmp_path / "argv.jsonl"))
    return project.daemon("runner-a", agent="claude", claude_path=str(exe))


def test_usage_limit_requeues_without_using_an_attempt_and_cools_the_runner_down(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_id = project.submit("limited")
    daemon = fake_claude_daemon(project, tmp_path, monkeypatch, "v330_quota")
    assert run_once(daemon) == EXIT_OK
    state = project.state()
    task = state.tasks[task_id]
    assert task.status == TaskStatus.QUEUED
    assert task.counted_attempts() == 0
    assert task.attempts[0].outcome == AttemptOutcome.RELEASED
    assert "usage limit" in (task.attempts[0].reason or "")
    runner = state.runners["runner-a"]
    assert runner.cooldown_until is not None
    # resetsAt of the captured rate_limit_event, or a minute from now when that moment has passed already
    expected = max(1795314635, time.time() + 60)
    assert abs(runner.cooldown_until.timestamp() - expected) < 30
    assert any("cools down until" in line for line in daemon.lines)  # type: ignore[attr-defined]
    # It ran once: cooling down means no second claim.
    assert len((tmp_path / "argv.jsonl").read_text().splitlines()) == 1


def test_auth_failure_stops_claiming_and_says_why(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = project.submit("one")
    project.submit("two")
    daemon = fake_claude_daemon(project, tmp_path, monkeypatch, "v330_e401")
    assert run_once(daemon) == EXIT_MISCONFIGURED
    state = project.state()
    assert all(t.status == TaskStatus.QUEUED for t in state.tasks.values())
    assert state.tasks[first].counted_attempts() == 0
    assert len((tmp_path / "argv.jsonl").read_text().splitlines()) == 1  # the second task was not claimed
    runner = state.runners["runner-a"]
    assert "cannot authenticate" in (runner.message or "")
    assert any("stops claiming" in line for line in daemon.lines)  # type: ignore[attr-defined]


def test_claude_command_line_comes_from_the_mode(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.submit("x", mode="complex")
    daemon = fake_claude_daemon(project, tmp_path, monkeypatch, "v330_basic")
    run_once(daemon)
    argv = json.loads((tmp_path / "argv.jsonl").read_text().splitlines()[0])["argv"]
    assert argv[argv.index("--model") + 1] == "sonnet"
    assert argv[argv.index("--max-turns") + 1] == "50"
    assert argv[argv.index("--output-format") + 1] == "stream-json"  # read as it streams: spend is never lost
    assert "--verbose" in argv and "--include-partial-messages" in argv
    assert "--max-budget-usd" in argv
    task = project.state().tasks["task-1"]
    assert task.status == TaskStatus.SUCCEEDED
    assert task.attempts[0].session_id
    assert task.attempts[0].tokens is not None and task.attempts[0].tokens.input > 0


def test_cancel_stops_the_running_agent(project: Project, tmp_path: Path) -> None:
    task_id = project.submit("slow")
    daemon = project.daemon("runner-a", agent_command=script(tmp_path, "s.py", "import time; time.sleep(60)"))
    thread = threading.Thread(target=daemon.run, kwargs={"once": True})
    started = time.monotonic()
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while project.state().tasks[task_id].status != TaskStatus.RUNNING and time.monotonic() < deadline:
            time.sleep(0.05)
        project.update(lambda s, now: T.cancel(s, task_id=task_id, now=now, by="tester"))
        thread.join(timeout=30)
        assert not thread.is_alive()
    finally:
        daemon.request_stop(force=True)
        thread.join()
        daemon.store.close()
    assert time.monotonic() - started < 20
    task = project.state().tasks[task_id]
    assert task.status == TaskStatus.CANCELLED
    assert task.attempts[0].outcome == AttemptOutcome.CANCELLED


def test_stop_request_releases_the_task_without_using_an_attempt(project: Project, tmp_path: Path) -> None:
    task_id = project.submit("slow")
    daemon = project.daemon(
        "runner-a", agent_command=script(tmp_path, "s.py", "import time; time.sleep(60)"), shutdown_grace_seconds=0.5
    )
    thread = threading.Thread(target=daemon.run)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not daemon.running_task_ids and time.monotonic() < deadline:
            time.sleep(0.05)
        daemon.request_stop()
        thread.join(timeout=30)
        assert not thread.is_alive()
    finally:
        daemon.store.close()
    task = project.state().tasks[task_id]
    assert task.status == TaskStatus.QUEUED
    assert task.counted_attempts() == 0
    assert "shut down" in (task.attempts[0].reason or "")


def test_pending_results_of_a_crashed_run_are_delivered_at_start(project: Project, tmp_path: Path) -> None:
    task_id = project.submit("x")
    project.update(
        lambda s, now: T.claim(s, runner="runner-a", capabilities=(), lease_ttl=timedelta(minutes=5), now=now)
    )
    daemon = project.daemon("runner-a", agent="scripted")
    Outbox(daemon.log_dir / "outbox").put(
        Report(
            kind="complete",
            task_id=task_id,
            attempt=1,
            runner="runner-a",
            result=AttemptResult(summary="finished before the crash"),
        )
    )
    run_once(daemon)
    task = project.state().tasks[task_id]
    assert task.status == TaskStatus.SUCCEEDED
    assert task.attempts[0].summary == "finished before the crash"
    assert not list((daemon.log_dir / "outbox").glob("*.json"))


def test_leftover_worktrees_are_removed_at_start(project: Project, tmp_path: Path) -> None:
    daemon = project.daemon("runner-a", agent="scripted")
    leftover = daemon.worktrees.create("task-99", daemon.worktrees.resolve_base(None))
    assert leftover.path.exists()
    run_once(daemon)
    assert not leftover.path.exists()
    assert any("leftover" in line for line in daemon.lines)  # type: ignore[attr-defined]


def test_capabilities_decide_who_runs_what(project: Project) -> None:
    gpu = project.submit("gpu work", requires=("gpu",), body="[demo: seconds 0.05]")
    plain = project.submit("plain work", body="[demo: seconds 0.05]")
    daemon = project.daemon("cpu-box", agent="scripted")
    run_once(daemon)
    state = project.state()
    assert state.tasks[plain].status == TaskStatus.SUCCEEDED
    assert state.tasks[gpu].status == TaskStatus.QUEUED


def test_the_agents_own_failing_verdict_escalates(project: Project, tmp_path: Path) -> None:
    task_id = project.submit("impossible", max_attempts=1)
    agent = script(tmp_path, "v.py", "print('looked around')\nprint('COORDINATOR-VERDICT: failed: cannot reproduce')")
    daemon = project.daemon("runner-a", agent_command=agent)
    run_once(daemon)
    task = project.state().tasks[task_id]
    assert task.status == TaskStatus.FAILED
    assert task.attempts[0].error == "agent's verdict: cannot reproduce"
    assert task.attempts[0].commit is None


def test_a_result_and_the_next_claim_share_one_commit(project: Project, tmp_path: Path) -> None:
    from tests.gitutil import branch_log

    first = project.submit("first", priority="high")  # type: ignore[arg-type]
    second = project.submit("second")
    daemon = project.daemon("runner-a", agent_command=script(tmp_path, "w.py", WRITE_FILE))
    run_once(daemon)
    log = branch_log(project.origin)
    assert any(
        line.startswith(f"complete {first} by runner-a, attempt 1; claim {second} by runner-a, attempt 1")
        for line in log
    ), log
    state = project.state()
    assert state.tasks[second].status == TaskStatus.SUCCEEDED
    # init, 2 submits, heartbeat, claim, complete+claim, complete, final heartbeat
    assert sum(1 for line in log if "claim " in line) == 2
