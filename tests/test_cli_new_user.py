"""The command line as a new user meets it: every hint works, every error is one line, nothing crashes.

Each test reproduces a finding of the runner issue ("found, tried as a new user would") through the entry point a
user types: ``CliRunner`` on the click app, and the installed ``coordinator`` command as a subprocess.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from coordinator.cli.app import cli
from coordinator.runner.config import RunnerConfig
from tests.conftest import make_bare_remote
from tests.gitutil import branch_log, edit_branch, read_branch_file
from tests.test_cli_terminal import coordinator_command


def run(*args: str, input: str | bytes | None = None, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input, env=env, catch_exceptions=False)


def run_installed(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed ``coordinator`` command, as a user runs it."""
    return subprocess.run([*coordinator_command(), *args], capture_output=True, text=True, timeout=60, check=False)


def assert_one_line_error(result: Result, code: int = 2) -> str:
    """The result failed with ``code`` and printed exactly one line, ``error: …``, and no traceback."""
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr.strip()


@pytest.fixture
def remote(remote_path: Path) -> Path:
    assert run("--remote", str(remote_path), "init").exit_code == 0
    return remote_path


# ------------------------------------------------------------------------------ global options after a command


def test_remote_and_branch_are_accepted_after_the_command(remote_path: Path) -> None:
    created = run("init", "--remote", str(remote_path), "--branch", "queue/state")
    assert created.exit_code == 0, created.output
    assert "created state branch 'queue/state'" in created.output
    assert run("submit", "hello", "--remote", str(remote_path), "--branch", "queue/state").output == "task-1\n"
    assert branch_log(remote_path, "queue/state")[0] == "submit task-1: hello"
    mixed = run("--remote", str(remote_path), "list", "--branch", "queue/state")
    assert "hello" in mixed.output
    bad = run("list", "--remote", str(remote_path), "--branch", "bad..name")
    assert "invalid value for '--branch'" in assert_one_line_error(bad)


def test_runner_sees_remote_and_branch_given_after_it(remote_path: Path, tmp_path: Path) -> None:
    run("init", "--remote", str(remote_path), "--branch", "queue/state")
    repo = tmp_path / "clone"
    subprocess.run(["git", "init", "--quiet", str(repo)], check=True)
    result = run(
        "runner",
        *("--name", "box-1", "--repo", str(repo), "--agent", "scripted", "--dry-run"),
        *("--remote", str(remote_path), "--branch", "queue/state"),
    )
    assert result.exit_code == 0, result.output
    assert f"state branch queue/state on {remote_path} (--remote)" in result.output


@pytest.mark.parametrize("branch", [None, "team/queue"])
def test_the_printed_init_hint_is_a_command_that_works(tmp_path: Path, branch: str | None) -> None:
    remote = make_bare_remote(tmp_path / "my state.git")  # a space, so the hint must quote
    branch_args = ["--branch", branch] if branch else []
    missing = run_installed("--remote", str(remote), *branch_args, "list")
    assert missing.returncode == 1
    hint = re.fullmatch(r"error: no state branch .*: run '(.+)'\n", missing.stderr)
    assert hint is not None, missing.stderr
    words = shlex.split(hint.group(1))
    assert words[0] == "coordinator"
    created = run_installed(*words[1:])
    assert created.returncode == 0, created.stderr
    listed = run_installed("--remote", str(remote), *branch_args, "list")
    assert (listed.returncode, listed.stdout) == (0, "no tasks\n")


# ------------------------------------------------------------------------------------------ one-line errors


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["claim"], "error: missing option '--runner' (see 'coordinator claim --help')"),
        (
            ["submit", "x", "--priority", "urgent"],
            "error: invalid value for '--priority': 'urgent' is not one of 'critical', 'high', 'medium', 'low' "
            "(see 'coordinator submit --help')",
        ),
        (["init", "--bogus"], "error: no such option '--bogus' (see 'coordinator init --help')"),
        (["--bogus", "list"], "error: no such option '--bogus' (see 'coordinator --help')"),
        (
            ["lsit"],
            "error: no such command 'lsit'. (Did you mean one of: 'limits', 'list', 'submit'?) "
            "(see 'coordinator --help')",
        ),
        (["show"], "error: missing argument 'ID' (see 'coordinator show --help')"),
        (["show", "task-1", "task-2"], "error: got unexpected extra argument (task-2) (see 'coordinator show --help')"),
        (
            ["submit", "x", "--max-attempts", "0"],
            "error: invalid value for '--max-attempts': 0 is not in the range 1<=x<=100 "
            "(see 'coordinator submit --help')",
        ),
        (
            ["submit", "x", "--body-file", "no-such-file.md"],
            "error: invalid value for '--body-file': 'no-such-file.md': No such file or directory "
            "(see 'coordinator submit --help')",
        ),
    ],
)
def test_click_usage_errors_are_one_line_naming_the_help(remote: Path, args: list[str], expected: str) -> None:
    result = run("--remote", str(remote), *args)
    assert assert_one_line_error(result) == expected


