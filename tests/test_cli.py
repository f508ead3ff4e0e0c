"""The CLI contract: command names, flags, env vars, output and exit codes (0 ok, 1 failure, 2 usage, 3 none)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from coordinator.cli.app import cli
from coordinator.store.layout import task_path
from tests.gitutil import branch_log, edit_branch


def run(remote: Path | None, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    prefix = ["--remote", str(remote)] if remote is not None else []
    return CliRunner().invoke(cli, [*prefix, *args], input=input, env=env, catch_exceptions=False)


@pytest.fixture
def remote(remote_path: Path) -> Path:
    result = run(remote_path, "init")
    assert result.exit_code == 0, result.output
    return remote_path


def test_init_is_idempotent_and_says_what_it_did(remote_path: Path) -> None:
    first = run(remote_path, "init")
    assert first.exit_code == 0
    assert "created state branch 'coordinator/state'" in first.output
    second = run(remote_path, "init")
    assert second.exit_code == 0
    assert "exists already" in second.output


def test_remote_and_branch_come_from_the_environment(remote_path: Path) -> None:
    env = {"COORDINATOR_REMOTE": str(remote_path), "COORDINATOR_BRANCH": "queue/state"}
    assert run(None, "init", env=env).exit_code == 0
    assert run(None, "submit", "hello", env=env).output.strip() == "task-1"
    assert branch_log(remote_path, "queue/state")[0] == "submit task-1: hello"


def test_submit_with_every_option_then_show_json(remote: Path, tmp_path: Path) -> None:
    body = tmp_path / "body.md"
    body.write_text("Steps:\n1. do it\n")
    assert run(remote, "submit", "base").output.strip() == "task-1"
    result = run(
        remote,
        "submit",
        "Fix login",
        "--body-file",
        str(body),
        "--priority",
        "high",
        "--mode",
        "complex",
        "--requires",
        "gpu",
        "--requires",
        "linux",
        "--depends-on",
        "task-1",
        "--deadline",
        "2030-01-01T10:00:00Z",
        "--max-attempts",
        "5",
        "--json",
    )
    assert result.exit_code == 0, result.output
    task = json.loads(result.output)
    assert task["id"] == "task-2"
    assert task["status"] == "blocked"
    assert task["priority"] == "high"
    assert task["mode"] == "complex"
    assert task["requires"] == ["gpu", "linux"]
    assert task["depends_on"] == ["task-1"]
    assert task["max_attempts"] == 5
    assert task["deadline"].startswith("2030-01-01T10:00:00")
    assert task["body"] == "Steps:\n1. do it\n"
    assert task["source"]["kind"] == "cli"
    shown = json.loads(run(remote, "show", "task-2", "--json").output)
    assert shown == task


def test_body_from_stdin(remote: Path) -> None:
    run(remote, "submit", "x", "--body-file", "-", input="from stdin")
    assert json.loads(run(remote, "show", "task-1", "--json").output)["body"] == "from stdin"


def test_claim_complete_cycle_and_exit_code_3_when_nothing_to_claim(remote: Path, tmp_path: Path) -> None:
    run(remote, "submit", "low one", "--priority", "low")
    run(remote, "submit", "urgent one", "--priority", "critical")
    run(remote, "submit", "gpu one", "--priority", "critical", "--requires", "gpu")
    claimed = run(remote, "claim", "--runner", "runner-a", "--json")
    assert claimed.exit_code == 0
    assert json.loads(claimed.output)["title"] == "urgent one"
    assert run(remote, "claim", "--runner", "runner-a").output.startswith("task-1\t")
    nothing = run(remote, "claim", "--runner", "runner-a")
    assert nothing.exit_code == 3
    assert "nothing to claim" in nothing.output
    assert run(remote, "claim", "--runner", "gpu-box", "--capability", "gpu").exit_code == 0

    result_file = tmp_path / "result.json"
    result_file.write_text(json.dumps({"summary": "done", "cost_usd": 0.25, "model": "haiku", "turns": 3}))
    done = run(remote, "complete", "task-2", "--runner", "runner-a", "--result-file", str(result_file))
    assert done.exit_code == 0
    assert done.output.strip() == "task-2 succeeded"
    shown = json.loads(run(remote, "show", "task-2", "--json").output)
    assert shown["attempts"][0]["summary"] == "done"
    assert shown["attempts"][0]["cost_usd"] == 0.25


def test_fail_requeues_then_fails_and_retry_revives(remote: Path) -> None:
    run(remote, "submit", "flaky", "--max-attempts", "2")
    run(remote, "claim", "--runner", "r1")
    out = run(remote, "fail", "task-1", "--runner", "r1", "--reason", "tests broke", "--next-mode", "complex")
    assert out.output.strip() == "task-1 queued"
    run(remote, "claim", "--runner", "r1")
    assert run(remote, "fail", "task-1", "--runner", "r1", "--reason", "again").output.strip() == "task-1 failed"
    task = json.loads(run(remote, "show", "task-1", "--json").output)
    assert [a["mode"] for a in task["attempts"]] == ["simple", "complex"]
    assert run(remote, "retry", "task-1").output.strip() == "task-1 queued"
    assert run(remote, "claim", "--runner", "r1").exit_code == 0


def test_cancel_and_errors_for_impossible_transitions(remote: Path) -> None:
    run(remote, "submit", "x")
    assert run(remote, "cancel", "task-1", "--reason", "not needed").output.strip() == "task-1 cancelled"
    again = run(remote, "cancel", "task-1")
    assert again.exit_code == 1
    assert "cancelled already" in again.output
    not_failed = run(remote, "retry", "task-1")
    assert not_failed.exit_code == 0  # cancelled tasks can be retried
    wrong_runner = run(remote, "complete", "task-1", "--runner", "someone")
    assert wrong_runner.exit_code == 1
    assert "no attempt by someone" in wrong_runner.output


def test_list_filters_and_status_counts(remote: Path) -> None:
    for title in ("a", "b", "c"):
        run(remote, "submit", title)
    run(remote, "claim", "--runner", "r1")
    listing = run(remote, "list", "--status", "queued")
    assert listing.exit_code == 0
    assert "task-2" in listing.output and "task-1" not in listing.output
    assert [t["id"] for t in json.loads(run(remote, "list", "--json").output)] == ["task-1", "task-2", "task-3"]
    status = json.loads(run(remote, "status", "--json").output)
    assert status["counts"]["queued"] == 2
    assert status["counts"]["running"] == 1
    assert "tasks: 3 (2 queued, 1 running)" in run(remote, "status").output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["submit", "x", "--priority", "urgent"], "invalid value for '--priority'"),
        (["submit", "x", "--deadline", "next tuesday"], "is not a date"),
        (["submit", "x", "--mode", "turbo"], "unknown mode 'turbo': use one of complex, expert, simple"),
        (["submit", "x", "--depends-on", "task-99"], "unknown dependency task-99"),
        (["submit", "x", "--body", "a", "--body-file", "-"], "either --body or --body-file"),
        (["submit", "   "], "title is empty"),
        (["show", "Not/An/Id"], "invalid task id"),
        (["claim", "--runner", "Bad Name"], "invalid runner name"),
        (["claim"], "missing option '--runner' (see 'coordinator claim --help')"),
    ],
)
def test_usage_errors_exit_2_with_one_actionable_line(remote: Path, args: list[str], message: str) -> None:
    result = run(remote, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_bad_result_file_is_a_usage_error(remote: Path, tmp_path: Path) -> None:
    run(remote, "submit", "x")
    run(remote, "claim", "--runner", "r1")
    bad = tmp_path / "r.json"
    bad.write_text('{"cost_usd": "lots"}')
    result = run(remote, "complete", "task-1", "--runner", "r1", "--result-file", str(bad))
    assert result.exit_code == 2
    assert "cost_usd" in result.output
    assert json.loads(run(remote, "show", "task-1", "--json").output)["status"] == "running"  # nothing written


def test_missing_remote_and_missing_branch_name_the_next_command(remote_path: Path, tmp_path: Path) -> None:
    no_remote = run(None, "list")
    assert no_remote.exit_code == 2
    assert "pass --remote URL or set COORDINATOR_REMOTE" in no_remote.output
    no_repo = run(tmp_path / "nope.git", "list")
    assert no_repo.exit_code == 2
    assert "git init --bare" in no_repo.output
    no_branch = run(remote_path, "list")
    assert no_branch.exit_code == 1
    assert f"run 'coordinator --remote {remote_path} init'" in no_branch.output


def test_show_of_a_corrupt_task_names_the_file(remote: Path, tmp_path: Path) -> None:
    run(remote, "submit", "x")
    edit_branch(remote, tmp_path / "hand", {task_path("task-1"): "oops"})
    result = run(remote, "show", "task-1")
    assert result.exit_code == 1
    assert task_path("task-1") in result.output
    listing = run(remote, "list")
    assert listing.exit_code == 0
    assert "unreadable files" in listing.output


def test_installed_console_script_exit_codes_and_no_traceback(remote_path: Path, tmp_path: Path) -> None:
    exe = shutil.which("coordinator")
    command = [exe] if exe else [sys.executable, "-m", "coordinator"]
    version = subprocess.run([*command, "--version"], capture_output=True, text=True, check=False)
    assert version.returncode == 0
    assert version.stdout.startswith("coordinator ")
    missing = subprocess.run(
        [*command, "--remote", str(remote_path), "claim", "--runner", "r1"], capture_output=True, text=True, check=False
    )
    assert missing.returncode == 1
    assert "Traceback" not in missing.stderr
    assert missing.stderr.startswith("error: no state branch")


def test_status_flags_a_runner_that_missed_its_heartbeats(remote: Path, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from coordinator.core import transitions as T
    from coordinator.models import Runner
    from coordinator.store.remote import Remote
    from coordinator.store.store import StateStore

    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    with StateStore(Remote.parse(str(remote)), cache_dir=tmp_path / "c", clock=lambda: an_hour_ago) as store:
        for name, interval in (("quiet-box", 60.0), ("slow-box", 7200.0)):
            runner = Runner(name=name, last_heartbeat=an_hour_ago, heartbeat_seconds=interval)
            store.update(lambda s, now, runner=runner: T.heartbeat(s, runner=runner, now=now))
    lines = run(remote, "status").output.splitlines()
    assert any(line.startswith("quiet-box") and "idle (silent)" in line for line in lines)
    assert any(line.startswith("slow-box") and "silent" not in line for line in lines)
