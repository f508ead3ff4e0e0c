"""``coordinator doctor`` on real machines-in-a-folder: a healthy setup passes every check, and each problem it
looks for is provoked for real (no identity, no claude, unreachable remote, no state branch, a folder that cannot
be written, a token GitHub refuses) and reported with its fix."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

import pytest

from coordinator.ops.checks import Status
from coordinator.ops.doctor import run_doctor
from coordinator.ops.setup import DoctorSetup, doctor_setup
from coordinator.timeutil import utcnow
from tests.doctor_helpers import by_name, make_home, not_ok
from tests.fakes.github_routes import Reply
from tests.fakes.github_server import FakeGitHub
from tests.gitutil import edit_branch
from tests.runner_helpers import Project
from tests.user_machine import run, user_env


def runner_setup(project: Project, tmp_path: Path, **overrides: object) -> DoctorSetup:
    """The setup of a runner 'box-1' on its own clone of the project, as ``doctor --name --repo`` builds it."""
    clone = project.clone("box-1") if not (project.root / "box-1").exists() else project.root / "box-1"
    values: dict[str, object] = {"name": "box-1", "repo": clone, "log_dir": tmp_path / "logs" / "box-1"}
    values.update(overrides)
    return doctor_setup(None, values, remote=None, branch="coordinator/state")


def test_a_healthy_runner_passes_every_check(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, claude_exe: str
) -> None:
    make_home(tmp_path, monkeypatch, login=True)
    checks = run_doctor(runner_setup(project, tmp_path, claude_path=claude_exe))
    named = by_name(checks)
    assert list(named)[:4] == ["runner settings", "git", "git identity", "claude"]
    assert not_ok([c for c in checks if c.name != "free disk"]) == {}
    assert named["free disk"].status is not Status.FAIL
    assert "schema v1" in named["state branch"].detail
    assert "nothing was written" in named["remote writable"].detail
    assert named["claude credentials"].detail.startswith("logged in")
    assert "github token" not in named  # no token configured: nothing to check


def test_the_push_probe_leaves_the_remote_as_it_was(project: Project, tmp_path: Path) -> None:
    from tests.runner_helpers import run_git

    before = run_git("for-each-ref", cwd=project.origin)
    objects = sorted(p.name for p in (project.origin / "objects").rglob("*") if p.is_file())
    checks = by_name(run_doctor(runner_setup(project, tmp_path, agent="command")))
    assert checks["remote writable"].status is Status.OK
    assert run_git("for-each-ref", cwd=project.origin) == before
    assert sorted(p.name for p in (project.origin / "objects").rglob("*") if p.is_file()) == objects


def test_no_git_identity_is_a_warning_with_the_commands(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_home(tmp_path, monkeypatch, identity=False)
    check = by_name(run_doctor(runner_setup(project, tmp_path, agent="command")))["git identity"]
    assert check.status is Status.WARN
    assert "user.name and user.email not set" in check.detail
    assert "git config --global user.email" in check.fix


def test_a_missing_claude_cli_fails_with_how_to_install_it(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_home(tmp_path, monkeypatch)
    checks = run_doctor(runner_setup(project, tmp_path, claude_path=str(tmp_path / "no-such-claude")))
    check = by_name(checks)["claude"]
    assert check.status is Status.FAIL
    assert "npm install -g @anthropic-ai/claude-code" in check.fix


def test_claude_without_credentials_fails_and_never_shows_a_key(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, claude_exe: str
) -> None:
    make_home(tmp_path, monkeypatch)
    setup = runner_setup(project, tmp_path, claude_path=claude_exe)
    missing = by_name(run_doctor(setup, env={}))["claude credentials"]
    assert missing.status is Status.FAIL
    assert "/login" in missing.fix
    present = by_name(run_doctor(setup, env={"ANTHROPIC_API_KEY": "sk-ant-secret-value"}))["claude credentials"]
    assert present.status is Status.OK
    assert present.detail == "ANTHROPIC_API_KEY set"


def test_an_unreachable_remote_fails_and_skips_what_needs_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_home(tmp_path, monkeypatch)
    setup = doctor_setup(None, {}, remote=str(tmp_path / "nowhere.git"), branch="coordinator/state")
    checks = by_name(run_doctor(setup))
    assert checks["remote"].status is Status.FAIL
    assert checks["remote"].fix == f"check the URL and your access: git ls-remote {tmp_path / 'nowhere.git'}"
    assert "state branch" not in checks
    assert checks["runner settings"].status is Status.WARN  # only the command-line side was checked


def test_an_unreachable_https_remote_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    make_home(tmp_path, monkeypatch)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    setup = doctor_setup(None, {}, remote=f"http://127.0.0.1:{port}/repo.git", branch="coordinator/state")
    checks = by_name(run_doctor(setup))
    assert checks["remote"].status is Status.FAIL
    assert checks["clock"].status is Status.OK  # nothing to compare with, said so


def test_no_state_branch_fails_naming_init(tmp_path: Path, remote_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_home(tmp_path, monkeypatch)
    checks = by_name(run_doctor(doctor_setup(None, {}, remote=str(remote_path), branch="coordinator/state")))
    assert checks["remote"].status is Status.OK
    assert checks["remote writable"].status is Status.OK
    assert checks["state branch"].status is Status.FAIL
    assert checks["state branch"].fix == f"coordinator --remote {remote_path} init"


def test_a_code_branch_is_not_a_state_branch(project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_home(tmp_path, monkeypatch)
    check = by_name(run_doctor(doctor_setup(None, {}, remote=str(project.origin), branch="main")))["state branch"]
    assert check.status is Status.FAIL
    assert "is not a state branch" in check.detail


def test_a_newer_schema_fails_naming_the_upgrade(project: Project, tmp_path: Path) -> None:
    meta = json.loads(project.store.read().meta.to_json())
    edit_branch(project.origin, tmp_path / "edit", {"meta.json": json.dumps({**meta, "schema_version": 99})})
    check = by_name(run_doctor(runner_setup(project, tmp_path, agent="command")))["state branch"]
    assert check.status is Status.FAIL
    assert "schema version 99" in check.detail
    assert "pipx upgrade coordinator-queue" in check.fix


def test_a_log_folder_that_cannot_be_made_fails(project: Project, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the log folder's parent should be", encoding="utf-8")
    checks = by_name(run_doctor(runner_setup(project, tmp_path, agent="command", log_dir=blocker / "logs")))
    assert checks["logs folder"].status is Status.FAIL
    assert f"{blocker} is a file, not a folder" in checks["logs folder"].detail
    assert checks["logs folder"].fix == f"move the file {blocker} away, or set log_dir (--log-dir) to another folder"
    assert checks["worktrees folder"].status is Status.OK


@pytest.mark.skipif(os.name == "nt" or os.geteuid() == 0, reason="permissions do not stop root (or Windows ACLs)")
def test_a_read_only_log_folder_fails(project: Project, tmp_path: Path) -> None:
    logs = tmp_path / "logs" / "box-1"
    logs.mkdir(parents=True)
    logs.chmod(0o555)
    try:
        check = by_name(run_doctor(runner_setup(project, tmp_path, agent="command")))["logs folder"]
    finally:
        logs.chmod(0o755)
    assert check.status is Status.FAIL
    assert "cannot write in" in check.detail


def test_a_bad_runner_setting_fails_without_a_traceback(tmp_path: Path) -> None:
    plain = tmp_path / "not-a-clone"
    plain.mkdir()
    checks = by_name(run_doctor(doctor_setup(None, {"name": "box-1", "repo": plain}, remote=None, branch="b")))
    assert checks["runner settings"].status is Status.FAIL
    assert "is not a git repository" in checks["runner settings"].detail
    assert checks["remote"].status is Status.FAIL


def test_clock_skew_against_the_state_branch_is_measured_with_time_as_a_parameter(
    project: Project, tmp_path: Path
) -> None:
    project.submit("a task committed now")
    setup = runner_setup(project, tmp_path, agent="command")
    behind = by_name(run_doctor(setup, now=lambda: utcnow() - timedelta(minutes=10)))["clock"]
    assert behind.status is Status.WARN
    assert "ahead of this machine's clock" in behind.detail
    assert "NTP" in behind.fix
    far = by_name(run_doctor(setup, now=lambda: utcnow() - timedelta(hours=2)))["clock"]
    assert far.status is Status.FAIL


class TestGitHubToken:
    """The token check against the fake GitHub: one request, and what GitHub's answer says about the token."""

    def setup_for(self, project: Project, tmp_path: Path, gh: FakeGitHub) -> tuple[DoctorSetup, dict[str, str]]:
        env = {"GITHUB_API_URL": gh.url, "GITHUB_REPOSITORY": "octo/repo", "COORDINATOR_GITHUB_TOKEN": "t0ken-ok"}
        return runner_setup(project, tmp_path, agent="command"), env

    def test_a_token_that_may_push_passes_in_one_request(self, project: Project, tmp_path: Path) -> None:
        with FakeGitHub("octo/repo", token="t0ken-ok") as gh:
            setup, env = self.setup_for(project, tmp_path, gh)
            checks = run_doctor(setup, env=env)
            assert gh.call_count() == 1
        check = by_name(checks)["github token"]
        assert check.status is Status.OK, check
        assert "t0ken-ok" not in json.dumps([c.as_json() for c in checks])

    def test_a_rejected_token_fails_naming_its_variable(self, project: Project, tmp_path: Path) -> None:
        with FakeGitHub("octo/repo", token="another-token") as gh:
            setup, env = self.setup_for(project, tmp_path, gh)
            check = by_name(run_doctor(setup, env=env))["github token"]
        assert check.status is Status.FAIL
        assert check.detail == "GitHub rejects COORDINATOR_GITHUB_TOKEN (Bad credentials)"
        assert "export COORDINATOR_GITHUB_TOKEN=" in check.fix

    def test_a_token_without_access_to_the_repository_fails(self, project: Project, tmp_path: Path) -> None:
        with FakeGitHub("octo/repo", token="t0ken-ok") as gh:
            message = "Resource not accessible by personal access token"
            gh.fail("GET /repos/octo/repo", 403, message=message)
            setup, env = self.setup_for(project, tmp_path, gh)
            check = by_name(run_doctor(setup, env=env))["github token"]
        assert check.status is Status.FAIL
        assert check.detail == f"COORDINATOR_GITHUB_TOKEN cannot read octo/repo (403 {message})"

    def test_a_token_of_a_read_only_account_fails(self, project: Project, tmp_path: Path) -> None:
        with ReadOnlyGitHub("octo/repo", token="t0ken-ok") as gh:
            setup, env = self.setup_for(project, tmp_path, gh)
            check = by_name(run_doctor(setup, env=env))["github token"]
        assert check.status is Status.FAIL
        assert "may not push to octo/repo" in check.detail

    def test_githubs_clock_is_compared(self, project: Project, tmp_path: Path) -> None:
        with FakeGitHub("octo/repo", token="t0ken-ok") as gh:
            setup, env = self.setup_for(project, tmp_path, gh)
            check = by_name(run_doctor(setup, env=env, now=lambda: utcnow() + timedelta(minutes=5)))["clock"]
        assert check.status is Status.WARN
        assert check.detail.startswith("GitHub's clock is 30")
        assert "behind this machine's clock" in check.detail


