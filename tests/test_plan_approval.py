"""Plans that wait for approval (issue 13): the planning result is kept as the plan's proposal, nothing is queued
until a person approves it (then the subtasks are queued in that one commit), and ``replan`` sends the plan back
to a new planning attempt with the person's feedback in its prompt."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from coordinator.core import transitions as T
from coordinator.core.completion_log import Commit, events
from coordinator.core.state import State
from coordinator.core.transitions.plan_approval import approve_plan, replan
from coordinator.core.transitions.plans import awaits_approval, complete_plan
from coordinator.errors import UsageError
from coordinator.models import AttemptResult, Feedback, PlanFile, TaskStatus
from tests.core_helpers import apply
from tests.runner_helpers import Project
from tests.user_machine import run, user_env

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
TTL = timedelta(minutes=5)
PLAN = {
    "subtasks": [
        {"key": "api", "title": "Add the endpoint", "body": "GET /health"},
        {"key": "docs", "title": "Document it", "depends_on": ["api"]},
    ]
}


def _planned(state: State, *, approve: bool = True, plan: dict[str, object] = PLAN) -> str:
    """A plan submitted (asking for approval or not) whose planning attempt succeeded with ``plan``."""
    made = apply(state, T.submit(state, T.SubmitRequest(title="Plan it", kind="plan", approve=approve), NOW)).task
    assert made is not None
    claimed = apply(state, T.claim(state, runner="r1", capabilities=[], lease_ttl=TTL, now=NOW)).task
    assert claimed is not None and claimed.id == made.id
    done = complete_plan(
        state,
        task_id=made.id,
        runner="r1",
        result=AttemptResult(summary="two steps"),
        plan=PlanFile.model_validate(plan),
        now=NOW,
        attempt=1,
    )
    apply(state, done)
    return made.id


def _said(text: str, who: str = "alice") -> Feedback:
    return Feedback(author=who, at=NOW, text=text)


def test_a_plan_that_asks_for_approval_keeps_its_proposal_and_queues_nothing() -> None:
    state = State()
    plan_id = _planned(state)
    plan = state.tasks[plan_id]
    assert awaits_approval(plan) and plan.depends_on == []
    assert plan.plan is not None and plan.plan.proposal == PlanFile.model_validate(PLAN)
    assert f"'coordinator approve {plan_id}'" in (plan.status_reason or "")
    assert f"'coordinator replan {plan_id} \"FEEDBACK\"'" in (plan.status_reason or "")
    assert [t for t in state.tasks if t != plan_id] == []
    # Nothing to claim, and the plan is not ended by its (absent) subtasks.
    assert T.claim(state, runner="r1", capabilities=[], lease_ttl=TTL, now=NOW).task is None
    assert state.tasks[plan_id].status == TaskStatus.BLOCKED


def test_approving_queues_the_proposed_subtasks_in_one_commit_and_records_who() -> None:
    state = State()
    plan_id = _planned(state)
    change = apply(state, approve_plan(state, task_id=plan_id, by="alice", now=NOW))
    plan = state.tasks[plan_id]
    assert plan.plan is not None and plan.plan.approved_by == "alice" and plan.plan.approved_at == NOW
    assert plan.plan.proposal is None and plan.depends_on == [f"{plan_id}.1", f"{plan_id}.2"]
    assert {t.id for t in change.tasks} == {plan_id, f"{plan_id}.1", f"{plan_id}.2"}
    assert state.tasks[f"{plan_id}.1"].status == TaskStatus.QUEUED
    assert state.tasks[f"{plan_id}.2"].depends_on == [f"{plan_id}.1"]
    assert change.message.startswith(f"approve plan {plan_id} by alice; enqueue 2 subtasks of {plan_id}")
    with pytest.raises(UsageError, match=f"plan {plan_id} was approved by alice already"):
        approve_plan(state, task_id=plan_id, by="bob", now=NOW)


@pytest.mark.parametrize(
    ("approve", "first", "said"),
    [
        (False, None, "does not wait for approval: its subtasks are queued"),
        (True, "claim", "has not proposed its subtasks yet (it is running)"),
        (True, "cancel", "is cancelled: nothing waits for approval; start a new plan with 'coordinator replan"),
    ],
)
def test_only_a_plan_awaiting_approval_can_be_approved(approve: bool, first: str | None, said: str) -> None:
    state = State()
    if first is None:
        plan_id = _planned(state, approve=approve)
    else:
        made = apply(state, T.submit(state, T.SubmitRequest(title="Plan", kind="plan", approve=approve), NOW)).task
        assert made is not None
        plan_id = made.id
        apply(state, T.claim(state, runner="r1", capabilities=[], lease_ttl=TTL, now=NOW))
        if first == "cancel":
            apply(state, T.cancel(state, task_id=plan_id, now=NOW, by="bob"))
    with pytest.raises(UsageError) as raised:
        approve_plan(state, task_id=plan_id, by="alice", now=NOW)
    assert said in str(raised.value)
    task = apply(state, T.submit(state, T.SubmitRequest(title="A task"), NOW)).task
    assert task is not None
    with pytest.raises(UsageError, match=f"{task.id} is a task, not a plan"):
        approve_plan(state, task_id=task.id, by="alice", now=NOW)


def test_replanning_a_proposal_queues_a_new_planning_round_with_the_feedback() -> None:
    state = State()
    plan_id = _planned(state)
    change = apply(state, replan(state, task_id=plan_id, feedback=_said("split the docs in two"), now=NOW))
    plan = state.tasks[plan_id]
    assert change.message == f"replan {plan_id} by alice, round 1"
    assert plan.status == TaskStatus.QUEUED and plan.round == 1 and plan.depends_on == []
    assert plan.plan is not None and plan.plan.proposal is None and plan.plan.approve
    assert [(f.text, f.round, f.kind) for f in plan.feedback] == [("split the docs in two", 1, "retry")]
    # The next planning attempt sees what was sent back, with the feedback.
    from coordinator.runner.prompt import build_prompt

    assert plan.plan.rejected is not None
    prompt = build_prompt(plan, branch=f"coordinator/{plan_id}", attempt=2)
    assert "## The plan that was sent back" in prompt and "split the docs in two" in prompt
    assert all(f"- {s.key}: {s.title}" in prompt for s in plan.plan.rejected.subtasks)
    # The next planning attempt is claimed, and its new proposal waits for approval again.
    claimed = apply(state, T.claim(state, runner="r2", capabilities=[], lease_ttl=TTL, now=NOW)).task
    assert claimed is not None and claimed.id == plan_id and claimed.counted_attempts() == 1
    again = {"subtasks": [{"key": "a", "title": "A"}, {"key": "b", "title": "B"}, {"key": "c", "title": "C"}]}
    apply(
        state,
        complete_plan(
            state,
            task_id=plan_id,
            runner="r2",
            result=AttemptResult(),
            plan=PlanFile.model_validate(again),
            now=NOW,
            attempt=2,
        ),
    )
    assert awaits_approval(state.tasks[plan_id])


def test_replanning_a_failed_plan_cancels_its_subtasks_left_and_numbers_the_new_ones_after_them() -> None:
    state = State()
    plan_id = _planned(state, approve=False)
    first = apply(state, T.claim(state, runner="r1", capabilities=[], lease_ttl=TTL, now=NOW)).task
    assert first is not None and first.id == f"{plan_id}.1"
    apply(state, T.fail(state, task_id=first.id, runner="r1", reason="boom", now=NOW, retryable=False))
    # The failed subtask cancelled the one waiting for it, and the plan failed with them.
    assert state.tasks[f"{plan_id}.2"].status == TaskStatus.CANCELLED
    assert state.tasks[plan_id].status == TaskStatus.FAILED
    apply(state, T.retry(state, task_id=f"{plan_id}.2", now=NOW, by="bob"))  # one not ended again, to be cancelled
    assert state.tasks[plan_id].status == TaskStatus.BLOCKED
    with pytest.raises(UsageError, match=f"plan {plan_id} is blocked"):
        replan(state, task_id=plan_id, feedback=_said("smaller steps"), now=NOW)
    apply(state, T.cancel(state, task_id=plan_id, now=NOW, by="bob"))
    change = apply(state, replan(state, task_id=plan_id, feedback=_said("smaller steps"), now=NOW))
    assert state.tasks[plan_id].status == TaskStatus.QUEUED
    assert all(state.tasks[f"{plan_id}.{n}"].is_terminal for n in (1, 2))
    apply(state, T.claim(state, runner="r1", capabilities=[], lease_ttl=TTL, now=NOW))
    apply(
        state,
        complete_plan(
            state,
            task_id=plan_id,
            runner="r1",
            result=AttemptResult(),
            plan=PlanFile.model_validate({"subtasks": [{"key": "x", "title": "X"}]}),
            now=NOW,
            attempt=2,
        ),
    )
    assert state.tasks[plan_id].depends_on == [f"{plan_id}.3"]  # ids are never reused
    assert change.task is not None and change.task.round == 1


def test_only_plans_waiting_or_ended_without_success_can_be_replanned() -> None:
    state = State()
    task = apply(state, T.submit(state, T.SubmitRequest(title="A task"), NOW)).task
    assert task is not None
    with pytest.raises(UsageError, match=f"{task.id} is a task, not a plan: use 'coordinator retry {task.id}'"):
        replan(state, task_id=task.id, feedback=_said("x"), now=NOW)
    made = apply(state, T.submit(state, T.SubmitRequest(title="Plan", kind="plan"), NOW)).task
    assert made is not None
    with pytest.raises(UsageError, match=f"plan {made.id} is queued"):
        replan(state, task_id=made.id, feedback=_said("x"), now=NOW)


def test_the_completion_log_tells_proposed_approved_and_replanned() -> None:
    lines = [
        "plan task-7 by r1, attempt 1; propose 2 subtasks of task-7 for approval: api, docs",
        "approve plan task-7 by alice; enqueue 2 subtasks of task-7: task-7.1, task-7.2",
        "replan task-7 by bob, round 1; cancel task-7.2 (its plan task-7 was replanned)",
    ]
    commits = [Commit(sha=f"{n:040x}", author="x", at=NOW, message=m) for n, m in enumerate(lines)]
    found = [(e.kind, e.task, e.who, e.detail) for e in events(commits)]
    assert found == [
        ("planned", "task-7", "r1", None),
        ("plan proposed", "task-7", None, "2 subtasks: api, docs"),
        ("plan approved", "task-7", "alice", None),
        ("subtasks queued", "task-7", None, "2 subtasks: task-7.1, task-7.2"),
        ("replanned", "task-7", "bob", "1"),
        ("cancelled", "task-7.2", None, "its plan task-7 was replanned"),
    ]


# -- through the command line -----------------------------------------------------------------------------------

AGENT = """
import json, os, pathlib, sys
kind, task, attempt = (os.environ[k] for k in ("COORDINATOR_TASK_KIND", "COORDINATOR_TASK_ID", "COORDINATOR_ATTEMPT"))
out = pathlib.Path(sys.argv[1])
(out / f"prompt-{task}-{attempt}.txt").write_text(sys.stdin.read())
if kind == "plan":
    pathlib.Path(".coordinator").mkdir(exist_ok=True)
    pathlib.Path(".coordinator/plan.json").write_text((out / "plan.json").read_text())
    print("planned")
