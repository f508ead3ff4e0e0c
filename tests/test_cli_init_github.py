"""``coordinator init --github``: the state branch on the repository's origin and the workflow in its clone,
through ``CliRunner`` and the installed command, with real clones and bare remotes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from coordinator import __version__
from coordinator.cli.app import cli
from coordinator.cli.github_init import github_repository
from coordinator.errors import ConfigError
from coordinator.github.workflow import WORKFLOW_PATH, render_workflow, write_workflow
from tests.conftest import make_bare_remote
from tests.fakes.github_server import FakeGitHub
from tests.github_scenarios import REPO, TOKEN
from tests.gitutil import git, read_branch_file
from tests.test_cli_terminal import coordinator_command
from tests.user_machine import run as run_command
from tests.user_machine import user_env

STATUSES = ("queued", "running", "needs-input", "succeeded", "failed", "cancelled")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def assert_one_line_error(result: Result, code: int = 2) -> str:
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    return result.stderr.strip()


def has_state_branch(remote: Path, branch: str = "coordinator/state") -> bool:
    return bool(git("branch", "--list", branch, cwd=remote).strip())


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A clone of origin.git (one commit on main), as a user has of their GitHub repository."""
    origin = make_bare_remote(tmp_path / "origin.git")
    work = tmp_path / "work"
    git("clone", "--quiet", str(origin), str(work), cwd=tmp_path)
    (work / "README.md").write_text("hello\n", encoding="utf-8")
    git("add", "README.md", cwd=work)
    git("commit", "--quiet", "-m", "first", cwd=work)
    git("push", "--quiet", "origin", "HEAD:main", cwd=work)
    return work


def test_it_creates_the_state_branch_on_origin_and_writes_the_workflow(clone: Path) -> None:
    origin = clone.parent / "origin.git"
    result = run("init", "--github", "--repo", str(clone))
    assert result.exit_code == 0, result.output
    assert (clone / WORKFLOW_PATH).read_text(encoding="utf-8") == render_workflow(__version__)
    assert has_state_branch(origin)
    assert '"schema_version"' in read_branch_file(origin, "meta.json")
    lines = result.output.splitlines()
    assert lines[0] == f"created state branch 'coordinator/state' on {origin} (the origin of {clone}; schema v1)"
    assert lines[1] == f"wrote .github/workflows/coordinator.yml (installs coordinator-queue=={__version__} from PyPI)"
    assert "commit and push the workflow" in result.output and "gh label create claude" in result.output
    assert "'Set up on GitHub'" in result.output
    # Nothing is committed for the user: the workflow waits in the work tree.
    assert git("status", "--porcelain", cwd=clone).strip() == "?? .github/"


def test_running_it_again_changes_nothing_and_says_so(clone: Path) -> None:
    assert run("init", "--github", "--repo", str(clone)).exit_code == 0
    again = run("init", "--github", "--repo", str(clone))
    assert again.exit_code == 0, again.output
    assert "exists already" in again.output and "is up to date" in again.output
    assert "commit and push" not in again.output


def test_a_changed_workflow_is_kept_and_nothing_is_created_without_force(clone: Path) -> None:
    target = clone / WORKFLOW_PATH
    target.parent.mkdir(parents=True)
    target.write_text("name: mine\n", encoding="utf-8")
    line = assert_one_line_error(run("init", "--github", "--repo", str(clone)))
    assert "exists and differs" in line and "coordinator init --github --force" in line
    assert target.read_text(encoding="utf-8") == "name: mine\n"
    assert not has_state_branch(clone.parent / "origin.git")  # refused before anything was written

    forced = run("init", "--github", "--repo", str(clone), "--force")
    assert forced.exit_code == 0, forced.output
    assert "replaced .github/workflows/coordinator.yml" in forced.output
    assert target.read_text(encoding="utf-8") == render_workflow(__version__)


