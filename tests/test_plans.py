"""Plans (issue 13, first part): a plan task's first attempt writes .coordinator/plan.json; its subtasks are
queued as <plan>.<n> with their dependencies in the same commit as the planning result, run on any runner, and
the plan ends as they did. A plan that cannot be used fails the attempt with the validation error."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from coordinator.models import PlanFile, TaskStatus
from tests.runner_helpers import Project
from tests.user_machine import run, user_env

AGENT = """
import json, os, pathlib, sys
kind, task = os.environ["COORDINATOR_TASK_KIND"], os.environ["COORDINATOR_TASK_ID"]
if kind == "plan":
    plan = json.loads(pathlib.Path(sys.argv[1]).read_text())
    pathlib.Path(".coordinator").mkdir(exist_ok=True)
    pathlib.Path(".coordinator/plan.json").write_text(json.dumps(plan))
    print("planned")
else:
    pathlib.Path(task + ".md").write_text("done by " + task + "\\n")
    print("did " + task)
"""

GOOD = {
    "subtasks": [
        {"key": "api", "title": "Add the endpoint", "body": "GET /health"},
        {"key": "docs", "title": "Document it", "depends_on": ["api"]},
        {"key": "cli", "title": "Add a health command", "requires": []},
    ]
}


def _run_plan(project: Project, tmp_path: Path, plan: dict[str, object]) -> tuple[str, str]:
    env = user_env(tmp_path / "home", {"COORDINATOR_REMOTE": str(project.origin)})
    made = run(["plan", "Add a health check", "--body", "an endpoint, a command and docs", "--max-subtasks", "5"], env)
    assert made.returncode == 0, made.stderr
    plan_file, agent = tmp_path / "plan.json", tmp_path / "agent.py"
    plan_file.write_text(json.dumps(plan))
    agent.write_text(AGENT)
    runner = ["runner", "--name", "r1", "--repo", str(project.clone("box")), "--once", "--slots", "2"]
    runner += ["--poll", "0.2", "--agent", "command", "--agent-command", f"{sys.executable} {agent} {plan_file}"]
    done = run(runner, user_env(tmp_path / "home"))
    assert done.returncode == 0, done.stdout + done.stderr
    return made.stdout.strip(), done.stdout


def test_the_plan_schema_refuses_cycles_and_unknown_keys() -> None:
    with pytest.raises(ValueError, match="depends on b, which is not a subtask listed before it"):
        PlanFile.model_validate(
            {"subtasks": [{"key": "a", "title": "A", "depends_on": ["b"]}, {"key": "b", "title": "B"}]}
        )
    with pytest.raises(ValueError, match="two subtasks have the key 'a'"):
        PlanFile.model_validate({"subtasks": [{"key": "a", "title": "A"}, {"key": "a", "title": "A"}]})


@pytest.mark.slow
@pytest.mark.skipif(os.name == "nt", reason="POSIX paths")
def test_a_plan_queues_its_subtasks_which_run_and_the_plan_ends_with_them(project: Project, tmp_path: Path) -> None:
    plan_id, _ = _run_plan(project, tmp_path, GOOD)
    tasks = project.state().tasks
    children = [f"{plan_id}.{n}" for n in (1, 2, 3)]
    assert tasks[plan_id].kind == "plan" and tasks[plan_id].status == TaskStatus.SUCCEEDED, tasks[plan_id].status_reason
    assert [tasks[c].title for c in children] == ["Add the endpoint", "Document it", "Add a health command"]
    assert tasks[children[1]].depends_on == [children[0]] and tasks[children[0]].parent == plan_id
    assert all(tasks[c].status == TaskStatus.SUCCEEDED and tasks[c].kind == "task" for c in children)
    env = user_env(tmp_path / "home", {"COORDINATOR_REMOTE": str(project.origin)})
    kinds = [e["kind"] for e in json.loads(run(["log", "--task", plan_id, "--json"], env).stdout)]
    assert kinds[:4] == ["plan ended", "checks queued", "planned", "subtasks queued"], kinds
    listed = json.loads(run(["list", "--plan", plan_id, "--json"], env).stdout)
    assert [t["id"] for t in listed] == [*children, f"{plan_id}.v1"]  # no verify command: an agent verified
    verified = tasks[f"{plan_id}.v1"].attempts[0].verification
    assert verified is not None and verified.passed and verified.command is None
    tree = run(["show", plan_id], env).stdout
    assert "  subtasks:  4" in tree
    assert f"     - {plan_id}.1 [succeeded on r1] Add the endpoint" in tree
    assert f"        - {plan_id}.2 [succeeded on r1] Document it" in tree  # under what it waited for


@pytest.mark.slow
@pytest.mark.skipif(os.name == "nt", reason="POSIX paths")
def test_a_plan_that_cannot_be_used_fails_the_attempt_saying_why(project: Project, tmp_path: Path) -> None:
    bad = {"subtasks": [{"key": "a", "title": "A", "depends_on": ["z"]}]}
    plan_id, _ = _run_plan(project, tmp_path, bad)
    task = project.state().tasks[plan_id]
    assert task.status == TaskStatus.FAILED
    error = task.attempts[0].error or ""
    assert "is not a valid plan" in error and "depends on z" in error and "\n" not in error  # one line
    assert not [t for t in project.state().tasks if t.startswith(plan_id + ".")]


def test_cancelling_a_plan_cancels_its_subtasks_that_have_not_ended() -> None:
    from datetime import UTC, datetime, timedelta

    from coordinator.core import transitions as T
    from coordinator.core.state import State
    from coordinator.core.transitions.plans import complete_plan
    from coordinator.models import AttemptResult
    from tests.core_helpers import apply

    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    state = State()
    made = apply(state, T.submit(state, T.SubmitRequest(title="Plan it", kind="plan"), now)).task
    assert made is not None
    apply(state, T.claim(state, runner="r1", capabilities=[], lease_ttl=timedelta(minutes=5), now=now))
    plan = PlanFile.model_validate(GOOD)
    apply(
        state, complete_plan(state, task_id=made.id, runner="r1", result=AttemptResult(), plan=plan, now=now, attempt=1)
    )
    assert state.tasks[made.id].status == TaskStatus.BLOCKED
    apply(state, T.claim(state, runner="r1", capabilities=[], lease_ttl=timedelta(minutes=5), now=now))
    change = apply(state, T.cancel(state, task_id=made.id, now=now, by="alice"))
    assert {t.id: t.status for t in change.tasks} == {
        made.id: TaskStatus.CANCELLED,
        f"{made.id}.1": TaskStatus.CANCELLED,
        f"{made.id}.2": TaskStatus.CANCELLED,
        f"{made.id}.3": TaskStatus.CANCELLED,
    }
    assert state.tasks[f"{made.id}.1"].lease is None  # the running one's agent stops at its next renewal


def test_new_plans_take_the_repository_defaults_unless_told_otherwise(project: Project, tmp_path: Path) -> None:
    env = user_env(tmp_path / "home", {"COORDINATOR_REMOTE": str(project.origin)})
    said = run(["plans", "--set", "verify_command=make test", "--set", "fix_cycles=2"], env)
    assert said.returncode == 0 and "verify_command None -> 'make test'; fix_cycles 3 -> 2" in said.stdout
    first = run(["plan", "Plan one"], env).stdout.strip()
    second = run(
        ["plan", "Plan two", "--verify-command", "tox -q", "--fix-cycles", "0", "--approve"], env
    ).stdout.strip()
    tasks = project.state().tasks
    assert tasks[first].plan is not None and tasks[second].plan is not None
    assert (tasks[first].plan.verify_command, tasks[first].plan.fix_cycles, tasks[first].plan.approve) == (
        "make test",
        2,
        False,
    )
    assert (tasks[second].plan.verify_command, tasks[second].plan.fix_cycles, tasks[second].plan.approve) == (
        "tox -q",
        0,
        True,
    )
    unset = run(["plans", "--set", "verify_command="], env)
    assert "verify_command 'make test' -> None" in unset.stdout
    assert "(unset)" in run(["plans"], env).stdout
    bad = run(["plans", "--set", "fix_cycles=11"], env)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "fix_cycles" in bad.stderr
    empty = run(["plan", "Plan three", "--verify-command", " "], env)
    assert empty.returncode == 2 and "--verify-command is empty" in empty.stderr


def test_subtasks_may_require_only_the_capabilities_the_repository_allows(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from coordinator.models import Task
    from coordinator.runner.plans import read_plan

    now = datetime(2026, 11, 29, tzinfo=UTC)
    plan = Task(id="task-1", title="Plan", kind="plan", requires=["linux"], created_at=now, updated_at=now)
    (tmp_path / ".coordinator").mkdir()
    wanted = {
        "subtasks": [{"key": "a", "title": "A", "requires": ["linux"]}, {"key": "b", "title": "B", "requires": ["gpu"]}]
    }
    (tmp_path / ".coordinator" / "plan.json").write_text(json.dumps(wanted))
    refused, why = read_plan(tmp_path, plan)
    assert refused is None and why is not None and "\n" not in why
    assert "subtask 'b' requires gpu, which plans may not ask for" in why
    assert "coordinator plans --set subtask_capabilities=gpu" in why
    allowed, why = read_plan(tmp_path, plan, capabilities=["gpu"])
    assert allowed is not None and why is None  # the plan's own (linux) always apply


@pytest.mark.slow
@pytest.mark.skipif(os.name == "nt", reason="POSIX paths")
def test_a_plan_routing_work_to_a_capability_nobody_allowed_fails_saying_how_to_allow_it(
    project: Project, tmp_path: Path
) -> None:
    plan_id, _ = _run_plan(project, tmp_path, {"subtasks": [{"key": "a", "title": "A", "requires": ["prod"]}]})
    task = project.state().tasks[plan_id]
    assert task.status == TaskStatus.FAILED
    assert "requires prod, which plans may not ask for" in (task.attempts[-1].error or "")
    assert not [t for t in project.state().tasks if t.startswith(plan_id + ".")]


@pytest.mark.skipif(os.name == "nt", reason="symlinks need privileges on Windows")
def test_a_plan_file_that_is_a_link_is_not_read(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from coordinator.models import Task
    from coordinator.runner.plans import read_plan

    now = datetime(2026, 11, 29, tzinfo=UTC)
    plan = Task(id="task-1", title="Plan", kind="plan", created_at=now, updated_at=now)
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps(GOOD))
    worktree = tmp_path / "wt"
    (worktree / ".coordinator").mkdir(parents=True)
    (worktree / ".coordinator" / "plan.json").symlink_to(outside)
    assert read_plan(worktree, plan) == (None, ".coordinator/plan.json must be a file in the worktree, not a link")
    (worktree / ".coordinator" / "plan.json").unlink()
    (worktree / ".coordinator").rmdir()
    (worktree / ".coordinator").symlink_to(tmp_path)  # the folder itself a link
    (tmp_path / "plan.json").write_text(json.dumps(GOOD))
    assert read_plan(worktree, plan)[0] is None
