"""A plan from GitHub end to end on 127.0.0.1: the fake GitHub, a bare origin with the state branch, ``coordinator
ingest`` as the workflow runs it for the label ``claude:plan``, and ``coordinator runner --once`` with a command
agent that plans (``COORDINATOR_TASK_KIND=plan``) and does the subtasks. The runner verifies the plan label as
the trigger, and keeps the issue's one tracking comment up to date as the subtasks (which have no issue of their
own) end."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from coordinator.models import TaskStatus
from tests.fakes.github_events import issues_event
from tests.fakes.github_server import FakeGitHub
from tests.gitutil import git
from tests.runner_helpers import Project
from tests.test_github_e2e import github_env, ingest, people_github, tracking_comments
from tests.user_machine import run

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.name == "nt", reason="POSIX paths in the command agent")]

AGENT = """
import json, os, pathlib, sys
kind, task = os.environ["COORDINATOR_TASK_KIND"], os.environ["COORDINATOR_TASK_ID"]
if kind == "plan":
    pathlib.Path(".coordinator").mkdir(exist_ok=True)
    pathlib.Path(".coordinator/plan.json").write_text(pathlib.Path(sys.argv[1]).read_text())
    print("Planned: the endpoint, then its docs.")
else:
    pathlib.Path(task + ".md").write_text("done by " + task + "\\n")
    print("did " + task)
"""
PLAN = {
    "subtasks": [
        {"key": "api", "title": "Add the endpoint", "body": "GET /health"},
        {"key": "docs", "title": "Document it", "depends_on": ["api"]},
    ]
}


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with people_github() as fake:
        yield fake


def test_a_plan_label_runs_the_plan_and_its_subtasks_and_the_comment_follows_them(
    gh: FakeGitHub, project: Project, tmp_path: Path
) -> None:
    number = gh.add_issue("Health check", body="Add a health check endpoint, documented.", author="bob")
    gh.label(number, "claude:plan", by="alice")
    ingest(gh, project, tmp_path, issues_event(gh, number, "labeled", sender="alice", label="claude:plan"))
    plan_id = f"issue-{number}"
    assert project.state().tasks[plan_id].kind == "plan"

    plan_file, agent, clone = tmp_path / "plan.json", tmp_path / "agent.py", tmp_path / "clone"
    plan_file.write_text(json.dumps(PLAN))
    agent.write_text(AGENT)
    git("clone", "--quiet", str(project.origin), str(clone), cwd=tmp_path)
    env = github_env(gh, project, tmp_path / "runner-home")
    env.pop("COORDINATOR_REMOTE")  # a runner takes the state remote from its clone's origin
    args = ["runner", "--name", "r1", "--repo", str(clone), "--once", "--slots", "2", "--poll", "0.2"]
    args += ["--agent", "command", "--agent-command", f"{sys.executable} {agent} {plan_file}"]
    done = run(args, env)
    assert done.returncode == 0, done.stdout + done.stderr

    tasks = project.state().tasks
    assert tasks[plan_id].status == TaskStatus.SUCCEEDED, tasks[plan_id].status_reason
    assert [tasks[f"{plan_id}.{n}"].status for n in (1, 2)] == [TaskStatus.SUCCEEDED] * 2
    [comment] = tracking_comments(gh, number)
    # The last subtask's end (and with it the plan's) is in the comment: the runner delivered the plan's comment
    # when it recorded the subtask, not only at a later catch-up.
    assert "✅ **Succeeded**" in comment, comment
    assert f"| `{plan_id}.1` | Add the endpoint | succeeded | `r1` |" in comment
    assert f"| `{plan_id}.2` | Document it | succeeded | `r1` |" in comment
    assert "coordinator:succeeded" in gh.issue_labels(number)
    # One pull request for the whole plan, from its integrated (and verified) branch.
    plan = tasks[plan_id]
    assert plan.plan is not None and plan.plan.report is not None and plan.plan.report.head
    [pull] = gh.pulls()
    assert pull["head"]["ref"] == f"coordinator/{plan_id}", pull
    pushed = git("rev-parse", f"refs/heads/coordinator/{plan_id}", cwd=project.origin).strip()
    assert pushed == plan.plan.report.head
    files = git("ls-tree", "--name-only", pushed, cwd=project.origin).split()
    assert {f"{plan_id}.1.md", f"{plan_id}.2.md"} <= set(files)
    assert f"{plan_id}.v1" in pull["body"] and "| Verify runs | 1, with 0 fix(es) |" in pull["body"], pull["body"]
    assert "| Subtasks | 2 |" in pull["body"]
