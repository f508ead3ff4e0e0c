"""An issue's agent asks a question, end to end on 127.0.0.1: ``coordinator ingest`` on real payloads, the fake
GitHub, ``coordinator runner --once`` with the real claude CLI against a fake Anthropic API. The question shows in
the one tracking comment with a mention of whoever triggered the task; a reader's reply changes nothing; a
writer's reply resumes the agent's session."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coordinator.models import AttemptOutcome, TaskStatus
from tests.fakes.anthropic_api import Reply, Text, last_user_text
from tests.fakes.github_events import comment_event, issues_event, write_event
from tests.fakes.github_server import FakeGitHub
from tests.runner_helpers import Project
from tests.test_github_e2e import github_env, people_github, run_runner, tracking_comments
from tests.user_machine import run

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.name == "nt", reason="POSIX paths")]

QUESTION = "Should the notes be in English or in French?"


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with people_github() as fake:
        yield fake


def ingest(
    gh: FakeGitHub, project: Project, tmp_path: Path, name: str, payload: dict[str, Any]
) -> subprocess.CompletedProcess[str]:
    """``coordinator ingest`` as the workflow runs it, on one event."""
    event = write_event(tmp_path / f"{name}.json", payload)
    env = github_env(gh, project, tmp_path / "actions-home", GITHUB_EVENT_NAME=name, GITHUB_EVENT_PATH=str(event))
    done = run(["ingest"], env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def asks_then_writes(body: dict[str, Any]) -> Reply:
    """The model: asks which language, unless the answer is in what it was just told."""
    if "French" in last_user_text(body) and "please" in last_user_text(body):
        return Text("Wrote the notes in French.")
    return Text(f"I read the issue.\nCOORDINATOR-VERDICT: needs-input: {QUESTION}")


def test_a_question_waits_a_readers_reply_is_ignored_and_a_writers_reply_resumes_the_session(
    gh: FakeGitHub, project: Project, claude_exe: str, tmp_path: Path
) -> None:
    number = gh.add_issue("Add notes", body="Please add notes.", author="bob")
    gh.label(number, "claude", by="alice")
    ingest(gh, project, tmp_path, "issues", issues_event(gh, number, "labeled", sender="alice", label="claude"))

    run_runner(gh, project, claude_exe, tmp_path, reply=asks_then_writes)
    task = project.state().tasks[f"issue-{number}"]
    assert task.status == TaskStatus.NEEDS_INPUT, task.status_reason
    [comment] = tracking_comments(gh, number)
    assert "Waiting for an answer" in comment and QUESTION in comment
    assert "@alice, please answer in a comment on this issue" in comment
    assert "coordinator:needs-input" in gh.issue_labels(number)

    # A reader's reply: nothing happens, silently (a plain comment is not a command).
    from_rita = gh.add_comment(number, "French please", by="rita")
    ignored = ingest(gh, project, tmp_path, "issue_comment", comment_event(gh, number, from_rita))
    assert "ignored" in ignored.stdout
    assert project.state().tasks[f"issue-{number}"].status == TaskStatus.NEEDS_INPUT
    assert gh.reactions(from_rita) == []

    from_alice = gh.add_comment(number, "French please, @bob will review", by="alice")
    answered = ingest(gh, project, tmp_path, "issue_comment", comment_event(gh, number, from_alice))
    assert f"issue-{number}" in answered.stdout
    task = project.state().tasks[f"issue-{number}"]
    assert task.status == TaskStatus.QUEUED and task.resume is not None and task.resume.runner == "r1"
    assert [(f.kind, f.author) for f in task.feedback] == [("answer", "alice")]
    assert ("coordinator-bot", "+1") in gh.reactions(from_alice)
    [comment] = tracking_comments(gh, number)
    assert "Answered** by alice: resuming its session on `r1`" in comment

    result, api = run_runner(gh, project, claude_exe, tmp_path, reply=asks_then_writes)
    task = project.state().tasks[f"issue-{number}"]
    assert task.status == TaskStatus.SUCCEEDED, result.stdout
    first, second = task.attempts
    assert first.outcome == AttemptOutcome.NEEDS_INPUT and not first.counted
    assert second.resumed_session == first.session_id
    # The resumed conversation holds the question; the new turn holds only the answer, quoted.
    sent = json.dumps(api.message_requests[0].body["messages"])
    assert QUESTION in sent and "French please" in last_user_text(api.message_requests[0].body)
    [comment] = tracking_comments(gh, number)
    assert "Succeeded" in comment and "resumed the earlier session" in comment
    assert "The agent asked** (answered by alice)" in comment