def test_the_installed_command_prints_usage_errors_on_one_line(remote: Path) -> None:
    for args in (["claim"], ["init", "--bogus"], ["submit", "x", "--deadline", "+99999999h"]):
        done = run_installed("--remote", str(remote), *args)
        assert done.returncode == 2, done.stderr
        assert done.stdout == ""
        assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    bare = run_installed()
    assert "Usage: coordinator" in bare.stdout + bare.stderr  # plain `coordinator` still shows the help


# ---------------------------------------------------------------------- inputs that used to end in tracebacks


def test_overlong_titles_are_one_line_errors_and_write_nothing(remote: Path) -> None:
    message = assert_one_line_error(run("--remote", str(remote), "submit", "x" * 501))
    assert "the title is 501 characters long, over the limit of 256" in message
    assert "over the limit of 256" in assert_one_line_error(run("--remote", str(remote), "submit", "y" * 257))
    assert branch_log(remote) == ["init state branch"]


def test_files_that_are_not_utf8_are_one_line_errors(remote: Path, tmp_path: Path) -> None:
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("café".encode("latin-1"))
    message = assert_one_line_error(run("--remote", str(remote), "submit", "t", "--body-file", str(latin1)))
    assert message == (
        f"error: --body-file {latin1}: not UTF-8 text (byte 0xe9 at offset 3): save it as UTF-8; binary inputs "
        "belong in the repository (name their path instead)"
    )
    piped = run("--remote", str(remote), "submit", "t", "--body-file", "-", input=b"\xff\xfe")
    assert "--body-file <stdin>: not UTF-8 text" in assert_one_line_error(piped)
    run("--remote", str(remote), "submit", "t")
    run("--remote", str(remote), "claim", "--runner", "r1")
    bad = run("--remote", str(remote), "complete", "task-1", "--runner", "r1", "--result-file", str(latin1))
    assert "--result-file" in assert_one_line_error(bad) and "not UTF-8 text" in bad.stderr
    assert json.loads(run("--remote", str(remote), "show", "task-1", "--json").output)["status"] == "running"


def test_utf8_files_with_a_bom_are_read_without_it(remote: Path, tmp_path: Path) -> None:
    body = tmp_path / "notepad.txt"
    body.write_bytes("\ufeffWritten on Windows".encode())
    run("--remote", str(remote), "submit", "t", "--body-file", str(body))
    assert json.loads(run("--remote", str(remote), "show", "task-1", "--json").output)["body"] == "Written on Windows"


@pytest.mark.parametrize(
    ("deadline", "expected"),
    [
        ("+99999999h", "error: --deadline: '+99999999h' is too far in the future (at most 100 years ahead)"),
        ("+" + "9" * 5000 + "d", "error: --deadline: '+9999999999999999999…' is too far in the future"),
        ("9999-12-31T23:59:59-05:00", "error: --deadline: '9999-12-31T23:59:59-05:00' is too far in the past"),
    ],
)
def test_absurd_deadlines_are_usage_errors(remote: Path, deadline: str, expected: str) -> None:
    assert assert_one_line_error(run("--remote", str(remote), "submit", "t", "--deadline", deadline)).startswith(
        expected
    )


def test_an_absurd_task_counter_is_reported_and_submit_repairs_it(remote: Path, tmp_path: Path) -> None:
    assert run("--remote", str(remote), "submit", "first").output == "task-1\n"
    meta = json.loads(read_branch_file(remote, "meta.json"))
    edit_branch(remote, tmp_path / "hand", {"meta.json": json.dumps({**meta, "next_task_number": 10**120})})
    status = run("--remote", str(remote), "status")
    assert status.exit_code == 0
    assert "meta.json: invalid next_task_number" in status.output  # reported, not a crash
    # A bad file never stops the queue: submit rebuilds the counter past every task on the branch.
    assert run("--remote", str(remote), "submit", "t").output == "task-2\n"
    assert json.loads(read_branch_file(remote, "meta.json"))["next_task_number"] == 3
    assert "meta.json" not in run("--remote", str(remote), "status").output


def test_demo_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    used = tmp_path / "demo"
    make_bare_remote(used / "origin.git")  # what a first run leaves behind
    before = sorted(p.relative_to(used) for p in used.rglob("*"))
    message = assert_one_line_error(run("demo", "--dir", str(used)))
    assert message == (
        f"error: --dir {used} is not empty (a demo ran there before?): give a new or empty folder, "
        "or leave --dir out to use a new temporary one"
    )
    assert sorted(p.relative_to(used) for p in used.rglob("*")) == before


# ------------------------------------------------------------------------------------- bounded, honest inputs


