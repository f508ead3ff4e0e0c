"""Runners as real OS processes (`coordinator runner`): kill -9 recovery, SIGTERM, slots, dry runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from coordinator.models import AttemptOutcome, TaskStatus
from tests.gitutil import branch_log
from tests.runner_helpers import Project

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.name == "nt", reason="POSIX signals")]
ROOT = Path(__file__).resolve().parents[1]


def runner_process(project: Project, name: str, agent_script: Path, *extra: str, **env: str) -> subprocess.Popen[str]:
    clone = project.clone(name)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "coordinator",
            "runner",
            "--name",
            name,
            "--repo",
            str(clone),
            "--agent",
            "command",
            "--agent-command",
            f"{sys.executable} {agent_script}",
            "--poll",
            "0.1",
            "--log-dir",
            str(project.root / "logs" / name),
            *extra,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
    )


def wait_until(predicate, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def run_runner(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`coordinator runner ARGS` to completion, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "coordinator", "runner", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        check=False,
    )


def test_killed_runner_loses_its_lease_and_another_finishes_the_task(project: Project, tmp_path: Path) -> None:
    task_id = project.submit("survive a crash")
    slow = tmp_path / "slow.py"
    slow.write_text("import time, pathlib; pathlib.Path('started').write_text('x'); time.sleep(120)")
    quick = tmp_path / "quick.py"
    quick.write_text("import pathlib; pathlib.Path('done.txt').write_text('finished by b'); print('ok')")

    a = runner_process(project, "runner-a", slow, "--lease-ttl", "4")
    try:
        wait_until(lambda: project.state().tasks[task_id].status == TaskStatus.RUNNING)
        time.sleep(0.5)
        os.kill(a.pid, signal.SIGKILL)  # no chance to release anything
        a.wait(timeout=10)
    finally:
        if a.poll() is None:
            a.kill()
    assert project.state().tasks[task_id].lease.runner == "runner-a"  # type: ignore[union-attr]

    b = runner_process(project, "runner-b", quick, "--lease-ttl", "30")  # a daemon, polling
    try:
        wait_until(lambda: project.state().tasks[task_id].status == TaskStatus.SUCCEEDED, timeout=60)
        b.send_signal(signal.SIGTERM)
        out, _ = b.communicate(timeout=30)
    finally:
        if b.poll() is None:
            b.kill()
    assert b.returncode == 0, out
    task = project.state().tasks[task_id]
    assert task.status == TaskStatus.SUCCEEDED
    assert len(task.attempts) == 2
    assert [a.outcome for a in task.attempts] == [AttemptOutcome.LEASE_EXPIRED, AttemptOutcome.SUCCEEDED]
    assert [a.runner for a in task.attempts] == ["runner-a", "runner-b"]
    assert task.counted_attempts() == 2
    assert any(
        s.startswith(f"requeue {task_id} (lease of runner-a expired)") or f"requeue {task_id}" in s
        for s in branch_log(project.origin)
    )


def test_sigterm_gives_a_grace_period_then_requeues_and_exits_cleanly(project: Project, tmp_path: Path) -> None:
    task_id = project.submit("long job")
    slow = tmp_path / "slow.py"
    slow.write_text("import time; time.sleep(120)")
    proc = runner_process(project, "runner-a", slow, "--shutdown-grace", "1")
    try:
        wait_until(lambda: project.state().tasks[task_id].status == TaskStatus.RUNNING)
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "stopping" in out
    task = project.state().tasks[task_id]
    assert task.status == TaskStatus.QUEUED
    assert task.counted_attempts() == 0
    runner = project.state().runners["runner-a"]
    assert runner.state.value == "stopped"
    # No worktree is left behind (they live in the data folder: COORDINATOR_DATA_DIR, set by conftest).
    assert not list((Path(os.environ["COORDINATOR_DATA_DIR"]) / "wt").glob("*/runner-a/task-*"))


def test_two_runners_with_two_slots_run_each_of_20_tasks_exactly_once(project: Project, tmp_path: Path) -> None:
    ran = tmp_path / "ran.log"
    agent = tmp_path / "agent.py"
    agent.write_text(
        "import os, time, random\n"
        f"with open({str(ran)!r}, 'a') as f: f.write(os.environ['COORDINATOR_TASK_ID'] + '\\n')\n"
        "time.sleep(random.uniform(0.05, 0.3))\n"
    )
    from coordinator.core import transitions as T

    state = project.state()
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    tasks = tuple(
        T.submit(state, T.SubmitRequest(title=f"job {i}", task_id=f"job-{i:02d}"), now).tasks[0] for i in range(20)
    )
    project.update(lambda s, n: T.Change(message="seed 20 tasks", tasks=tasks))

    procs = [runner_process(project, name, agent, "--slots", "2", "--once") for name in ("runner-a", "runner-b")]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs

    runs = Counter(ran.read_text().split())
    assert runs == Counter({f"job-{i:02d}": 1 for i in range(20)})
    final = project.state()
    assert all(t.status == TaskStatus.SUCCEEDED and len(t.attempts) == 1 for t in final.tasks.values())
    by_runner = Counter(t.attempts[0].runner for t in final.tasks.values())
    assert set(by_runner) == {"runner-a", "runner-b"}, by_runner


def test_dry_run_shows_the_next_claim_and_the_exact_command_and_changes_nothing(project: Project) -> None:
    project.submit("low", priority="low")  # type: ignore[arg-type]
    project.submit("urgent", priority="critical")  # type: ignore[arg-type]
    before = branch_log(project.origin)
    clone = project.clone("runner-a")
    result = run_runner(
        "--name",
        "runner-a",
        "--repo",
        str(clone),
        "--agent",
        "command",
        "--agent-command",
        "my-agent --flag",
        "--dry-run",
    )
    assert result.returncode == 0, result.stderr
    assert "would claim task-2 (attempt 1, mode simple)" in result.stdout
    assert "my-agent --flag" in result.stdout
    assert branch_log(project.origin) == before


def test_runner_config_file_is_read_and_flags_win(project: Project, tmp_path: Path) -> None:
    clone = project.clone("runner-x")
    config = tmp_path / "runner.toml"
    config.write_text(
        f'name = "from-file"\nrepo = {json.dumps(str(clone))}\ncapabilities = ["gpu"]\nagent = "command"\n'
        'agent_command = "from-file-agent"\n'
    )
    result = run_runner("--config", str(config), "--name", "from-flag", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "dry run of runner from-flag (capabilities [gpu])" in result.stdout

    config.write_text('name = "x"\nslots = "many"\n')
    bad = run_runner("--config", str(config), "--repo", str(clone), "--dry-run")
    assert bad.returncode == 2
    assert "slots" in bad.stderr and "Traceback" not in bad.stderr


def test_runner_errors_name_what_to_do(project: Project, tmp_path: Path) -> None:
    not_repo = run_runner("--name", "r", "--repo", str(tmp_path), "--agent", "command", "--agent-command", "x")
    assert not_repo.returncode == 2
    assert "is not a git repository" in not_repo.stderr
    clone = project.clone("r")
    no_cmd = run_runner("--name", "r", "--repo", str(clone), "--agent", "command")
    assert no_cmd.returncode == 2
    assert "--agent-command" in no_cmd.stderr
    no_claude = run_runner("--name", "r", "--repo", str(clone), "--claude-path", "definitely-not-claude")
    assert no_claude.returncode == 2
    assert "npm install -g @anthropic-ai/claude-code" in no_claude.stderr


def test_missing_name_says_which_flag_or_config_key(tmp_path: Path) -> None:
    result = run_runner("--repo", str(tmp_path), COORDINATOR_RUNNER_CONFIG=str(tmp_path / "none.toml"))
    assert result.returncode == 2
    assert "--name is required: pass it, or set name in" in result.stderr
