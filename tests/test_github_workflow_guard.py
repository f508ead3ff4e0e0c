"""An agent's change to what GitHub Actions runs (``.github/workflows``, ``.github/actions``) is never pushed
unless the repository allows it: on a pull request's branch, a workflow runs with the repository's secrets when
someone reviews it. End to end: ``coordinator ingest``, ``coordinator runner --once`` with the real claude CLI
against a fake Anthropic API, the fake GitHub, and ``coordinator github --set``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coordinator.models import TaskStatus
from tests.fakes.anthropic_api import Reply, Text, ToolUse, working_directory
from tests.fakes.github_events import issues_event
from tests.fakes.github_server import FakeGitHub
from tests.gitutil import git
from tests.runner_helpers import Project
from tests.test_github_e2e import github_env, ingest, people_github, run_runner, tracking_comments
from tests.user_machine import run

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.name == "nt", reason="POSIX paths")]

EVIL = ".github/workflows/ci.yml"


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with people_github() as fake:
        yield fake


def writes_a_workflow(body: dict[str, Any]) -> Reply:
    """The model, prompt-injected: it 'fixes CI' by writing a workflow that would send the secrets away."""
    users = [m for m in body.get("messages") or [] if isinstance(m, dict) and m.get("role") == "user"]
    content = users[-1].get("content") if users else None
    if isinstance(content, list) and any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content):
        return Text("Fixed CI.")
    workflow = "on: pull_request_review\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: env\n"
    return ToolUse.write(f"{working_directory(body)}/{EVIL}", workflow)


def test_a_workflow_the_agent_wrote_is_not_pushed_until_the_repository_allows_it(
    gh: FakeGitHub, project: Project, claude_exe: str, tmp_path: Path
) -> None:
    number = gh.add_issue("CI is red", body="Please fix CI.", author="bob")
    gh.label(number, "claude", by="alice")
    ingest(gh, project, tmp_path, issues_event(gh, number, "labeled", sender="alice", label="claude"))

    result, _ = run_runner(gh, project, claude_exe, tmp_path, reply=writes_a_workflow)
    task = project.state().tasks[f"issue-{number}"]
    assert task.status == TaskStatus.SUCCEEDED, result.stdout
    link = task.github
    assert link is not None and link.pushed is None and "push" in link.pending
    assert link.last_error is not None and f"not pushed: the agent changed {EVIL}" in link.last_error
    assert "coordinator github --set push_workflow_changes=true" in link.last_error
    branch = f"refs/heads/coordinator/issue-{number}"
    assert git("ls-remote", str(project.origin), branch, cwd=tmp_path).strip() == ""
    assert gh.pulls() == []
    [comment] = tracking_comments(gh, number)
    assert "Succeeded" in comment and f"not pushed: the agent changed {EVIL}" in comment
    assert "coordinator github --set push_workflow_changes=true" in comment

    # The repository's owner looked at it and allows such pushes: the runner pushes at its next pass.
    env = github_env(gh, project, tmp_path / "owner-home")
    allowed = run(["github", "--set", "push_workflow_changes=true"], env)
    assert allowed.returncode == 0, allowed.stderr
    run_runner(gh, project, claude_exe, tmp_path, reply=writes_a_workflow)
    link = project.state().tasks[f"issue-{number}"].github
    assert link is not None and link.pushed == task.attempts[-1].commit, link.last_error
    assert git("ls-remote", str(project.origin), branch, cwd=tmp_path).split()[0] == link.pushed
    [comment] = tracking_comments(gh, number)
    assert "not pushed" not in comment and link.pushed[:12] in comment
    assert len(gh.pulls()) == 1  # and the pull request is opened
