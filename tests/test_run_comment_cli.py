"""A pipeline run's tracking comment as a user gets it (issue 12): ``coordinator pipeline run NAME --issue N``
posts it at once, ``coordinator runner --once`` (its own process, GitHub's variables set) keeps it current until it
shows how every phase ended and the total, and ``pipeline show`` says where it stands. All on 127.0.0.1."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tests.fakes.github_server import FakeGitHub
from tests.github_scenarios import REPO, TOKEN, fake_github
from tests.runner_helpers import Project
from tests.user_machine import run, user_env

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.name == "nt", reason="POSIX paths in the agent command")]

MARKER = "<!-- coordinator:run pipe-nightly-1 -->"
DEFINITION = """
description = "Build, document, publish"

[[phases]]
name = "build"
title = "Build it"

[[phases]]
name = "docs"
title = "Document it"
critical = false

[[phases]]
name = "publish"
title = "Publish it"
needs = ["build"]
"""
AGENT = """
import os, sys
fails = os.environ["COORDINATOR_TASK_ID"].endswith("-docs")
print("the docs tool @crashed | badly" if fails else "done")
sys.exit(1 if fails else 0)
"""


def github_env(gh: FakeGitHub, home: Path, **extra: str) -> dict[str, str]:
    return user_env(home, {"GITHUB_API_URL": gh.url, "GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": REPO, **extra})


def comments(gh: FakeGitHub, issue: int) -> list[str]:
    return [c["body"] for c in gh.issue_comments(issue)]


def test_pipeline_run_with_an_issue_keeps_one_comment_that_ends_with_every_outcome(
    project: Project, tmp_path: Path
) -> None:
    definition = tmp_path / "nightly.toml"
    definition.write_text(DEFINITION)
    agent = tmp_path / "agent.py"
    agent.write_text(AGENT)
    with fake_github() as gh:
        issue = gh.add_issue("Nightly runs", author="alice")
        env = github_env(gh, tmp_path / "home", COORDINATOR_REMOTE=str(project.origin))
        assert run(["pipeline", "set", "nightly", "--file", str(definition)], env).returncode == 0
        started = run(["pipeline", "run", "nightly", "--issue", str(issue)], env)
        assert started.returncode == 0, started.stderr
        assert f"(tracking comment on #{issue})" in started.stdout
        assert f"tracking comment of pipe-nightly-1 on {REPO}#{issue}" in started.stdout
        [queued] = comments(gh, issue)
        assert queued.startswith(MARKER) and "(0 of 3 phases ended)" in queued

        runner = ["runner", "--name", "r1", "--repo", str(project.clone("box")), "--once", "--slots", "2"]
        runner += ["--poll", "0.2", "--agent", "command", "--agent-command", f"{sys.executable} {agent}"]
        done = run(runner, github_env(gh, tmp_path / "runner-home"))
        assert done.returncode == 0, done.stdout + done.stderr

        [final] = comments(gh, issue)
        assert final.startswith(MARKER) and "✅ **Succeeded**: pipeline `nightly`, run 1 (3 of 3 phases ended)" in final
        assert "| `build` | ✅ succeeded | 1 |" in final and "| `publish` | ✅ succeeded | 1 |" in final
        assert "| `docs` (non-critical) | ❌ failed | 3 |" in final and "**Total:** $" in final
        assert gh.call_count("POST */comments") == 1
        shown = run(["pipeline", "show", "nightly"], env)
        assert f"tracking comment on #{issue}: up to date" in shown.stdout, shown.stdout + shown.stderr
        github = json.loads(run(["pipeline", "show", "nightly", "--json"], env).stdout)["run"]["github"]
        assert github["issue"] == issue and github["pending"] is False and github["comment_id"]


def test_without_a_token_the_run_says_who_posts_its_comment(project: Project, tmp_path: Path) -> None:
    definition = tmp_path / "nightly.toml"
    definition.write_text(f"issue = 5\n{DEFINITION}")
    env = user_env(tmp_path / "home", {"COORDINATOR_REMOTE": str(project.origin)})
    assert run(["pipeline", "set", "nightly", "--file", str(definition)], env).returncode == 0
    started = run(["pipeline", "run", "nightly"], env)
    assert started.returncode == 0 and "(tracking comment on #5)" in started.stdout, started.stderr
    assert "no GitHub token here" in started.stderr and "a runner with GitHub access posts it" in started.stderr
    shown = run(["pipeline", "show", "nightly"], env).stdout
    assert "tracking comment on #5: to be posted by the next process with GitHub access" in shown
    refused = run(["pipeline", "run", "nightly", "--issue", "0"], env)
    assert refused.returncode == 2 and "--issue" in refused.stderr and "Traceback" not in refused.stderr


def test_an_ingest_posts_the_comment_a_run_started_without_a_token_left_waiting(
    project: Project, tmp_path: Path
) -> None:
    from tests.fakes.github_events import issues_event, write_event

    definition = tmp_path / "nightly.toml"
    definition.write_text(DEFINITION)
    with fake_github() as gh:
        issue = gh.add_issue("Nightly runs", author="alice")
        plain = user_env(tmp_path / "home", {"COORDINATOR_REMOTE": str(project.origin)})
        assert run(["pipeline", "set", "nightly", "--file", str(definition)], plain).returncode == 0
        assert run(["pipeline", "run", "nightly", "--issue", str(issue)], plain).returncode == 0
        assert comments(gh, issue) == []
        other = gh.add_issue("Unrelated", author="bob")
        gh.label(other, "bug", by="alice")
        event = write_event(tmp_path / "event.json", issues_event(gh, other, "labeled", sender="alice", label="bug"))
        env = github_env(
            gh,
            tmp_path / "actions-home",
            COORDINATOR_REMOTE=str(project.origin),
            GITHUB_EVENT_NAME="issues",
            GITHUB_EVENT_PATH=str(event),
        )
        done = run(["ingest"], env)
        assert done.returncode == 0, done.stdout + done.stderr
        [posted] = comments(gh, issue)
        assert posted.startswith(MARKER) and "(0 of 3 phases ended)" in posted
