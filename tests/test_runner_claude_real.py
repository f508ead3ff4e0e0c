"""The runner end to end with the REAL claude CLI against a fake Anthropic API on 127.0.0.1.

Skipped (saying how to enable) when the CLI is not installed: `.ci/run` installs it with npm.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coordinator.core import transitions as T
from coordinator.models import AttemptOutcome, TaskStatus
from coordinator.modes import Mode, ModesConfig
from coordinator.runner.daemon import EXIT_MISCONFIGURED, EXIT_OK
from tests.fakes.anthropic_api import ApiError, FakeAnthropic, Reply, Text, ToolUse, last_user_text
from tests.fakes.claude_env import claude_env
from tests.gitutil import git
from tests.runner_helpers import Project, make_project, run_once

pytestmark = pytest.mark.slow


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    p = make_project(tmp_path / "p")
    # Small, fast modes: simple gets 2 turns so a looping model runs out of them.
    modes = ModesConfig(
        modes={
            "simple": Mode(model="haiku", max_turns=2, timeout_seconds=120, max_budget_usd=5, escalate_to="complex"),
            "complex": Mode(model="sonnet", max_turns=6, timeout_seconds=120, max_budget_usd=5),
        }
    )
    p.update(lambda s, now: T.set_modes(s, modes=modes, by="test"))
    yield p
    p.store.close()


def writer(path_for_task: Any, *, loop_models: tuple[str, ...] = ()) -> Any:
    """Reply with a Write of notes.md in the task's worktree, then DONE; models in ``loop_models`` never stop."""

    def reply(body: dict[str, Any]) -> Reply:
        model = str(body.get("model", ""))
        text = last_user_text(body)
        if any(m in model for m in loop_models):
            return ToolUse.write(str(path_for_task() / "loop.md"), f"again {time.monotonic()}")
        if "File created successfully" in text or "has been updated" in text or "notes.md" in text:
            return Text("Wrote notes.md with the summary.")
        return ToolUse.write(str(path_for_task() / "notes.md"), "# Notes\n\nwritten by the agent\n")

    return reply


def test_agent_writes_a_file_and_the_change_is_committed_on_the_task_branch(
    project: Project, claude_exe: str, tmp_path: Path
) -> None:
    task_id = project.submit("Write notes")
    holder: dict[str, Any] = {}
    with FakeAnthropic(writer(lambda: holder["daemon"].worktrees.path_for(task_id))) as api:
        env = claude_env(api.url, tmp_path / "home")
        daemon = project.daemon("runner-a", agent="claude", claude_path=claude_exe, agent_env=env)
        holder["daemon"] = daemon
        assert run_once(daemon) == EXIT_OK
    task = project.state().tasks[task_id]
    assert task.status == TaskStatus.SUCCEEDED, daemon.lines  # type: ignore[attr-defined]
    attempt = task.attempts[0]
    assert attempt.turns == 2
    assert attempt.cost_usd and attempt.cost_usd > 0
    assert attempt.session_id
    assert attempt.summary == "Wrote notes.md with the summary."
    assert attempt.commit
    content = git("show", f"{attempt.commit}:notes.md", cwd=daemon.config.repo)
    assert "written by the agent" in content
    assert git("rev-parse", f"coordinator/{task_id}", cwd=daemon.config.repo).strip() == attempt.commit


def test_max_turns_escalates_to_the_next_mode(project: Project, claude_exe: str, tmp_path: Path) -> None:
    task_id = project.submit("Tricky refactor")
    holder: dict[str, Any] = {}
    with FakeAnthropic(writer(lambda: holder["daemon"].worktrees.path_for(task_id), loop_models=("haiku",))) as api:
        env = claude_env(api.url, tmp_path / "home")
        daemon = project.daemon("runner-a", agent="claude", claude_path=claude_exe, agent_env=env)
        holder["daemon"] = daemon
        run_once(daemon)
        models = [str((r.body or {}).get("model", "")) for r in api.message_requests]
    task = project.state().tasks[task_id]
    assert [(a.mode, a.outcome) for a in task.attempts] == [
        ("simple", AttemptOutcome.FAILED),
        ("complex", AttemptOutcome.SUCCEEDED),
    ], daemon.lines  # type: ignore[attr-defined]
    assert task.attempts[0].outcome_detail == "max_turns"
    assert task.status == TaskStatus.SUCCEEDED
    assert any("haiku" in m for m in models) and any("sonnet" in m for m in models)
    assert all(a.cost_usd and a.cost_usd > 0 for a in task.attempts)


def test_usage_limit_requeues_without_an_attempt_and_cools_down(
    project: Project, claude_exe: str, tmp_path: Path
) -> None:
    task_id = project.submit("Limited")
    resets = int(time.time()) + 3 * 3600
    with FakeAnthropic([], then=ApiError.usage_limit(resets)) as api:
        env = claude_env(api.url, tmp_path / "home", oauth_token="sk-ant-oat01-fake-token-for-tests")
        daemon = project.daemon("runner-a", agent="claude", claude_path=claude_exe, agent_env=env)
        assert run_once(daemon) == EXIT_OK
    state = project.state()
    task = state.tasks[task_id]
    assert task.status == TaskStatus.QUEUED, daemon.lines  # type: ignore[attr-defined]
    assert task.counted_attempts() == 0
    assert task.attempts[0].outcome == AttemptOutcome.RELEASED
    runner = state.runners["runner-a"]
    assert runner.cooldown_until is not None
    assert abs(runner.cooldown_until.timestamp() - resets) <= 120  # 2.1.197 reports it in minutes


def test_auth_failure_stops_the_runner_from_claiming(project: Project, claude_exe: str, tmp_path: Path) -> None:
    project.submit("one")
    project.submit("two")
    with FakeAnthropic([], then=ApiError.authentication()) as api:
        env = claude_env(api.url, tmp_path / "home")
        daemon = project.daemon("runner-a", agent="claude", claude_path=claude_exe, agent_env=env)
        assert run_once(daemon) == EXIT_MISCONFIGURED
    state = project.state()
    assert all(t.status == TaskStatus.QUEUED and t.counted_attempts() == 0 for t in state.tasks.values())
    assert sum(len(t.attempts) for t in state.tasks.values()) == 1  # the second task was never claimed
    assert state.runners["runner-a"].state.value in ("misconfigured", "stopped")
    assert "cannot authenticate" in (state.runners["runner-a"].message or "")
