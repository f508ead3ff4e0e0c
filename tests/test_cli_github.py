"""``coordinator github``: the GitHub settings on the state branch, shown and changed one key at a time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from coordinator.cli.app import cli
from tests.gitutil import branch_log, read_branch_file


def run(remote: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--remote", str(remote), *args], catch_exceptions=False)


@pytest.fixture
def remote(remote_path: Path) -> Path:
    assert run(remote_path, "init").exit_code == 0
    return remote_path


def test_the_defaults_are_shown(remote: Path) -> None:
    shown = run(remote, "github")
    assert shown.exit_code == 0, shown.output
    rows = {tuple(line.split(None, 1)) for line in shown.output.splitlines()[1:]}
    assert ("trigger_label", "claude") in rows and ("status_labels", "true") in rows
    assert ("push_workflow_changes", "false") in rows and ("mention", "@claude") in rows
    data = json.loads(run(remote, "github", "--json").output)
    assert data["default_pr"] == "draft" and data["allowed_bots"] == []


def test_settings_are_changed_in_one_commit_and_the_rest_of_config_json_stays(remote: Path) -> None:
    before = json.loads(read_branch_file(remote, "config.json"))
    done = run(
        remote,
        "github",
        "--set",
        "trigger_label=agent",
        "--set",
        "allowed_bots=renovate[bot], my-app[bot]",
        "--set",
        "status_labels=false",
    )
    assert done.exit_code == 0, done.output
    after = json.loads(read_branch_file(remote, "config.json"))
    assert after["github"]["trigger_label"] == "agent"
    assert after["github"]["allowed_bots"] == ["renovate[bot]", "my-app[bot]"]
    assert after["github"]["status_labels"] is False
    assert after["modes"] == before["modes"] and after["limits"] == before["limits"]
    assert branch_log(remote)[0].startswith("set github settings by ")
    unchanged = run(remote, "github", "--set", "trigger_label=agent")
    assert "unchanged" in unchanged.output
    assert len([line for line in branch_log(remote) if "github settings" in line]) == 1


@pytest.mark.parametrize(
    ("assignment", "expected"),
    [
        ("nope=1", "use KEY=VALUE with KEY one of trigger_label"),
        ("trigger_label", "use KEY=VALUE"),
        ("default_pr=maybe", "invalid default_pr: Input should be 'none', 'link', 'draft' or 'ready'"),
        ("branch_prefix=bad branch/", "invalid branch_prefix: a branch prefix is letters"),
        ("branch_prefix=a..b/", "invalid branch_prefix"),
        ("allowed_bots=two words", "invalid allowed_bots: not GitHub logins: two words"),
        ("trigger_label=", "invalid trigger_label"),
        ("status_labels=perhaps", "invalid status_labels"),
    ],
)
def test_bad_settings_are_one_line_errors_and_change_nothing(remote: Path, assignment: str, expected: str) -> None:
    log = branch_log(remote)
    done = run(remote, "github", "--set", assignment)
    assert done.exit_code == 2
    assert done.stderr.startswith("error: ") and expected in done.stderr, done.stderr
    assert done.stderr.count("\n") == 1
    assert branch_log(remote) == log
