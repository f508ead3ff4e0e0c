"""Worktree manager against real git repositories: an "origin" bare repo, a clone of it, and the runner's work
clone and worktrees in a folder outside any .git directory, per test."""

from __future__ import annotations

import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from coordinator.errors import SecretsInChanges, WorktreeError
from coordinator.gitcmd import GitIdentity
from coordinator.runner.workclone import NO_PUSH_URL
from coordinator.runner.worktree import OLD_ROOT_DIRNAME, WorktreeManager

# Only the test's own setup commits use this; the code under test must bring its own identity.
SETUP_IDENTITY = ["-c", "user.name=Setup", "-c", "user.email=setup@example.com", "-c", "commit.gpgsign=false"]


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"git {' '.join(args)} failed: {done.stderr}"
    return done.stdout.strip()


def commit_all(cwd: Path, message: str) -> str:
    git(cwd, "add", "-A")
    git(cwd, *SETUP_IDENTITY, "commit", "-q", "-m", message)
    return git(cwd, "rev-parse", "HEAD")


@dataclass
class Repos:
    origin: Path
    clone: Path


@pytest.fixture(autouse=True)
def no_git_identity(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh machine: no global/system git config, no identity in the environment, no guessing one."""
    home = tmp_path_factory.mktemp("home")
    empty_config = home / "empty.gitconfig"
    empty_config.write_text("")
    for var in ("HOME", "USERPROFILE", "XDG_CONFIG_HOME"):
        monkeypatch.setenv(var, str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty_config))
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(var, raising=False)
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(var, raising=False)
    # Without this git may invent "user@host" and commit anyway; with it, a missing identity is an error.
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "user.useConfigOnly")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "true")


@pytest.fixture
def repos(tmp_path: Path) -> Repos:
    seed = tmp_path / "seed"
    seed.mkdir()
    git(seed, "init", "-q", "-b", "main")
    (seed / ".gitignore").write_text("*.log\nbuild/\n")
    (seed / "README.md").write_text("hello\n")
    (seed / "tracked.txt").write_text("one\n")
    (seed / "to_delete.txt").write_text("bye\n")
    commit_all(seed, "initial")
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    git(seed, "push", "-q", str(origin), "main")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    return Repos(origin=origin, clone=clone)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "data" / "wt" / "clone-1234"


@pytest.fixture
def manager(repos: Repos, root: Path) -> WorktreeManager:
    return WorktreeManager(repos.clone, root=root, runner="r1")


def head_of(path: Path) -> str:
    return git(path, "rev-parse", "HEAD")


def test_identity_is_really_missing(repos: Repos) -> None:
    # Guards the fixture: if this committed, the identity tests below would prove nothing.
    (repos.clone / "x.txt").write_text("x")
    git(repos.clone, "add", "x.txt")
    done = subprocess.run(["git", "commit", "-q", "-m", "x"], cwd=repos.clone, capture_output=True, check=False)
    assert done.returncode != 0


def test_worktrees_live_in_the_runners_folder_of_the_work_clone(
    repos: Repos, manager: WorktreeManager, root: Path
) -> None:
    wt = manager.create("t1", manager.resolve_base(None))
    assert wt.path == root / "r1" / "t1"
    assert ".git" not in wt.path.parts  # Claude Code refuses every edit under a .git directory
    assert (root / "repo.git" / "HEAD").is_file()
    assert git(repos.clone, "status", "--porcelain", "--untracked-files=all") == ""
    assert git(repos.clone, "worktree", "list", "--porcelain").count("worktree ") == 1  # the clone knows none


def test_resolve_base_defaults_to_origin_head(manager: WorktreeManager) -> None:
    assert manager.resolve_base(None) == "origin/main"


def test_resolve_base_falls_back_to_upstream(repos: Repos, manager: WorktreeManager) -> None:
    git(repos.origin, "branch", "dev", "main")
    git(repos.clone, "fetch", "-q", "origin")
    git(repos.clone, "checkout", "-q", "-b", "dev", "--track", "origin/dev")
    git(repos.clone, "remote", "set-head", "origin", "--delete")
    assert manager.resolve_base(None) == "origin/dev"


def test_resolve_base_falls_back_to_head(repos: Repos, tmp_path: Path, root: Path) -> None:
    local = tmp_path / "local"
    git(tmp_path, "clone", "-q", str(repos.origin), str(local))
    git(local, "remote", "remove", "origin")
    manager = WorktreeManager(local, root=root, runner="r1")
    assert manager.resolve_base(None) == "main"
    git(local, "checkout", "-q", "--detach")
    assert manager.resolve_base(None) == git(local, "rev-parse", "HEAD")


def test_resolve_base_explicit(repos: Repos, manager: WorktreeManager) -> None:
    sha = git(repos.clone, "rev-parse", "HEAD")
    assert manager.resolve_base("main") == "main"
    assert manager.resolve_base("origin/main") == "origin/main"
    assert manager.resolve_base(sha) == sha
    with pytest.raises(WorktreeError, match="'nope' is not a commit"):
        manager.resolve_base("nope")
    with pytest.raises(WorktreeError, match="invalid base"):
        manager.resolve_base("--all")


def test_create_from_default_base(repos: Repos, manager: WorktreeManager) -> None:
    wt = manager.create("t1", manager.resolve_base(None))
    assert wt.task_id == "t1"
    assert wt.branch == "coordinator/t1"
    assert wt.base_commit == git(repos.clone, "rev-parse", "origin/main")
    assert wt.start_commit == wt.base_commit
    assert not wt.reused
    assert (wt.path / "README.md").read_text() == "hello\n"
    assert git(wt.path, "symbolic-ref", "HEAD") == "refs/heads/coordinator/t1"
    assert head_of(wt.path) == wt.base_commit
    # No upstream: a bare `git push` from the task branch must never target main.
    upstream = ["git", "rev-parse", "--abbrev-ref", "@{upstream}"]
    done = subprocess.run(upstream, cwd=wt.path, capture_output=True, check=False)
    assert done.returncode != 0


def test_create_rejects_bad_input(manager: WorktreeManager) -> None:
    for bad in ("", "../x", "a/b", "a b", ".hidden", "-x", "x.lock", "con", "NUL.txt", "a..b"):
        with pytest.raises(WorktreeError, match="invalid task id"):
            manager.create(bad, "main")
    with pytest.raises(WorktreeError, match="is not a commit"):
        manager.create("t1", "no-such-branch")
    assert not (manager.dir / "t1").exists()


def test_record_work_commits_new_modified_deleted_but_not_ignored(manager: WorktreeManager) -> None:
    wt = manager.create("t1", "origin/main")
    assert manager.record_work(wt, "nothing yet") is None
    (wt.path / "tracked.txt").write_text("two\n")
    (wt.path / "to_delete.txt").unlink()
    (wt.path / "new.txt").write_text("new\n")
    (wt.path / "sub" / "deeper").mkdir(parents=True)
    (wt.path / "sub" / "deeper" / "file.py").write_text("x = 1\n")
    (wt.path / "debug.log").write_text("ignored\n")
    (wt.path / "build").mkdir()
    (wt.path / "build" / "out.bin").write_bytes(b"\0")

    message = "# Task t1\n\nDid the thing.\n"
    sha = manager.record_work(wt, message)

    assert sha is not None
    assert sha == head_of(wt.path) == git(wt.path, "rev-parse", "coordinator/t1")
    changes = git(wt.path, "show", "--name-status", "--format=", "HEAD").splitlines()
    assert sorted(changes) == sorted(["M\ttracked.txt", "D\tto_delete.txt", "A\tnew.txt", "A\tsub/deeper/file.py"])
    assert git(wt.path, "log", "-1", "--format=%an <%ae>|%cn <%ce>") == (
        "coordinator <coordinator@localhost>|coordinator <coordinator@localhost>"
    )
    assert git(wt.path, "log", "-1", "--format=%B") == message.strip()  # "# heading" is not a comment
    assert (wt.path / "debug.log").exists()
    assert git(wt.path, "status", "--porcelain") == ""
    assert manager.record_work(wt, "again") == sha  # nothing new: the attempt's work is still that commit


def test_record_work_with_custom_identity(repos: Repos, root: Path) -> None:
    manager = WorktreeManager(repos.clone, root=root, runner="r1", author=GitIdentity("Robo", "robo@example.org"))
    wt = manager.create("t1", "origin/main")
    (wt.path / "new.txt").write_text("new\n")
    assert manager.record_work(wt, "") is not None  # empty message: a default one is used
    assert git(wt.path, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%s") == (
        "Robo <robo@example.org>|Robo <robo@example.org>|coordinator: work in progress"
    )


def test_record_work_refuses_when_agent_switched_branch(manager: WorktreeManager) -> None:
    wt = manager.create("t1", "origin/main")
    git(wt.path, "checkout", "-q", "--detach")
    (wt.path / "new.txt").write_text("new\n")
    with pytest.raises(WorktreeError, match="no longer on branch coordinator/t1"):
        manager.record_work(wt, "x")


def test_record_work_names_the_commit_that_holds_the_attempts_work(manager: WorktreeManager) -> None:
    nothing = manager.create("t1", "origin/main")
    assert manager.record_work(nothing, "no work") is None
    manager.remove(nothing)

    by_agent = manager.create("t2", "origin/main")
    (by_agent.path / "agent.txt").write_text("by the agent\n")
    agent_sha = commit_all(by_agent.path, "agent commit")
    assert manager.record_work(by_agent, "leftovers") == agent_sha
    manager.remove(by_agent)

    uncommitted = manager.create("t3", "origin/main")
    (uncommitted.path / "left.txt").write_text("left for us\n")
    sha = manager.record_work(uncommitted, "commit it")
    assert sha is not None and sha != uncommitted.start_commit
    assert git(uncommitted.path, "show", "--name-only", "--format=", sha).split() == ["left.txt"]


def test_second_attempt_continues_the_branch_which_is_copied_to_the_users_clone(
    repos: Repos, manager: WorktreeManager
) -> None:
    first = manager.create("t1", "origin/main")
    (first.path / "attempt1.txt").write_text("1\n")
    first_head = manager.record_work(first, "attempt 1")
    assert manager.publish(first) is None
    manager.remove(first)
    assert not first.path.exists()
    assert git(repos.clone, "rev-parse", "coordinator/t1") == first_head

    # Meanwhile the base moves on; the branch is kept as it was, not reset or rebased.
    other = repos.clone.parent / "other"
    git(repos.clone.parent, "clone", "-q", str(repos.origin), str(other))
    (other / "upstream.txt").write_text("u\n")
    commit_all(other, "upstream change")
    git(other, "push", "-q", "origin", "main")
    assert manager.fetch_base()

    second = manager.create("t1", manager.resolve_base(None))
    assert second.reused
    assert second.start_commit == first_head == head_of(second.path)
    assert (second.path / "attempt1.txt").read_text() == "1\n"
    assert not (second.path / "upstream.txt").exists()


def test_taking_over_a_dead_runners_task_commits_what_it_left_and_frees_the_branch(
    repos: Repos, manager: WorktreeManager, root: Path
) -> None:
    dead = manager.create("t1", "origin/main")
    (dead.path / "half-done.txt").write_text("the dead attempt's work\n")
    rescuer = WorktreeManager(repos.clone, root=root, runner="r2")
    wt = rescuer.create("t1", "origin/main", takeover="WIP t1: work left by attempt 1 of r1")
    assert wt.reused and wt.path == root / "r2" / "t1"
    assert (wt.path / "half-done.txt").read_text() == "the dead attempt's work\n"
    assert git(wt.path, "log", "-1", "--format=%s") == "WIP t1: work left by attempt 1 of r1"
    assert not dead.path.exists()


def test_leftovers_of_a_crash_are_committed_and_removed_and_nothing_else_is_touched(
    repos: Repos, manager: WorktreeManager, root: Path, tmp_path: Path
) -> None:
    crashed = manager.create("t1", "origin/main")
    (crashed.path / "work.txt").write_text("uncommitted\n")
    gone = manager.create("t2", "origin/main")
    shutil.rmtree(gone.path)  # a registration whose directory was deleted
    (manager.dir / "stray").mkdir()  # never a worktree: not ours to delete
    (manager.dir / "stray" / "keep.txt").write_text("keep\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("precious\n")
    (manager.dir / "link").symlink_to(outside, target_is_directory=True)
    other_runner = WorktreeManager(repos.clone, root=root, runner="r2").create("t3", "origin/main")

    restarted = WorktreeManager(repos.clone, root=root, runner="r1")
    assert restarted.clean_leftovers() == ["t1", "t2"]

    assert not crashed.path.exists()
    assert git(repos.clone.parent, "-C", str(root / "repo.git"), "show", "coordinator/t1:work.txt") == "uncommitted"
    assert (manager.dir / "stray" / "keep.txt").exists()
    assert (outside / "precious.txt").read_text() == "precious\n"  # a link is never followed out
    assert other_runner.path.exists()  # another runner's live worktree
    again = restarted.create("t1", "origin/main")
    assert again.reused and (again.path / "work.txt").exists()
    assert restarted.clean_leftovers() == ["t1"]


def test_clean_leftovers_without_any_worktree(manager: WorktreeManager) -> None:
    assert manager.clean_leftovers() == []


def test_worktrees_of_older_versions_inside_git_are_moved_once(repos: Repos, root: Path) -> None:
    old = repos.clone / ".git" / OLD_ROOT_DIRNAME / "r1" / "t1"
    git(repos.clone, "worktree", "add", "-q", "-b", "coordinator/t1", str(old), "origin/main")
    (old / "left.txt").write_text("from the old location\n")
    manager = WorktreeManager(repos.clone, root=root, runner="r1")
    assert manager.migrate_old_location() == ["t1"]
    assert not (repos.clone / ".git" / OLD_ROOT_DIRNAME).exists()
    assert git(repos.clone, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert git(repos.clone, "show", "coordinator/t1:left.txt") == "from the old location"
    wt = manager.create("t1", "origin/main")
    assert wt.reused and (wt.path / "left.txt").exists()
    assert manager.migrate_old_location() == []


def test_the_work_clone_has_no_credentials_and_refuses_pushes(repos: Repos, manager: WorktreeManager) -> None:
    # What actions/checkout leaves in a clone: a token in a header. The work clone must not inherit it.
    git(repos.clone, "config", "http.https://github.com/.extraheader", "AUTHORIZATION: basic c2VjcmV0")
    git(repos.clone, "config", "credential.helper", "store")
    wt = manager.create("t1", "origin/main")
    config = (manager.clone.path / "config").read_text()
    assert "extraheader" not in config.lower() and "credential" not in config
    assert git(wt.path, "remote", "get-url", "--push", "origin") == NO_PUSH_URL
    (wt.path / "x.txt").write_text("x\n")
    commit_all(wt.path, "agent work")
    push = ["git", "push", "origin", "HEAD:refs/heads/coordinator/state"]
    pushed = subprocess.run(push, cwd=wt.path, capture_output=True, text=True, check=False)
    assert pushed.returncode != 0
    assert "coordinator/state" not in git(repos.origin, "branch", "--list")


def test_hooks_and_config_an_agent_plants_never_run_in_the_runners_git(
    manager: WorktreeManager, tmp_path: Path
) -> None:
    wt = manager.create("t1", "origin/main")
    marker = tmp_path / "pwned"
    hook = manager.clone.path / "hooks" / "post-commit"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    with (manager.clone.path / "config").open("a") as handle:
        handle.write(f"[core]\n\tfsmonitor = touch {marker}; echo\n")
    (wt.path / "new.txt").write_text("new\n")
    assert manager.record_work(wt, "agent's work") is not None
    assert not marker.exists()


def test_a_secret_in_the_changes_leaves_nothing_on_the_branch(repos: Repos, root: Path) -> None:
    def scan(patches: str, messages: str) -> list[str]:
        return ["token.txt line 1 holds the value of API_TOKEN"] if "+sk-live-1234567890" in patches else []

    manager = WorktreeManager(repos.clone, root=root, runner="r1", scan=scan)
    wt = manager.create("t1", "origin/main")
    (wt.path / "token.txt").write_text("sk-live-1234567890\n")
    (wt.path / "fine.txt").write_text("fine\n")
    commit_all(wt.path, "the agent commits it itself")
    (wt.path / "more.txt").write_text("more\n")
    with pytest.raises(SecretsInChanges, match=r"token\.txt") as caught:
        manager.record_work(wt, "attempt 1")
    assert "sk-live" not in str(caught.value)
    assert git(wt.path, "rev-parse", "coordinator/t1") == wt.start_commit


def test_concurrent_create_commit_remove(repos: Repos, manager: WorktreeManager) -> None:
    rounds = 3
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def slot(task_id: str) -> None:
        try:
            start.wait()
            for attempt in range(rounds):
                wt = manager.create(task_id, "origin/main")
                (wt.path / f"attempt{attempt}.txt").write_text(f"{task_id} {attempt}\n")
                assert manager.record_work(wt, f"{task_id} attempt {attempt}") is not None
                manager.remove(wt)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=slot, args=(f"task-{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    work, base = manager.clone.path, git(repos.clone, "rev-parse", "origin/main")
    for i in range(4):
        assert git(work, "rev-list", "--count", f"{base}..coordinator/task-{i}") == str(rounds)
    assert manager.clean_leftovers() == []


def test_fetch_base(repos: Repos, manager: WorktreeManager, tmp_path: Path) -> None:
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(repos.origin), str(other))
    (other / "later.txt").write_text("later\n")
    new_sha = commit_all(other, "later")
    git(other, "push", "-q", "origin", "main")

    result = manager.fetch_base()
    assert result and result.ok, result.reason
    assert git(repos.clone, "rev-parse", "origin/main") == new_sha
    assert manager.base.fetch(branch="origin/main")

    missing_remote = manager.base.fetch(remote="upstream")
    assert not missing_remote and "no remote 'upstream'" in missing_remote.reason

    git(repos.clone, "remote", "set-url", "origin", str(tmp_path / "unreachable.git"))
    offline = manager.fetch_base()
    assert not offline and "failed" in offline.reason
    assert manager.resolve_base(None) == "origin/main"  # local refs still work


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(WorktreeError, match="not a git work tree"):
        WorktreeManager(tmp_path, root=tmp_path / "wt", runner="r1")
