"""Plans end to end (issue 13): a plan of three subtasks (b depends on a) runs on two runner processes at once
(a and c in parallel, b after a); the subtasks' branches are merged into the plan's branch; the verify command
fails once there, one fix child mends it, verify passes, and the plan succeeds with one report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from coordinator.models import Task, TaskStatus
from tests.gitutil import git
from tests.runner_helpers import Project
from tests.user_machine import run, start, user_env

AGENT = """
import json, os, pathlib, sys, time
kind, task = os.environ["COORDINATOR_TASK_KIND"], os.environ["COORDINATOR_TASK_ID"]
plan = json.loads(pathlib.Path(sys.argv[1]).read_text())
cost = {"plan": 0.02, "task": 0.01, "fix": 0.03, "verify": 0.005}[kind]
if kind == "plan":
    pathlib.Path(".coordinator").mkdir(exist_ok=True)
    pathlib.Path(".coordinator/plan.json").write_text(json.dumps(plan))
elif kind == "task":
    key = plan["subtasks"][int(task.rsplit(".", 1)[1]) - 1]["key"]
    pathlib.Path(sys.argv[1] + "." + task + ".pid").write_text(str(os.getpid()))
    time.sleep(float(sys.argv[2]))
    assert all(pathlib.Path(d + ".txt").is_file() for d in plan["subtasks"][ord(key) - ord("a")].get("depends_on", []))
    pathlib.Path(key + ".txt").write_text(key + " by " + task + "\\n")
    pathlib.Path("shared.txt").write_text(key + "\\n") if len(sys.argv) > 3 else None
elif kind == "fix":
    body = sys.stdin.read()
    if "The merge to finish" in body:
        pathlib.Path("shared.txt").write_text("a\\nc\\n")
    else:
        assert "missing fixed.txt" in body, body
        pathlib.Path("fixed.txt").write_text("mended\\n")
