"""Worktree manager against real git repositories: an "origin" bare repo and a clone of it, per test."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from coordinator.errors import WorktreeError
from coordinator.runner.worktree import GitIdentity, WorktreeManager

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
def manager(repos: Repos) -> WorktreeManager:
    return WorktreeManager(repos.clone)


def test_identity_is_really_missing(repos: Repos) -> None:
    # Guards the fixture: if this committed, the identity tests below would prove nothing.
    (repos.clone / "x.txt").write_text("x")
    git(repos.clone, "add", "x.txt")
    done = subprocess.run(["git", "commit", "-q", "-m", "x"], cwd=repos.clone, capture_output=True, check=False)
    assert done.returncode != 0


def test_root_defaults_inside_git_dir(repos: Repos, manager: WorktreeManager) -> None:
    assert manager.root == (repos.clone / ".git" / "coordinator-worktrees").resolve()
    manager.create("t1", manager.resolve_base(None))
    assert git(repos.clone, "status", "--porcelain", "--untracked-files=all") == ""


def test_resolve_base_defaults_to_origin_head(manager: WorktreeManager) -> None:
    assert manager.resolve_base(None) == "origin/main"


def test_resolve_base_falls_back_to_upstream(repos: Repos, manager: WorktreeManager) -> None:
    git(repos.origin, "branch", "dev", "main")
    git(repos.clone, "fetch", "-q", "origin")
    git(repos.clone, "checkout", "-q", "-b", "dev", "--track", "origin/dev")
    git(repos.clone, "remote", "set-head", "origin", "--delete")
    assert manager.resolve_base(None) == "origin/dev"


def test_resolve_base_falls_back_to_head(repos: Repos, tmp_path: Path) -> None:
    local = tmp_path / "local"
    git(tmp_path, "clone", "-q", str(repos.origin), str(local))
    git(local, "remote", "remove", "origin")
    manager = WorktreeManager(local)
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
    assert wt.path == manager.root / "t1"
    assert wt.base_commit == git(repos.clone, "rev-parse", "origin/main")
    assert wt.start_commit == wt.base_commit
    assert not wt.reused
    assert (wt.path / "README.md").read_text() == "hello\n"
    assert git(wt.path, "symbolic-ref", "HEAD") == "refs/heads/coordinator/t1"
    assert manager.head(wt) == wt.base_commit
    assert manager.commits_since_base(wt) == 0
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
    assert not (manager.root / "t1").exists()


def test_commit_changes_new_modified_deleted_and_ignored(manager: WorktreeManager) -> None:
    wt = manager.create("t1", "origin/main")
    assert manager.commit_changes(wt, "nothing yet") is None
    (wt.path / "tracked.txt").write_text("two\n")
    (wt.path / "to_delete.txt").unlink()
    (wt.path / "new.txt").write_text("new\n")
    (wt.path / "sub" / "deeper").mkdir(parents=True)
    (wt.path / "sub" / "deeper" / "file.py").write_text("x = 1\n")
    (wt.path / "debug.log").write_text("ignored\n")
    (wt.path / "build").mkdir()
    (wt.path / "build" / "out.bin").write_bytes(b"\0")

    message = "# Task t1\n\nDid the thing.\n"
    sha = manager.commit_changes(wt, message)

    assert sha is not None
    assert sha == manager.head(wt) == git(wt.path, "rev-parse", "coordinator/t1")
    changes = git(wt.path, "show", "--name-status", "--format=", "HEAD").splitlines()
    assert sorted(changes) == sorted(["M\ttracked.txt", "D\tto_delete.txt", "A\tnew.txt", "A\tsub/deeper/file.py"])
    assert git(wt.path, "log", "-1", "--format=%an <%ae>|%cn <%ce>") == (
        "coordinator <coordinator@localhost>|coordinator <coordinator@localhost>"
    )
    assert git(wt.path, "log", "-1", "--format=%B") == message.strip()  # "# heading" is not a comment
    assert (wt.path / "debug.log").exists()
    assert git(wt.path, "status", "--porcelain") == ""
    assert manager.commits_since_base(wt) == 1
    assert manager.commit_changes(wt, "again") is None


def test_commit_changes_with_custom_identity(repos: Repos) -> None:
    manager = WorktreeManager(repos.clone, author=GitIdentity("Robo", "robo@example.org"))
    wt = manager.create("t1", "origin/main")
    (wt.path / "new.txt").write_text("new\n")
    assert manager.commit_changes(wt, "") is not None  # empty message: a default one is used
    assert git(wt.path, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%s") == (
        "Robo <robo@example.org>|Robo <robo@example.org>|coordinator: work on task t1"
    )


def test_commit_changes_refuses_when_agent_switched_branch(manager: WorktreeManager) -> None:
    wt = manager.create("t1", "origin/main")
    git(wt.path, "checkout", "-q", "--detach")
    assert manager.commit_changes(wt, "nothing to commit anywhere") is None
    (wt.path / "new.txt").write_text("new\n")
    with pytest.raises(WorktreeError, match="no longer on branch coordinator/t1"):
        manager.commit_changes(wt, "x")


def test_agent_made_commits_are_detected(manager: WorktreeManager) -> None:
    wt = manager.create("t1", "origin/main")
    (wt.path / "agent.txt").write_text("by the agent\n")
    agent_sha = commit_all(wt.path, "agent commit")
    assert manager.commit_changes(wt, "leftovers") is None
    assert manager.head(wt) == agent_sha
    assert manager.commits_since_base(wt) == 1
    assert manager.commits_since_start(wt) == 1


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


def test_second_attempt_reuses_branch_and_keeps_commits(repos: Repos, manager: WorktreeManager) -> None:
    first = manager.create("t1", "origin/main")
    (first.path / "attempt1.txt").write_text("1\n")
    first_head = manager.commit_changes(first, "attempt 1")
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
    assert second.start_commit == first_head == manager.head(second)
    assert (second.path / "attempt1.txt").read_text() == "1\n"
    assert not (second.path / "upstream.txt").exists()
    assert manager.commits_since_base(second) == 1
    assert manager.commits_since_start(second) == 0

    manager.remove(second, keep_branch=False)
    assert git(repos.clone, "branch", "--list", "coordinator/t1") == ""
    assert git(repos.clone, "worktree", "list", "--porcelain").count("worktree ") == 1


def test_create_replaces_worktree_left_by_a_crash(repos: Repos, manager: WorktreeManager) -> None:
    first = manager.create("t1", "origin/main")
    (first.path / "committed.txt").write_text("kept\n")
    head = manager.commit_changes(first, "attempt 1")
    (first.path / "uncommitted.txt").write_text("lost with the crash\n")

    restarted = WorktreeManager(repos.clone)  # the runner died without removing the worktree
    second = restarted.create("t1", "origin/main")

    assert second.reused and second.path == first.path
    assert restarted.head(second) == head
    assert (second.path / "committed.txt").exists()
    assert not (second.path / "uncommitted.txt").exists()
    assert git(repos.clone, "worktree", "list", "--porcelain").count("worktree ") == 2


def _gitdir_of(worktree: Path) -> Path:
    link = (worktree / ".git").read_text().strip()
    assert link.startswith("gitdir: ")
    return Path(link[len("gitdir: ") :])


def test_clean_leftovers_after_crash(repos: Repos, manager: WorktreeManager) -> None:
    wts = {name: manager.create(name, "origin/main") for name in ("plain", "gone", "broken", "active")}
    for wt in wts.values():
        (wt.path / "work.txt").write_text("uncommitted\n")
    # A registration whose directory was deleted.
    shutil.rmtree(wts["gone"].path)
    # A directory whose .git link points nowhere, with read-only content (as git objects are).
    shutil.rmtree(_gitdir_of(wts["broken"].path))
    readonly = wts["broken"].path / "ro"
    readonly.mkdir()
    (readonly / "object").write_text("x")
    os.chmod(readonly / "object", stat.S_IREAD)
    os.chmod(readonly, stat.S_IREAD | stat.S_IEXEC)
    # A stray directory that was never a worktree (crash mid-create).
    (manager.root / "stray").mkdir()

    restarted = WorktreeManager(repos.clone)
    removed = restarted.clean_leftovers(active=["active"])

    assert removed == ["broken", "gone", "plain", "stray"]
    assert sorted(p.name for p in restarted.root.iterdir()) == ["active"]
    listed = git(repos.clone, "worktree", "list", "--porcelain")
    assert listed.count("worktree ") == 2 and "prunable" not in listed
    assert (wts["active"].path / "work.txt").exists()
    for name in ("plain", "gone", "broken"):  # the attempts' branches survive
        assert git(repos.clone, "branch", "--list", f"coordinator/{name}") != ""
    again = restarted.create("broken", "origin/main")
    assert again.reused and (again.path / "README.md").exists()
    assert restarted.clean_leftovers(active=["active", "broken"]) == []


def test_clean_leftovers_without_root(manager: WorktreeManager) -> None:
    assert manager.clean_leftovers() == []


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
                assert manager.commit_changes(wt, f"{task_id} attempt {attempt}") is not None
                assert manager.commits_since_base(wt) == attempt + 1
                manager.remove(wt)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=slot, args=(f"task-{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    for i in range(4):
        assert git(repos.clone, "rev-list", "--count", f"origin/main..coordinator/task-{i}") == str(rounds)
    assert git(repos.clone, "worktree", "list", "--porcelain").count("worktree ") == 1
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
    assert manager.fetch_base(branch="origin/main")

    missing_remote = manager.fetch_base(remote="upstream")
    assert not missing_remote and "no remote 'upstream'" in missing_remote.reason

    git(repos.clone, "remote", "set-url", "origin", str(tmp_path / "unreachable.git"))
    offline = manager.fetch_base()
    assert not offline and "failed" in offline.reason
    assert manager.resolve_base(None) == "origin/main"  # local refs still work


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(WorktreeError, match="not a git work tree"):
        WorktreeManager(tmp_path)