else:
    pathlib.Path(task + ".md").write_text("done by " + task + "\\n")
    print("did " + task)
"""


def _runner_once(project: Project, tmp_path: Path, out: Path) -> str:
    agent, box = tmp_path / "agent.py", project.root / "box"
    agent.write_text(AGENT)
    repo = box if box.exists() else project.clone("box")
    args = ["runner", "--name", "r1", "--repo", str(repo), "--once", "--slots", "2", "--poll", "0.2"]
    args += ["--agent", "command", "--agent-command", f"{sys.executable} {agent} {out}"]
    done = run(args, user_env(tmp_path / "home"))
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.slow
@pytest.mark.skipif(os.name == "nt", reason="POSIX paths")
def test_approve_and_replan_through_the_command_line(project: Project, tmp_path: Path) -> None:
    env = user_env(tmp_path / "home", {"COORDINATOR_REMOTE": str(project.origin), "COORDINATOR_ACTOR": "alice"})
    out = tmp_path / "out"
    out.mkdir()
    (out / "plan.json").write_text(json.dumps(PLAN))
    made = run(["plan", "Add a health check", "--body", "an endpoint and docs", "--approve"], env)
    assert made.returncode == 0, made.stderr
    plan_id = made.stdout.strip()
    _runner_once(project, tmp_path, out)
    shown = run(["show", plan_id], env).stdout
    assert "  proposed:  2 subtasks, waiting for approval" in shown
    assert "     - docs: Document it (after api)" in shown
    assert f"coordinator approve {plan_id}" in shown

    refused = run(["replan", plan_id], env)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert f"error: no feedback given: run 'coordinator replan {plan_id} \"WHAT TO CHANGE\"'" in refused.stderr
    replanned = run(["replan", plan_id, "Write the docs first"], env)
    assert replanned.returncode == 0, replanned.stderr
    assert replanned.stdout.strip() == f"{plan_id} queued: replanned (round 1)"
    _runner_once(project, tmp_path, out)
    prompt = (out / f"prompt-{plan_id}-2.txt").read_text()
    assert "alice asked for a retry" in prompt and "> Write the docs first" in prompt

    approved = run(["approve", plan_id], env)
    assert approved.returncode == 0, approved.stderr
    assert approved.stdout.strip() == f"{plan_id} approved: 2 subtasks queued ({plan_id}.1, {plan_id}.2)"
    again = run(["approve", plan_id], env)
    assert again.returncode == 2 and f"plan {plan_id} was approved by alice already" in again.stderr
    assert again.stderr.count("\n") == 1
    _runner_once(project, tmp_path, out)
    assert project.state().tasks[plan_id].status == TaskStatus.SUCCEEDED
    kinds = [e["kind"] for e in json.loads(run(["log", "--task", plan_id, "--json"], env).stdout)]
    assert kinds[0] == "plan ended" and {"plan approved", "subtasks queued", "replanned"} <= set(kinds), kinds
    assert kinds.count("plan proposed") == 2
    missing = run(["approve", "task-999"], env)
    assert missing.returncode != 0 and missing.stderr.startswith("error: ") and missing.stderr.count("\n") == 1