print(json.dumps({"summary": kind + " " + task + " done", "cost_usd": cost}))
"""

CHECK = """
import pathlib, sys
missing = [n for n in sys.argv[1:] if not pathlib.Path(n).is_file()]
marked = [p.name for p in pathlib.Path().glob("*.txt") if "<<<<<<<" in p.read_text()]
print("missing " + ", ".join(missing) if missing else "all there", "conflict markers in", marked)
sys.exit(1 if missing or marked else 0)
"""

PLAN = {
    "subtasks": [
        {"key": "a", "title": "Do a"},
        {"key": "b", "title": "Do b", "depends_on": ["a"]},
        {"key": "c", "title": "Do c"},
    ]
}


def _write(tmp_path: Path, plan: dict[str, object]) -> tuple[Path, Path, Path]:
    paths = tmp_path / "plan.json", tmp_path / "agent.py", tmp_path / "check.py"
    paths[0].write_text(json.dumps(plan))
    paths[1].write_text(AGENT)
    paths[2].write_text(CHECK)
    return paths


def _runners(project: Project, tmp_path: Path, agent_line: str, count: int = 2) -> list[subprocess.Popen[str]]:
    """``count`` runner processes, each like on its own machine (its own HOME and clone)."""
    procs = []
    for n in range(1, count + 1):
        args = ["runner", "--name", f"r{n}", "--repo", str(project.clone(f"box{n}")), "--poll", "0.2"]
        args += ["--agent", "command", "--agent-command", agent_line]
        procs.append(start(args, user_env(tmp_path / f"home{n}", {"COORDINATOR_REMOTE": str(project.origin)})))
    return procs


def _wait_until_ended(project: Project, task_id: str, procs: list[subprocess.Popen[str]], timeout: float) -> Task:
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            task = project.state().tasks.get(task_id)
            if task is not None and task.is_terminal:
                return task
            assert all(p.poll() is None for p in procs), [p.communicate()[0] for p in procs]
            time.sleep(0.3)
        raise AssertionError(f"{task_id} did not end within {timeout} s: {project.state().tasks.get(task_id)}")
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        for proc in procs:
            out, _ = proc.communicate(timeout=60)
            assert proc.returncode == 0, out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _overlap(x: Task, y: Task) -> bool:
    (xa,), (ya,) = x.attempts, y.attempts
    assert xa.started_at and xa.finished_at and ya.started_at and ya.finished_at
    return xa.started_at < ya.finished_at and ya.started_at < xa.finished_at


@pytest.mark.slow
@pytest.mark.skipif(os.name == "nt", reason="POSIX signals and paths")
def test_a_plan_runs_on_two_runners_verifies_fixes_once_and_reports(project: Project, tmp_path: Path) -> None:
    plan_file, agent, check = _write(tmp_path, PLAN)
    env = user_env(tmp_path / "home", {"COORDINATOR_REMOTE": str(project.origin)})
    verify = f"{sys.executable} {check} a.txt b.txt c.txt fixed.txt"
    made = run(["plan", "Build a, b and c", "--body", "three pieces", "--verify-command", verify], env)
    assert made.returncode == 0, made.stderr
    plan_id = made.stdout.strip()
    procs = _runners(project, tmp_path, f"{sys.executable} {agent} {plan_file} 2")
    plan = _wait_until_ended(project, plan_id, procs, timeout=240)
    tasks = project.state().tasks
    assert plan.status == TaskStatus.SUCCEEDED, plan.status_reason
    a, b, c = (tasks[f"{plan_id}.{n}"] for n in (1, 2, 3))
    assert _overlap(a, c) and a.attempts[0].runner != c.attempts[0].runner  # in parallel, on both machines
    a_end, b_start = a.attempts[0].finished_at, b.attempts[0].started_at
    assert a_end is not None and b_start is not None and b_start >= a_end  # b after a
    v1, f1, v2 = tasks[f"{plan_id}.v1"], tasks[f"{plan_id}.f1"], tasks[f"{plan_id}.v2"]
    assert v1.kind == "verify" and v1.status == TaskStatus.FAILED and len(v1.attempts) == 1  # red: not retried
    red = v1.attempts[0].verification
    assert red is not None and not red.passed and red.exit_code == 1 and "missing fixed.txt" in red.output
    assert red.merged == [a.id, b.id, c.id]
    assert f1.kind == "fix" and f1.status == TaskStatus.SUCCEEDED and v2.status == TaskStatus.SUCCEEDED
    green = v2.attempts[0].verification
    assert green is not None and green.passed and green.merged == []  # nothing new to merge after the fix

    assert plan.plan is not None and plan.plan.report is not None
    report = plan.plan.report
    assert [line.id for line in report.children] == [a.id, b.id, c.id, v1.id, f1.id, v2.id]
    assert report.verify_runs == 2 and report.fixes == 1
    assert report.cost_usd == pytest.approx(0.02 + 3 * 0.01 + 0.03 + 2 * 0.0)
    assert report.speedup is not None and report.wall_seconds is not None and report.head == green.head

    # The plan's branch in the repository holds everything: the three subtasks and the fix.
    files = git("ls-tree", "--name-only", f"refs/heads/coordinator/{plan_id}", cwd=project.origin).split()
    assert {"a.txt", "b.txt", "c.txt", "fixed.txt"} <= set(files) and ".coordinator" not in files
    assert git("rev-parse", f"refs/heads/coordinator/{plan_id}", cwd=project.origin).strip() == report.head
    # The subtasks' branches, now in the plan's, left the repository: only the plan's branch stays.
    left = git("for-each-ref", "--format=%(refname:short)", "refs/heads/coordinator/", cwd=project.origin).split()
    assert [b for b in left if b.startswith(f"coordinator/{plan_id}")] == [f"coordinator/{plan_id}"], left

    events = json.loads(run(["log", "--task", plan_id, "--json"], env).stdout)
    queued = [(e["kind"], e.get("detail")) for e in events if e["kind"] in ("checks queued", "plan ended")]
    assert queued == [
        ("plan ended", "succeeded"),
        ("checks queued", f"{f1.id}, {v2.id}: {f1.id} mends what {v1.id} found"),
        ("checks queued", f"{v1.id}: verifying its integrated branch"),
    ], queued
    shown = run(["show", plan_id], env).stdout
    assert "verify runs: 2, fixes: 1, total cost: $0.0800" in shown, shown
    assert f"{v1.id}" in shown and "red" in shown and "green" in shown


@pytest.mark.slow
@pytest.mark.skipif(os.name == "nt", reason="POSIX signals and paths")
def test_a_merge_conflict_becomes_a_fix_child_that_resolves_it(project: Project, tmp_path: Path) -> None:
    plan_file, agent, check = _write(tmp_path, PLAN)
    env = user_env(tmp_path / "home", {"COORDINATOR_REMOTE": str(project.origin)})
    made = run(["plan", "Build a, b and c", "--verify-command", f"{sys.executable} {check} a.txt b.txt c.txt"], env)
    plan_id = made.stdout.strip()
    # a and c both write shared.txt, differently: merging c after a conflicts.
    procs = _runners(project, tmp_path, f"{sys.executable} {agent} {plan_file} 0 conflict", count=1)
    plan = _wait_until_ended(project, plan_id, procs, timeout=240)
    tasks = project.state().tasks
    assert plan.status == TaskStatus.SUCCEEDED, plan.status_reason
    v1, f1, v2 = tasks[f"{plan_id}.v1"], tasks[f"{plan_id}.f1"], tasks[f"{plan_id}.v2"]
    found = v1.attempts[0].verification
    assert found is not None and found.conflict == f"{plan_id}.3" and found.merged == [f"{plan_id}.1", f"{plan_id}.2"]
    assert "shared.txt" in found.output and v1.status_reason and "conflicts" in v1.status_reason
    assert f1.merge == f"{plan_id}.3" and f1.title == f"Resolve the merge of {plan_id}.3"
    assert v2.attempts[0].verification and v2.attempts[0].verification.passed
    head = f"refs/heads/coordinator/{plan_id}"
    assert git("show", f"{head}:shared.txt", cwd=project.origin) == "a\nc\n"
    assert f1.attempts[0].commit is not None
    parents = git("log", "-1", "--format=%P", f1.attempts[0].commit, cwd=project.origin).split()
    assert len(parents) == 2  # the fix finished the merge: c's branch is in the plan's history


@pytest.mark.slow
@pytest.mark.skipif(os.name == "nt", reason="POSIX signals and paths")
def test_cancelling_a_plan_stops_its_running_subtasks(project: Project, tmp_path: Path) -> None:
    plan_file, agent, _ = _write(tmp_path, PLAN)
    env = user_env(tmp_path / "home", {"COORDINATOR_REMOTE": str(project.origin)})
    plan_id = run(["plan", "Build a, b and c", "--verify-command", "true"], env).stdout.strip()
    args = ["runner", "--name", "r1", "--repo", str(project.clone("box")), "--poll", "0.2", "--slots", "3"]
    args += ["--agent", "command", "--agent-command", f"{sys.executable} {agent} {plan_file} 120"]
    proc = start(args, user_env(tmp_path / "home1", {"COORDINATOR_REMOTE": str(project.origin)}))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if all(Path(f"{plan_file}.{plan_id}.{n}.pid").is_file() for n in (1, 3)):  # a and c run at once
                break
            time.sleep(0.3)
        else:
            proc.send_signal(signal.SIGINT)
            raise AssertionError(f"a and c never ran: {proc.communicate(timeout=60)[0]}")
        asked = time.monotonic()
        cancelled = run(["cancel", plan_id], env)
        assert cancelled.returncode == 0, cancelled.stderr
        tasks = project.state().tasks
        assert {tasks[f"{plan_id}.{n}"].status for n in (1, 2, 3)} == {TaskStatus.CANCELLED}
        pids = [int(Path(f"{plan_file}.{plan_id}.{n}.pid").read_text()) for n in (1, 3)]
        deadline = time.monotonic() + 60  # the agents sleep 120 s unless they are stopped
        while any(_alive(pid) for pid in pids):
            assert time.monotonic() < deadline, "the running subtasks' agents were not stopped"
            time.sleep(0.2)
        print(f"agents stopped {time.monotonic() - asked:.1f} s after the cancel")
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert f"{plan_id}.v1" not in project.state().tasks
