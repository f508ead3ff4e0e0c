"""What a dependency's end means for the tasks waiting on it (issue 12): success lets them go on; a critical
dependency that fails for good (or is cancelled) cancels them, and theirs, saying why, so nothing waits forever;
a retry of it brings them back; a non-critical one lets them go on anyway."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from coordinator.core import transitions as T
from coordinator.core.state import State
from coordinator.models import TaskStatus
from tests.core_helpers import NOW, apply
from tests.runner_helpers import Project
from tests.user_machine import run, user_env

TTL = timedelta(minutes=10)


def _submit(state: State, title: str, *deps: str, critical: bool = True) -> str:
    change = apply(state, T.submit(state, T.SubmitRequest(title=title, depends_on=deps, critical=critical), NOW))
    assert change.task is not None
    return change.task.id


def _fail_for_good(state: State, task_id: str) -> None:
    claimed = apply(state, T.claim(state, runner="r1", capabilities=[], lease_ttl=TTL, now=NOW))
    assert claimed.task is not None and claimed.task.id == task_id
    apply(state, T.fail(state, task_id=task_id, runner="r1", reason="tests fail", now=NOW, retryable=False))


def test_a_critical_failure_cancels_the_waiting_chain_and_a_retry_brings_it_back() -> None:
    state = State()
    base = _submit(state, "build")
    middle = _submit(state, "test", base)
    top = _submit(state, "deploy", middle)
    _fail_for_good(state, base)
    for task_id in (middle, top):
        assert state.tasks[task_id].status == TaskStatus.CANCELLED
    assert state.tasks[middle].status_reason == f"dependency {base} failed: retry it with 'coordinator retry {base}'"
    assert (
        state.tasks[top].status_reason == f"dependency {middle} cancelled: retry it with 'coordinator retry {middle}'"
    )
    change = apply(state, T.retry(state, task_id=base, now=NOW, by="alice"))
    assert f"wait again {middle} (dependency {base} retried)" in change.message
    assert state.tasks[middle].status == state.tasks[top].status == TaskStatus.BLOCKED
    assert state.tasks[base].status == TaskStatus.QUEUED


def test_a_non_critical_failure_lets_the_dependents_go_on() -> None:
    state = State()
    optional = _submit(state, "lint", critical=False)
    after = _submit(state, "release", optional)
    _fail_for_good(state, optional)
    assert state.tasks[optional].status == TaskStatus.FAILED
    assert state.tasks[after].status == TaskStatus.QUEUED
    claimed = apply(state, T.claim(state, runner="r1", capabilities=[], lease_ttl=TTL, now=NOW))
    assert claimed.task is not None and claimed.task.id == after


def test_a_cancelled_dependency_cancels_its_dependents_too() -> None:
    state = State()
    first = _submit(state, "migrate")
    second = _submit(state, "backfill", first)
    apply(state, T.cancel(state, task_id=first, now=NOW, by="bob"))
    assert state.tasks[second].status == TaskStatus.CANCELLED


def test_from_the_command_line(project: Project, tmp_path: Path) -> None:
    env = user_env(tmp_path / "home", {"COORDINATOR_REMOTE": str(project.origin)})
    assert run(["submit", "build"], env).stdout.strip() == "task-1"
    assert run(["submit", "lint", "--non-critical"], env).stdout.strip() == "task-2"
    assert run(["submit", "deploy", "--depends-on", "task-1", "--depends-on", "task-2"], env).returncode == 0
    for task_id in ("task-1", "task-2"):
        claimed = run(["claim", "--runner", "r1", "--json"], env)
        assert claimed.returncode == 0, claimed.stderr
        failed = run(["fail", task_id, "--runner", "r1", "--reason", "red", "--no-retry"], env)
        assert failed.returncode == 0, failed.stderr
    shown = run(["show", "task-3"], env).stdout
    assert "status:    cancelled (dependency task-1 failed: retry it with 'coordinator retry task-1')" in shown
    assert run(["retry", "task-1"], env).returncode == 0
    assert "status:    blocked" in run(["show", "task-3"], env).stdout
    log = run(["log", "--task", "task-3"], env).stdout
    assert "cancelled" in log and "waits again" in log