class ReadOnlyGitHub(FakeGitHub):
    """The fake GitHub, answering for a token whose account may only read the repository."""

    def _handle(self, method: str, raw_path: str, headers: Mapping[str, str], raw_body: bytes) -> Reply:
        reply = super()._handle(method, raw_path, headers, raw_body)
        if isinstance(reply.body, dict) and "permissions" in reply.body:
            reply.body["permissions"] = {"admin": False, "maintain": False, "push": False, "pull": True}
        return reply


def test_doctor_end_to_end_through_the_command(project: Project, tmp_path: Path, claude_exe: str) -> None:
    home = tmp_path / "user"
    home.mkdir()
    (home / ".gitconfig").write_text("[user]\n\tname = Ada\n\temail = ada@example.invalid\n", encoding="utf-8")
    env = user_env(home, {"ANTHROPIC_API_KEY": "sk-ant-api03-not-a-real-key", "GIT_CONFIG_NOSYSTEM": "1"})
    clone = project.clone("box-1")
    done = run(["doctor", "--name", "box-1", "--repo", str(clone), "--claude-path", claude_exe], env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1].startswith(("all 13 checks passed", "0 failed, 1 warning(s)")), done.stdout
    assert "sk-ant-api03" not in done.stdout

    failing = run(["doctor", "--json", "--remote", str(tmp_path / "missing.git")], {**env, "PATH": os.defpath})
    assert failing.returncode == 1, failing.stderr
    report = json.loads(failing.stdout)
    assert report["ok"] is False
    assert {c["name"]: c["status"] for c in report["checks"]}["remote"] == "FAIL"
    assert set(report["checks"][0]) == {"name", "status", "detail", "fix"}
    assert failing.stderr == ""
