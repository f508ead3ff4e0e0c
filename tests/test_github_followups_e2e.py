"""Follow-ups on the task's own pull request, end to end, all on 127.0.0.1: the fake GitHub (its pull request
heads read from the bare origin), ``coordinator ingest`` as a subprocess on real-shaped ``pull_request_review``
payloads, and ``coordinator runner --once`` as README says, with the real claude CLI against a fake Anthropic API.

An issue is labelled, its task runs and opens a pull request; a review requesting changes with two comments
becomes ``issue-N-f1``, whose prompt holds both comments with file and line, whose commit lands on the same pull
request's branch (no second pull request), which replies once in each thread, and which shows as a section of the
issue's one tracking comment."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coordinator.models import TaskStatus
from tests.fakes.anthropic_api import FakeAnthropic, Reply, Text, ToolUse, working_directory
from tests.fakes.claude_env import claude_env
from tests.fakes.github_events import (
    comment_event,
    issues_event,
    pull_comment_event,
    review_comment_event,
    review_event,
    write_event,
)
from tests.fakes.github_server import FakeGitHub
from tests.gitutil import git
from tests.runner_helpers import Project
from tests.test_github_e2e import TOKEN, github_env
from tests.user_machine import run, user_env

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.name == "nt", reason="POSIX paths in the fake agent")]

REPO = "octo/repo"
MARKER = "<!-- coordinator:task=issue-{} -->"


@pytest.fixture
def gh(project: Project) -> Iterator[FakeGitHub]:
    with FakeGitHub(REPO, token=TOKEN, token_user="coordinator-bot") as fake:
        fake.set_permission("alice", "write")
        fake.set_permission("rita", "read")
        fake.git_dir = project.origin  # pull request heads are read where the runner pushes
        yield fake


def ingest(gh: FakeGitHub, project: Project, tmp_path: Path, name: str, payload: dict[str, Any]) -> str:
    """``coordinator ingest`` as the workflow runs it: its output."""
    event = write_event(tmp_path / f"{name}.json", payload)
    env = github_env(gh, project, tmp_path / "actions-home", GITHUB_EVENT_NAME=name, GITHUB_EVENT_PATH=str(event))
    done = run(["ingest"], env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def writes_a_file(body: dict[str, Any]) -> Reply:
    """The model: write a file named after the task it works on (new each time: no Read needed), then stop."""
    users = [m for m in body.get("messages") or [] if isinstance(m, dict) and m.get("role") == "user"]
    content = users[-1].get("content") if users else None
    if isinstance(content, list) and any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content):
        return Text("Done as asked.")
    text = json.dumps(body)
    task = next((f"f{k}" for k in range(9, 0, -1) if f"Follow-up {k}:" in text), "issue")
    task = "summary" if "also add a summary" in text else task
    return ToolUse.write(f"{working_directory(body)}/{task}.md", f"# {task}\n\nwritten by the agent\n")


def run_runner(
    gh: FakeGitHub, project: Project, claude_exe: str, tmp_path: Path, *args: str
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """``coordinator runner --name r1 --repo CLONE --once`` as README says: its output and the prompts sent."""
    clone = tmp_path / "clone"
    if not clone.exists():
        git("clone", "--quiet", str(project.origin), str(clone), cwd=tmp_path)
    home = tmp_path / "runner-home"
    with FakeAnthropic(writes_a_file) as api:
        env = github_env(gh, project, home, **claude_env(api.url, home))
        env["PATH"] = os.pathsep.join([str(Path(claude_exe).parent), env["PATH"]])
        env.pop("COORDINATOR_REMOTE")
        done = run(["runner", "--name", "r1", "--repo", str(clone), "--once", *args], env)
        prompts = [json.dumps(r.body) for r in api.message_requests]
    assert done.returncode == 0, done.stdout + done.stderr
    return done, prompts


def tracking_comments(gh: FakeGitHub, number: int) -> list[str]:
    return [c["body"] for c in gh.issue_comments(number) if MARKER.format(number) in c["body"]]


def branch_tip(project: Project, branch: str, tmp_path: Path) -> str:
    return git("ls-remote", str(project.origin), f"refs/heads/{branch}", cwd=tmp_path).split()[0]


def issue_with_a_pull_request(gh: FakeGitHub, project: Project, claude_exe: str, tmp_path: Path) -> tuple[int, int]:
    """An issue alice labelled, whose task ran and opened its pull request: (issue, pull request)."""
    number = gh.add_issue("Add notes", body="Please add a notes.md file.", author="bob")
    gh.label(number, "claude", by="alice")
    ingest(gh, project, tmp_path, "issues", issues_event(gh, number, "labeled", sender="alice", label="claude"))
    run_runner(gh, project, claude_exe, tmp_path)
    assert project.state().tasks[f"issue-{number}"].status == TaskStatus.SUCCEEDED
    [pull] = gh.pulls()
    return number, pull["number"]


def test_a_review_requesting_changes_becomes_a_follow_up_pushed_to_the_same_pull_request(
    gh: FakeGitHub, project: Project, claude_exe: str, tmp_path: Path
) -> None:
    number, pull = issue_with_a_pull_request(gh, project, claude_exe, tmp_path)
    branch = f"coordinator/issue-{number}"
    first_head = gh.pulls()[0]["head"]["sha"]
    assert first_head == branch_tip(project, branch, tmp_path)
    review_id, (first, second) = gh.add_review(
        pull,
        by="alice",
        body="Two things before this can go in.",
        comments=[("notes.md", 1, "Use a level-two heading here."), ("notes.md", 3, "Say who wrote it.")],
    )
    payload = review_event(gh, pull, review_id, sender="alice")

    made = ingest(gh, project, tmp_path, "pull_request_review", payload)
    assert f"follow-up issue-{number}-f1 of issue-{number}" in made
    # Both review comments also arrive on their own: ignored, saying why (the review is the unit).
    for comment in (first, second):
        said = ingest(
            gh,
            project,
            tmp_path,
            "pull_request_review_comment",
            review_comment_event(gh, pull, comment, sender="alice"),
        )
        assert "ignored" in said and f"review {review_id}" in said
    [comment] = tracking_comments(gh, number)
    assert "Follow-up 1: alice requested changes" in comment and "Queued" in comment

    result, prompts = run_runner(gh, project, claude_exe, tmp_path)

    state = project.state()
    follow_up = state.tasks[f"issue-{number}-f1"]
    assert follow_up.status == TaskStatus.SUCCEEDED, result.stdout
    assert follow_up.group == state.tasks[f"issue-{number}"].group
    prompt = next(p for p in prompts if "Follow-up 1:" in p)
    for expected in ("Use a level-two heading here.", "Say who wrote it.", "notes.md`, line 1", "notes.md`, line 3"):
        assert expected in prompt, expected
    assert "Two things before this can go in." in prompt and "alice requested changes" in prompt
    # The commit is on the pull request's branch, on top of the task's work: the pull request's head moved.
    commit = follow_up.attempts[-1].commit
    assert commit and branch_tip(project, branch, tmp_path) == commit
    assert git("merge-base", "--is-ancestor", first_head, commit, cwd=project.origin) == ""
    assert "f1.md" in git("show", "--name-only", "--format=", commit, cwd=project.origin)
    [only] = gh.pulls()
    assert only["number"] == pull and only["head"]["sha"] == commit
    # One reply in each thread, the tracking comment still one, with the follow-up's section.
    replies = [c for c in gh.pull_review_comments(pull) if c["user"]["login"] == "coordinator-bot"]
    assert sorted(r["in_reply_to_id"] for r in replies) == sorted([first, second])
    assert all(commit[:12] in r["body"] and "@claude" not in r["body"] for r in replies)
    [comment] = tracking_comments(gh, number)
    assert "Follow-up 1: alice requested changes" in comment and commit[:12] in comment
    assert follow_up.follow_up is not None and follow_up.follow_up.replied
    assert follow_up.github is not None and follow_up.github.pending == []

    # The same review delivered again: still one follow-up.
    again = ingest(gh, project, tmp_path, "pull_request_review", payload)
    assert "ignored" in again and f"issue-{number}-f1 already" in again
    follow_ups = [t for t in project.state().tasks if t.startswith(f"issue-{number}-f")]
    assert follow_ups == [f"issue-{number}-f1"]
    assert len(tracking_comments(gh, number)) == 1
    someone = user_env(tmp_path / "someone", {"COORDINATOR_REMOTE": str(project.origin)})
    shown = run(["show", f"issue-{number}-f1"], someone).stdout
    assert f"follow-up: 1 of issue-{number}: review by alice on pull request #{pull} (replied in its threads)" in shown


def test_reviews_by_readers_approvals_and_unmentioned_comments_make_nothing(
    gh: FakeGitHub, project: Project, claude_exe: str, tmp_path: Path
) -> None:
    number, pull = issue_with_a_pull_request(gh, project, claude_exe, tmp_path)
    before = project.state().tasks.keys()
    reader, _ = gh.add_review(pull, by="rita", comments=[("notes.md", 1, "Rewrite everything")])
    said = ingest(gh, project, tmp_path, "pull_request_review", review_event(gh, pull, reader, sender="rita"))
    assert "ignored: a review by rita (read access)" in said
    approval, _ = gh.add_review(pull, by="alice", state="APPROVED", body="@claude looks good")
    said = ingest(gh, project, tmp_path, "pull_request_review", review_event(gh, pull, approval, sender="alice"))
    assert "ignored" in said and "approved" in said
    quiet, _ = gh.add_review(pull, by="alice", state="COMMENTED", comments=[("notes.md", 2, "Nice.")])
    said = ingest(gh, project, tmp_path, "pull_request_review", review_event(gh, pull, quiet, sender="alice"))
    assert "ignored" in said and "does not mention @claude" in said
    chat = gh.add_comment(pull, "Thanks, looks fine.", by="alice")
    said = ingest(gh, project, tmp_path, "issue_comment", pull_comment_event(gh, pull, chat, sender="alice"))
    assert "ignored" in said and "does not mention" in said
    assert project.state().tasks.keys() == before
    assert len(tracking_comments(gh, number)) == 1


def test_two_reviews_make_two_follow_ups_that_run_one_after_the_other(
    gh: FakeGitHub, project: Project, claude_exe: str, tmp_path: Path
) -> None:
    number, pull = issue_with_a_pull_request(gh, project, claude_exe, tmp_path)
    one, _ = gh.add_review(pull, by="alice", comments=[("notes.md", 1, "First change.")])
    ingest(gh, project, tmp_path, "pull_request_review", review_event(gh, pull, one, sender="alice"))
    ask = gh.add_comment(pull, "@claude please also add a changelog entry", by="alice")
    said = ingest(gh, project, tmp_path, "issue_comment", pull_comment_event(gh, pull, ask, sender="alice"))
    assert f"follow-up issue-{number}-f2" in said

    result, _ = run_runner(gh, project, claude_exe, tmp_path, "--slots", "2")

    state = project.state()
    f1, f2 = state.tasks[f"issue-{number}-f1"], state.tasks[f"issue-{number}-f2"]
    assert f1.status == f2.status == TaskStatus.SUCCEEDED, result.stdout
    [a1], [a2] = f1.attempts, f2.attempts
    assert a1.finished_at and a2.started_at and a1.finished_at <= a2.started_at  # never at once: they queued
    # f2 started from the branch with f1's work on it: both land on the one pull request, in order.
    tip = branch_tip(project, f"coordinator/issue-{number}", tmp_path)
    assert tip == a2.commit and a1.commit
    assert git("merge-base", "--is-ancestor", a1.commit, a2.commit, cwd=project.origin) == ""
    assert len(gh.pulls()) == 1 and gh.pulls()[0]["head"]["sha"] == tip
    [comment] = tracking_comments(gh, number)
    assert "Follow-up 1:" in comment and "Follow-up 2:" in comment
    assert "eyes" in [c for _, c in gh.reactions(ask)]


def test_a_new_round_of_the_issues_task_continues_from_what_its_follow_ups_pushed(
    gh: FakeGitHub, project: Project, claude_exe: str, tmp_path: Path
) -> None:
    number, pull = issue_with_a_pull_request(gh, project, claude_exe, tmp_path)
    branch = f"coordinator/issue-{number}"
    review_id, _ = gh.add_review(pull, by="alice", comments=[("notes.md", 1, "Use a level-two heading here.")])
    ingest(gh, project, tmp_path, "pull_request_review", review_event(gh, pull, review_id, sender="alice"))
    run_runner(gh, project, claude_exe, tmp_path)
    after_follow_up = branch_tip(project, branch, tmp_path)
    assert project.state().tasks[f"issue-{number}-f1"].github.pushed == after_follow_up  # type: ignore[union-attr]

    # Back on the issue, alice asks the task itself for more: its new round builds on the pull request's branch.
    said = gh.add_comment(number, "/retry also add a summary", by="alice")
    ingest(gh, project, tmp_path, "issue_comment", comment_event(gh, number, said))
    result, _ = run_runner(gh, project, claude_exe, tmp_path)
    task = project.state().tasks[f"issue-{number}"]
    assert task.status == TaskStatus.SUCCEEDED and task.round == 1, result.stdout
    link = task.github
    assert link is not None and link.pending == [] and link.last_error is None
    head = branch_tip(project, branch, tmp_path)
    assert head == link.pushed == task.attempts[-1].commit
    assert git("merge-base", "--is-ancestor", after_follow_up, head, cwd=project.origin) == ""
    assert "summary.md" in git("show", "--name-only", "--format=", head, cwd=project.origin)
    [only] = gh.pulls()
    assert only["number"] == pull and only["head"]["sha"] == head
