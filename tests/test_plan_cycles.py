"""The plan's verify/fix loop as pure transitions: every way a plan ends once its subtasks have (green, red
after the last fix cycle, a failed fix, a verify that failed without a verdict) and what a retry re-opens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from coordinator.core import transitions as T
from coordinator.core.state import State
from coordinator.core.transitions.plans import complete_plan
from coordinator.models import AttemptResult, PlanFile, Task, TaskStatus, Verification
from tests.core_helpers import apply

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
TWO = PlanFile.model_validate({"subtasks": [{"key": "a", "title": "A"}, {"key": "b", "title": "B"}]})


def _run(state: State, task_id: str, *, runner: str = "r1") -> None:
    """Claim ``task_id`` (the only queued task)."""
    change = apply(state, T.claim(state, runner=runner, capabilities=[], lease_ttl=timedelta(minutes=5), now=NOW))
    assert change.task is not None and change.task.id == task_id, change.message


def _succeed(state: State, task_id: str, **result: object) -> None:
    _run(state, task_id)
    done = AttemptResult.model_validate({"duration_seconds": 10.0, "cost_usd": 0.01, **result})
    apply(state, T.complete(state, task_id=task_id, runner="r1", result=done, now=NOW))


def _red(state: State, task_id: str, output: str = "1 failed") -> None:
    _run(state, task_id)
    found = Verification(passed=False, command="make test", exit_code=2, output=output, head="a" * 40)
    result = AttemptResult(duration_seconds=5.0, verification=found, error="verification failed")
    change = T.fail(
        state, task_id=task_id, runner="r1", reason="verification failed", now=NOW, result=result, retryable=False
    )
    apply(state, change)


def _planned(fix_cycles: int = 1) -> tuple[State, str]:
    state = State()
    request = T.SubmitRequest(title="Plan it", kind="plan", verify_command="make test", fix_cycles=fix_cycles)
    plan = apply(state, T.submit(state, request, NOW)).task
    assert plan is not None
    _run(state, plan.id)
    apply(
        state, complete_plan(state, task_id=plan.id, runner="r1", result=AttemptResult(), plan=TWO, now=NOW, attempt=1)
    )
    _succeed(state, f"{plan.id}.1")
    _succeed(state, f"{plan.id}.2")
    return state, plan.id


def _plan(state: State, plan_id: str) -> Task:
    return state.tasks[plan_id]


def test_green_ends_the_plan_with_its_report() -> None:
    state, plan_id = _planned()
    assert _plan(state, plan_id).depends_on[-1] == f"{plan_id}.v1"
    _succeed(state, f"{plan_id}.v1", verification={"passed": True, "command": "make test", "head": "b" * 40})
    plan = _plan(state, plan_id)
    assert plan.status == TaskStatus.SUCCEEDED and plan.plan is not None and plan.plan.report is not None
    report = plan.plan.report
    assert [c.id for c in report.children] == [f"{plan_id}.1", f"{plan_id}.2", f"{plan_id}.v1"]
    assert report.head == "b" * 40 and report.verify_runs == 1 and report.fixes == 0
    assert report.cost_usd == 0.03 and report.work_seconds == 30.0


def test_red_after_the_last_fix_cycle_fails_the_plan_and_calls_a_person() -> None:
    state, plan_id = _planned(fix_cycles=1)
    _red(state, f"{plan_id}.v1", output="test_x failed: assert 1 == 2")
    fix = state.tasks[f"{plan_id}.f1"]
    assert fix.kind == "fix" and fix.status == TaskStatus.QUEUED and "test_x failed: assert 1 == 2" in fix.body
    assert "`make test` exited 2" in fix.body
    assert state.tasks[f"{plan_id}.v2"].status == TaskStatus.BLOCKED  # waits for the fix
    _succeed(state, fix.id)
    _red(state, f"{plan_id}.v2")
    plan = _plan(state, plan_id)
    assert plan.status == TaskStatus.FAILED
    assert plan.status_reason is not None and "after 1 fix cycle(s)" in plan.status_reason
    assert "a person must look" in plan.status_reason
    assert plan.plan is not None and plan.plan.report is not None and plan.plan.report.fixes == 1


def test_zero_fix_cycles_fail_at_the_first_red() -> None:
    state, plan_id = _planned(fix_cycles=0)
    _red(state, f"{plan_id}.v1")
    assert _plan(state, plan_id).status == TaskStatus.FAILED
    assert f"{plan_id}.f1" not in state.tasks


def test_a_failed_fix_fails_the_plan_and_its_retry_reopens_it() -> None:
    state, plan_id = _planned(fix_cycles=2)
    _red(state, f"{plan_id}.v1")
    _run(state, f"{plan_id}.f1")
    apply(
        state,
        T.fail(state, task_id=f"{plan_id}.f1", runner="r1", reason="gave up", now=NOW, retryable=False),
    )
    plan = _plan(state, plan_id)
    assert plan.status == TaskStatus.FAILED and plan.status_reason is not None
    assert plan.status_reason.startswith(f"fix {plan_id}.f1 failed")
    assert state.tasks[f"{plan_id}.v2"].status == TaskStatus.CANCELLED  # it waited for the fix
    apply(state, T.retry(state, task_id=f"{plan_id}.f1", now=NOW, by="alice"))
    assert _plan(state, plan_id).status == TaskStatus.BLOCKED  # the plan waits again
    assert state.tasks[f"{plan_id}.v2"].status == TaskStatus.BLOCKED
    _succeed(state, f"{plan_id}.f1")
    _succeed(state, f"{plan_id}.v2", verification={"passed": True, "head": "c" * 40})
    assert _plan(state, plan_id).status == TaskStatus.SUCCEEDED


def test_a_verify_that_failed_without_a_verdict_fails_the_plan_with_its_reason() -> None:
    state, plan_id = _planned()
    _run(state, f"{plan_id}.v1")
    apply(
        state,
        T.fail(state, task_id=f"{plan_id}.v1", runner="r1", reason="disk full", now=NOW, retryable=False),
    )
    plan = _plan(state, plan_id)
    assert plan.status == TaskStatus.FAILED and plan.status_reason == f"verify {plan_id}.v1 failed: disk full"


def test_retrying_a_plan_left_red_gives_it_fix_cycles_again() -> None:
    state, plan_id = _planned(fix_cycles=1)
    _red(state, f"{plan_id}.v1")
    _succeed(state, f"{plan_id}.f1")
    _red(state, f"{plan_id}.v2")
    assert _plan(state, plan_id).status == TaskStatus.FAILED
    change = apply(state, T.retry(state, task_id=plan_id, now=NOW, by="alice"))
    plan = _plan(state, plan_id)
    assert plan.status == TaskStatus.BLOCKED and plan.round == 1 and plan.plan is not None
    assert plan.plan.cycles_from == 1 and plan.plan.report is None
    assert state.tasks[f"{plan_id}.f2"].status == TaskStatus.QUEUED and f"{plan_id}.v3" in plan.depends_on
    assert "retry task-1 by alice, round 1" in change.message
    _succeed(state, f"{plan_id}.f2")
    _succeed(state, f"{plan_id}.v3", verification={"passed": True, "head": "d" * 40})
    assert _plan(state, plan_id).status == TaskStatus.SUCCEEDED


def test_retrying_a_plan_retries_its_subtasks_that_failed() -> None:
    state = State()
    plan_id = apply(state, T.submit(state, T.SubmitRequest(title="Plan", kind="plan"), NOW)).task.id  # type: ignore[union-attr]
    _run(state, plan_id)
    apply(
        state, complete_plan(state, task_id=plan_id, runner="r1", result=AttemptResult(), plan=TWO, now=NOW, attempt=1)
    )
    _succeed(state, f"{plan_id}.1")
    _run(state, f"{plan_id}.2")
    apply(state, T.fail(state, task_id=f"{plan_id}.2", runner="r1", reason="broke", now=NOW, retryable=False))
    assert _plan(state, plan_id).status == TaskStatus.FAILED
    apply(state, T.retry(state, task_id=plan_id, now=NOW, by="alice"))
    assert _plan(state, plan_id).status == TaskStatus.BLOCKED
    assert state.tasks[f"{plan_id}.1"].round == 0  # what succeeded is kept
    assert state.tasks[f"{plan_id}.2"].status == TaskStatus.QUEUED and state.tasks[f"{plan_id}.2"].round == 1
    _succeed(state, f"{plan_id}.2")
    assert state.tasks[f"{plan_id}.v1"].status == TaskStatus.QUEUED  # on to verification


def test_retrying_a_cancelled_plan_brings_its_subtasks_back() -> None:
    state = State()
    plan_id = apply(state, T.submit(state, T.SubmitRequest(title="Plan", kind="plan"), NOW)).task.id  # type: ignore[union-attr]
    _run(state, plan_id)
    three = PlanFile.model_validate(
        {"subtasks": [{"key": "a", "title": "A"}, {"key": "b", "title": "B", "depends_on": ["a"]}]}
    )
    apply(
        state,
        complete_plan(state, task_id=plan_id, runner="r1", result=AttemptResult(), plan=three, now=NOW, attempt=1),
    )
    apply(state, T.cancel(state, task_id=plan_id, now=NOW, by="alice"))
    assert {state.tasks[f"{plan_id}.{n}"].status for n in (1, 2)} == {TaskStatus.CANCELLED}
    apply(state, T.retry(state, task_id=plan_id, now=NOW, by="alice"))
    assert state.tasks[f"{plan_id}.1"].status == TaskStatus.QUEUED
    assert state.tasks[f"{plan_id}.2"].status == TaskStatus.BLOCKED  # waits for a again
    assert _plan(state, plan_id).status == TaskStatus.BLOCKED


def test_a_plans_children_are_listed_in_the_order_it_made_them() -> None:
    from coordinator.core.transitions.plan_github import children_of

    state, plan_id = _planned(fix_cycles=1)
    _red(state, f"{plan_id}.v1")
    order = [t.id for t in children_of(reversed(list(state.tasks.values())), _plan(state, plan_id))]
    assert order == [f"{plan_id}.1", f"{plan_id}.2", f"{plan_id}.v1", f"{plan_id}.f1", f"{plan_id}.v2"]


def test_a_plan_shown_after_its_children_were_archived_still_shows_its_report() -> None:
    from coordinator.cli.render import subtask_tree

    state, plan_id = _planned()
    _succeed(state, f"{plan_id}.v1", verification={"passed": True, "head": "e" * 40})
    plan = _plan(state, plan_id)
    shown = subtask_tree(plan, State())  # the children are in the archive, not on the live tree
    assert "subtasks:  archived with the plan's report below" in shown
    assert "verify runs: 1, fixes: 0, total cost: $0.0300" in shown
    assert subtask_tree(plan.model_copy(update={"plan": None}), State()).endswith(
        "none yet (its planning attempt writes them)"
    )
