"""A person is called when it matters: a task of an issue that fails for good gets the `needs-human` label and a
mention of the configured maintainers in its tracking comment (taken off again when a new round starts), and
`coordinator status` lists what needs a person (failed tasks, runners that stopped claiming) with or without
GitHub. End to end: `coordinator github --set`, `ingest`, `runner --once` with the real claude CLI against a fake
Anthropic API, `status`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coordinator.core import transitions as T
from coordinator.models import Runner, RunnerState, TaskStatus
from tests.fakes.anthropic_api import Reply, Text
from tests.fakes.github_events import comment_event, issues_event, write_event
from tests.fakes.github_server import FakeGitHub
from tests.runner_helpers import Project
from tests.test_github_e2e import github_env, ingest, people_github, run_runner, tracking_comments
from tests.user_machine import run, user_env

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.name == "nt", reason="POSIX paths")]


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with people_github() as fake:
        yield fake


def gives_up(body: dict[str, Any]) -> Reply:
    """The model: cannot do it, whatever the mode."""
    return Text("The repository has no tests to run.\nCOORDINATOR-VERDICT: failed: no test suite")


def test_a_task_that_fails_for_good_calls_the_maintainers_until_a_new_round_starts(
    gh: FakeGitHub, project: Project, claude_exe: str, tmp_path: Path
) -> None:
    env = github_env(gh, project, tmp_path / "owner")
    done = run(["github", "--set", "maintainers=lead,octo-org/ops"], env)
    assert done.returncode == 0, done.stderr
    number = gh.add_issue("Add tests", body="Please add tests.", author="bob")
    gh.label(number, "claude", by="alice")
    ingest(gh, project, tmp_path, issues_event(gh, number, "labeled", sender="alice", label="claude"))

    result, _ = run_runner(gh, project, claude_exe, tmp_path, reply=gives_up)
    task = project.state().tasks[f"issue-{number}"]
    assert task.status == TaskStatus.FAILED, result.stdout
    assert {"needs-human", "coordinator:failed"} <= set(gh.issue_labels(number))
    [comment] = tracking_comments(gh, number)
    assert "🙋 **This needs a person** (@lead @octo-org/ops): attempts exhausted" in comment
    status = run(["status"], user_env(tmp_path / "someone", {"COORDINATOR_REMOTE": str(project.origin)}))
    assert "needs a person:" in status.stdout
    assert (
        f"issue-{number}: attempts exhausted" in status.stdout and f"coordinator retry issue-{number}" in status.stdout
    )

    # alice gives it another go: the call is over, the label comes off.
    said = gh.add_comment(number, "/retry there is a tests/ folder now", by="alice")
    event = write_event(tmp_path / "comment.json", comment_event(gh, number, said))
    env = github_env(gh, project, tmp_path / "actions", GITHUB_EVENT_NAME="issue_comment", GITHUB_EVENT_PATH=str(event))
    assert run(["ingest"], env).returncode == 0
    assert "needs-human" not in gh.issue_labels(number)
    [comment] = tracking_comments(gh, number)
    assert "needs a person" not in comment


def test_status_names_a_runner_that_stopped_claiming_without_github(project: Project, tmp_path: Path) -> None:
    broken = Runner(
        name="box-1",
        last_heartbeat=project.state().meta.created_at,
        state=RunnerState.MISCONFIGURED,
        message="runner box-1 cannot authenticate: invalid x-api-key",
    )
    project.update(lambda s, now: T.heartbeat(s, runner=broken.model_copy(update={"last_heartbeat": now}), now=now))
    status = run(["status"], user_env(tmp_path / "someone", {"COORDINATOR_REMOTE": str(project.origin)}))
    assert "needs a person:" in status.stdout
    assert "runner box-1 stopped claiming: runner box-1 cannot authenticate: invalid x-api-key" in status.stdout