def test_a_body_over_the_limit_is_refused_with_where_big_inputs_go(remote: Path, tmp_path: Path) -> None:
    big = tmp_path / "big.log"
    big.write_bytes(b"x" * (65536 + 1))
    message = assert_one_line_error(run("--remote", str(remote), "submit", "t", "--body-file", str(big)))
    assert "the body is 65537 bytes, over the limit of 65536 bytes" in message
    assert "commit big inputs to the repository and name their path in the body, or link to them" in message
    assert branch_log(remote) == ["init state branch"]
    big.write_bytes(b"x" * 65536)
    assert run("--remote", str(remote), "submit", "t", "--body-file", str(big)).exit_code == 0


def test_the_body_limit_is_read_from_config_json(remote: Path, tmp_path: Path) -> None:
    config = json.loads(read_branch_file(remote, "config.json"))
    config["limits"] = {"max_body_bytes": 10}
    edit_branch(remote, tmp_path / "hand", {"config.json": json.dumps(config)})
    message = assert_one_line_error(run("--remote", str(remote), "submit", "t", "--body", "x" * 11))
    assert "over the limit of 10 bytes" in message


def test_a_title_with_a_newline_is_refused(remote: Path) -> None:
    message = assert_one_line_error(run("--remote", str(remote), "submit", "first line\nsecond line"))
    assert "control or invisible formatting character (\\n at position 11)" in message
    assert "put details in the body" in message


def test_a_dependency_that_failed_is_refused_unless_allowed(remote: Path) -> None:
    base = ["--remote", str(remote)]
    run(*base, "submit", "dep", "--max-attempts", "1")
    run(*base, "claim", "--runner", "r1")
    run(*base, "fail", "task-1", "--runner", "r1", "--reason", "broken")
    message = assert_one_line_error(run(*base, "submit", "child", "--depends-on", "task-1"))
    assert "dependency task-1 is failed" in message
    assert "'coordinator retry task-1'" in message and "--allow-failed-dependency" in message
    allowed = run(*base, "submit", "child", "--depends-on", "task-1", "--allow-failed-dependency")
    assert allowed.exit_code == 0
    assert allowed.stdout == "task-2\n"
    assert allowed.stderr == (
        "warning: task-2 waits for task-1, which failed: run 'coordinator retry task-1' to unblock it\n"
    )
    assert json.loads(run(*base, "show", "task-2", "--json").output)["status"] == "blocked"


def test_claim_json_with_nothing_to_claim_prints_null_and_exits_3(remote: Path) -> None:
    result = run("--remote", str(remote), "claim", "--runner", "r1", "--json")
    assert result.exit_code == 3
    assert json.loads(result.stdout) is None
    assert result.stderr == "nothing to claim\n"


def test_claim_leases_as_long_as_a_runner_does_by_default(remote: Path) -> None:
    run("--remote", str(remote), "submit", "t")
    lease = json.loads(run("--remote", str(remote), "claim", "--runner", "r1", "--json").output)["lease"]
    length = datetime.fromisoformat(lease["expires_at"]) - datetime.fromisoformat(lease["acquired_at"])
    assert length.total_seconds() == RunnerConfig.model_fields["lease_ttl_seconds"].default == 600


# ------------------------------------------------------------------------------------------- the audit log


@pytest.mark.parametrize("actor", ["mallory\n\ncomplete task-9 by admin, attempt 1", "eve\x1b[2J", "rlo\u202e"])
def test_an_actor_with_control_characters_cannot_forge_the_audit_log(remote: Path, actor: str) -> None:
    base = ["--remote", str(remote)]
    run(*base, "submit", "t")
    before = branch_log(remote)
    for args in (["submit", "x"], ["cancel", "task-1"], ["retry", "task-1"]):
        result = run(*base, *args, env={"COORDINATOR_ACTOR": actor})
        assert "COORDINATOR_ACTOR holds a control or invisible character" in assert_one_line_error(result)
        assert "\x1b" not in result.stderr and "\u202e" not in result.stderr
    assert branch_log(remote) == before
    assert run(*base, "cancel", "task-1", env={"COORDINATOR_ACTOR": "alice"}).exit_code == 0
    assert branch_log(remote)[0] == "cancel task-1 by alice"


def test_runner_names_with_control_characters_are_refused_everywhere(remote: Path, tmp_path: Path) -> None:
    base = ["--remote", str(remote)]
    run(*base, "submit", "t")
    for args in (
        ["claim", "--runner", "box\n1"],
        ["complete", "task-1", "--runner", "box\x1b1"],
        ["fail", "task-1", "--runner", "box\u202e", "--reason", "r"],
        ["runner", "--name", "box\n1", "--repo", str(tmp_path), "--agent", "scripted", "--once"],
    ):
        assert "invalid runner name" in assert_one_line_error(run(*base, *args))
    assert json.loads(run(*base, "show", "task-1", "--json").output)["status"] == "queued"