def test_a_windows_checkout_of_the_same_workflow_is_up_to_date(clone: Path) -> None:
    target = clone / WORKFLOW_PATH
    target.parent.mkdir(parents=True)
    target.write_bytes(render_workflow(__version__).replace("\n", "\r\n").encode("utf-8"))
    result = run("init", "--github", "--repo", str(clone))
    assert result.exit_code == 0 and "is up to date" in result.output, result.output


def test_the_repository_of_the_current_folder_is_the_default(clone: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (clone / "src").mkdir()
    monkeypatch.chdir(clone / "src")
    result = run("init", "--github")
    assert result.exit_code == 0, result.output
    assert (clone / WORKFLOW_PATH).exists() and not (clone / "src" / ".github").exists()


def test_remote_puts_the_state_branch_elsewhere_and_a_branch_reaches_the_workflow(clone: Path, tmp_path: Path) -> None:
    other = make_bare_remote(tmp_path / "other.git")
    result = run("init", "--github", "--repo", str(clone), "--remote", str(other), "--branch", "queue/state")
    assert result.exit_code == 0, result.output
    assert has_state_branch(other, "queue/state") and not has_state_branch(clone.parent / "origin.git", "queue/state")
    assert "(--remote or COORDINATOR_REMOTE;" in result.output
    assert "note: the workflow keeps its state branch in the GitHub repository" in result.output
    text = (clone / WORKFLOW_PATH).read_text(encoding="utf-8")
    assert text == render_workflow(__version__, branch="queue/state")


@pytest.mark.parametrize("setup", ["not a repository", "missing", "bare"])
def test_a_place_without_a_work_tree_is_refused_in_one_line(tmp_path: Path, setup: str) -> None:
    if setup == "not a repository":
        target = tmp_path / "plain"
        target.mkdir()
    elif setup == "missing":
        target = tmp_path / "nowhere"
    else:
        target = make_bare_remote(tmp_path / "bare.git")
    line = assert_one_line_error(run("init", "--github", "--repo", str(target)))
    assert "--repo" in line
    assert not (target / ".github").exists()


def test_a_clone_without_origin_needs_a_remote(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    git("init", "--quiet", cwd=work)
    line = assert_one_line_error(run("init", "--github", "--repo", str(work)))
    assert "no 'origin' remote" in line and "--remote URL" in line
    assert not (work / ".github").exists()


def test_a_branch_the_workflow_cannot_hold_is_refused_before_anything_is_written(clone: Path) -> None:
    # A valid git branch, but '{' and '$' would be read by Actions as an expression.
    line = assert_one_line_error(run("init", "--github", "--repo", str(clone), "--branch", "x{y}"))
    assert "cannot go into the workflow" in line
    assert not (clone / ".github").exists()
    assert not has_state_branch(clone.parent / "origin.git", "x{y}")


def test_repo_and_force_without_github_are_refused(remote_path: Path) -> None:
    line = assert_one_line_error(run("--remote", str(remote_path), "init", "--force"))
    assert "--github" in line
    assert not has_state_branch(remote_path)


def test_a_workflow_folder_that_is_a_file_is_reported_in_one_line(clone: Path) -> None:
    (clone / ".github").write_text("not a folder", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"cannot read .*coordinator\.yml: .*: fix or remove it"):
        write_workflow(clone, overwrite=True)
    line = assert_one_line_error(run("init", "--github", "--repo", str(clone), "--force"))
    assert "fix or remove it" in line
    assert (clone / ".github").read_text(encoding="utf-8") == "not a folder"
    assert not has_state_branch(clone.parent / "origin.git")


def test_the_written_file_is_readable_like_its_neighbours(tmp_path: Path) -> None:
    path = write_workflow(tmp_path, overwrite=False)
    if os.name == "posix":  # Windows has no such mode bits
        assert path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in path.parent.iterdir()] == ["coordinator.yml"]  # no temporary file left


@pytest.mark.parametrize(
    ("url", "slug"),
    [
        ("git@github.com:octo/widgets.git", "octo/widgets"),
        ("https://github.com/octo/widgets", "octo/widgets"),
        ("https://x-access-token:ghs_x@github.com/octo/widgets.git/", "octo/widgets"),
        ("ssh://git@github.com/octo/wid.gets.git", "octo/wid.gets"),
        ("/srv/git/widgets.git", None),
        ("https://gitlab.com/octo/widgets.git", None),
    ],
)
def test_the_next_steps_name_the_github_repository(url: str, slug: str | None) -> None:
    assert github_repository(url) == slug


def test_the_installed_command_sets_up_the_clone_it_runs_in(clone: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [*coordinator_command(), "init", "--github"],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("created state branch 'coordinator/state'")
    assert (clone / WORKFLOW_PATH).read_text(encoding="utf-8") == render_workflow(__version__)
    refused = subprocess.run(
        [*coordinator_command(), "init", "--github", "--repo", str(tmp_path)],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2 and refused.stderr.startswith("error: ") and refused.stderr.count("\n") == 1


def test_with_a_token_it_makes_coordinators_labels_and_keeps_their_ids(
    clone: Path, tmp_path: Path, gh: FakeGitHub
) -> None:
    """Set up as README says, with a token: the labels exist with colours, and the status labels' ids are on the
    state branch, so even the first task changes its label with the comment in one request."""
    gh.label(gh.add_issue("Old", author="alice"), "claude", by="alice")  # the trigger label exists already
    env = user_env(tmp_path / "home", {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": gh.url, "GITHUB_REPOSITORY": REPO})
    done = run_command(["init", "--github", "--repo", str(clone)], env)
    assert done.returncode == 0, done.stderr
    made = next(line for line in done.stdout.splitlines() if line.startswith("labels on "))
    assert made.startswith(f"labels on {REPO}: made claude:plan, needs-human, coordinator:queued")
    assert "gh label create" not in done.stdout
    labels = gh.repo_labels()
    assert labels["coordinator:running"] == ("1d76db", "coordinator: an agent is working on it")
    assert {"coordinator:succeeded", "coordinator:failed", "coordinator:cancelled", "needs-human"} <= set(labels)
    meta = json.loads(read_branch_file(clone.parent / "origin.git", "meta.json"))
    kept = meta["github_labels"][REPO]
    assert set(kept) == {f"coordinator:{s}" for s in STATUSES} | {"needs-human"}
    assert all(kept.values())

    again = run_command(["init", "--github", "--repo", str(clone)], env)
    assert again.returncode == 0 and f"labels on {REPO}: made none (all there already)" in again.stdout
    assert json.loads(read_branch_file(clone.parent / "origin.git", "meta.json"))["github_labels"][REPO] == kept


def test_a_token_github_refuses_leaves_the_labels_to_the_first_task_and_says_so(
    clone: Path, tmp_path: Path, gh: FakeGitHub
) -> None:
    env = user_env(
        tmp_path / "home", {"GITHUB_TOKEN": "ghp_" + "x" * 36, "GITHUB_API_URL": gh.url, "GITHUB_REPOSITORY": REPO}
    )
    done = run_command(["init", "--github", "--repo", str(clone)], env)
    assert done.returncode == 0, done.stderr
    assert f"warning: could not make the labels on {REPO}" in done.stdout and "Bad credentials" in done.stdout
    assert "gh label create claude" in done.stdout and "ghp_xxxx" not in done.stdout
    assert has_state_branch(clone.parent / "origin.git")


def test_a_malformed_github_api_url_stops_it_before_anything_is_written(clone: Path, tmp_path: Path) -> None:
    env = user_env(tmp_path / "home", {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": "api.github.com"})
    done = run_command(["init", "--github", "--repo", str(clone)], env)
    assert done.returncode == 2 and done.stdout == "" and done.stderr.count("\n") == 1
    assert done.stderr.startswith("error: GITHUB_API_URL 'api.github.com' is not an http(s) URL")
    assert not has_state_branch(clone.parent / "origin.git") and not (clone / WORKFLOW_PATH).exists()
