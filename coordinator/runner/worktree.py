"""Git worktrees for task attempts: one worktree on one branch ``coordinator/<task>`` per task, in a local clone.

The runner works in the user's clone (``--repo PATH``) but never in its checkout: every attempt gets its own
worktree under ``<git-common-dir>/coordinator-worktrees/<task>`` (inside ``.git``, so it never shows up as
untracked files in the user's checkout, and ``git clean`` there cannot touch it).

Git runs as argv lists (never a shell). Every commit made here carries an explicit identity and disables
signing, so a fresh machine without any git configuration works. Commands that change the shared worktree
metadata (``.git/worktrees``, new branch refs) are serialised by a lock per manager: git takes lock files
there and fails rather than waits when two ``git worktree`` commands collide. Commits inside different
worktrees only touch their own index and branch, so they run in parallel.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from coordinator.errors import WorktreeError
from coordinator.gitcmd import GitIdentity, GitOutput, last_lines, run_git
from coordinator.ids import check_name, task_branch

log = logging.getLogger(__name__)

#: Default worktree root, a directory inside the repository's (common) git dir.
ROOT_DIRNAME = "coordinator-worktrees"

_GIT_TIMEOUT_SECONDS = 600.0  # a checkout of a big repository can take minutes
_FETCH_TIMEOUT_SECONDS = 120.0

# Lock-file contention (another git process, e.g. the user's own) is worth a short retry; other errors are not.
_LOCK_CONTENTION = re.compile(r"\.lock\b|could not lock|cannot lock|unable to lock", re.IGNORECASE)
_LOCK_RETRIES = 4
_REMOTE_INFO_SECONDS = 300.0


@dataclass(frozen=True)
class Worktree:
    """A task's worktree as created for one attempt."""

    task_id: str
    path: Path
    branch: str
    #: The commit the task is based on (the resolved ``base``); ``base_commit..HEAD`` is the task's own work.
    base_commit: str
    #: HEAD when this attempt's worktree was created: ``base_commit`` for a new branch, or the tip an earlier
    #: attempt left on a reused branch.
    start_commit: str
    #: True when the branch already existed (an earlier attempt) and was checked out as it was.
    reused: bool = False


@dataclass(frozen=True)
class FetchResult:
    """Outcome of ``fetch_base``; falsy when nothing was fetched, with the reason."""

    ok: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok


class WorktreeManager:
    """Creates, commits in and removes the per-task worktrees of one local clone.

    Safe to share between the runner's slot threads: metadata-changing git calls are serialised here. Two
    runner processes on the same clone are not coordinated beyond git's own lock files (retried briefly).
    """

    def __init__(self, repo: Path, root: Path | None = None, author: GitIdentity | None = None) -> None:
        self.author = author if author is not None else GitIdentity()
        self._lock = threading.Lock()
        self._fetch_lock = threading.Lock()  # separate: a slow fetch must not hold up create/remove
        repo = Path(repo)
        if not repo.is_dir():
            raise WorktreeError(f"repository {repo} does not exist", hint="pass --repo a local clone")
        top = self._git(
            ["rev-parse", "--show-toplevel"],
            cwd=repo,
            what=f"{repo} is not a git work tree",
            hint="pass --repo a local (non-bare) clone",
        )
        self.repo = Path(top.stdout.strip()).resolve()
        common = self._git(["rev-parse", "--git-common-dir"], what="cannot find the git directory").stdout.strip()
        # The common dir, not .git: if --repo is itself a linked worktree, .git there is a file.
        self.git_dir = (self.repo / common).resolve()
        self.root = (Path(root) if root is not None else self.git_dir / ROOT_DIRNAME).resolve()
        # Remote names and default branches rarely change while a runner runs; asking git for them before
        # every task would cost two processes each time. Cached for a few minutes.
        self._remote_info: dict[str, tuple[float, str]] = {}

    # ----------------------------------------------------------------------------------------- naming

    def branch_for(self, task_id: str) -> str:
        """The branch a task's attempts commit to."""
        _check_task_id(task_id)
        return task_branch(task_id)

    def path_for(self, task_id: str) -> Path:
        """Where a task's worktree lives."""
        _check_task_id(task_id)
        return self.root / task_id

    # ------------------------------------------------------------------------------------------- base

    def resolve_base(self, base: str | None = None, *, remote: str = "origin") -> str:
        """The ref (or sha) to branch a new task from.

        An explicit ``base`` (branch, ``origin/x``, tag or sha) must name a commit. Without one: the remote's
        default branch (``origin/HEAD``, returned as e.g. ``origin/main``), else the current branch's upstream,
        else the current branch (or HEAD's sha when detached). Nothing is fetched here: see ``fetch_base``.
        """
        if base is not None:
            base = base.strip()
            if not base or base.startswith("-"):
                raise WorktreeError(f"invalid base {base!r}", hint="name a branch, remote branch or commit sha")
            if self._commit_of(base) is None:
                raise WorktreeError(
                    f"base {base!r} is not a commit in {self.repo}",
                    hint=f"check the name, or fetch it first (e.g. git fetch {remote})",
                )
            return base
        default = self._default_branch(remote)
        if default and self._commit_of(default) is not None:
            return default
        upstream = self._git_out(["rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}"])
        if upstream and self._commit_of(upstream) is not None:
            return upstream
        branch = self._git_out(["symbolic-ref", "--quiet", "--short", "HEAD"])
        if branch and self._commit_of(branch) is not None:
            return branch
        sha = self._commit_of("HEAD")
        if sha is None:
            raise WorktreeError(
                f"{self.repo} has no commits to base tasks on", hint="commit something or pass an explicit base"
            )
        return sha

    def fetch_base(
        self, remote: str = "origin", branch: str | None = None, *, timeout: float = _FETCH_TIMEOUT_SECONDS
    ) -> FetchResult:
        """Fetch ``branch`` (default: the remote's default branch) from ``remote`` into its remote-tracking ref.

        Fails soft: offline, no such remote, auth failure or timeout all return a falsy result with the reason,
        and the runner carries on with the refs it has.
        """
        try:
            remotes = self._remotes()
        except WorktreeError as exc:
            return FetchResult(False, str(exc))
        if remote.startswith("-") or remote not in remotes:
            return FetchResult(False, f"no remote {remote!r} in {self.repo}; using local refs")
        if branch is not None:
            branch = branch.strip().removeprefix("refs/heads/").removeprefix(f"{remote}/")
            if not branch or branch.startswith("-"):
                return FetchResult(False, f"invalid branch name {branch!r}")
        else:
            # The default branch as the last fetch/clone recorded it; unknown → fetch the whole remote.
            default = self._default_branch(remote)
            branch = default.removeprefix(f"{remote}/") if default else None
        args = ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", remote]
        if branch is not None:
            # Explicit refspec: works in single-branch clones too, and never touches other refs.
            args.append(f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}")
        what = f"git fetch {remote} {branch or ''}".rstrip()
        try:
            with self._fetch_lock:
                done = self._git(args, what=what, check=False, timeout=timeout)
        except WorktreeError as exc:
            return FetchResult(False, str(exc))
        if done.returncode != 0:
            return FetchResult(False, f"{what} failed: {last_lines(done.stderr) or f'exit code {done.returncode}'}")
        return FetchResult(True, f"fetched {remote}/{branch}" if branch else f"fetched {remote}")

    # ------------------------------------------------------------------------------------- lifecycle

    def create(self, task_id: str, base: str) -> Worktree:
        """Create the worktree ``<root>/<task_id>`` on branch ``coordinator/<task_id>``.

        A new branch starts at ``base`` (without upstream tracking, so a bare ``git push`` there can never
        target the base branch). If the branch already exists, an earlier attempt left it: it is checked out as
        it is, so this attempt continues from that attempt's commits. Deliberately not ``worktree add -B``
        (which would reset the branch to ``base`` and drop them) and not rebased onto a newer base (which can
        conflict); bringing the branch up to date with its base is left to whoever merges it.

        A worktree left at that path by a crashed run (registered or not, even with a broken ``.git`` link) is
        removed first, uncommitted changes included.
        """
        path = self.path_for(task_id)
        branch = self.branch_for(task_id)
        with self._lock:
            base_commit = self._commit_of(base) if base and not base.startswith("-") else None
            if base_commit is None:
                raise WorktreeError(
                    f"cannot create worktree for task {task_id}: base {base!r} is not a commit in {self.repo}",
                    hint="check the base name, or fetch it first",
                )
            # Only a path that exists can hold a crash leftover; a registration whose directory is gone makes
            # `worktree add` fail, and _add_locked prunes it then.
            if os.path.lexists(path) and self._remove_locked(path):
                log.warning("removed a stale worktree for task %s at %s (an earlier run crashed?)", task_id, path)
            self.root.mkdir(parents=True, exist_ok=True)
            reused, start = self._add_locked(task_id, path, branch, base_commit)
        return Worktree(task_id, path, branch, base_commit, start, reused=reused)

    def remove(self, wt: Worktree, *, keep_branch: bool = True) -> None:
        """Remove the worktree (discarding anything uncommitted) and prune its registration.

        The branch stays by default: it holds the attempt's commits, and the next attempt continues from it.
        """
        with self._lock:
            # We registered it: `worktree remove` alone cleans directory and registration in the common case.
            done = self._git(["worktree", "remove", "--force", "--force", str(wt.path)], what="", check=False)
            if done.returncode != 0 or os.path.lexists(wt.path):
                self._remove_locked(wt.path)
            if not keep_branch and self._commit_of(f"refs/heads/{wt.branch}") is not None:
                self._git(["branch", "-D", wt.branch], what=f"cannot delete branch {wt.branch}")

    def clean_leftovers(self, active: Iterable[str] = ()) -> list[str]:
        """Remove every worktree under the root that is not in ``active`` (left by crashed runs); prune.

        Covers registered worktrees, directories whose ``.git`` link is broken, stray directories, and
        registrations whose directory was deleted. Branches are kept. Returns the removed task ids, sorted.
        """
        keep = set(active)
        with self._lock:
            found: dict[str, Path] = {}
            for registered in self._registered_paths():
                relative = _relative_to(registered, self.root)
                if relative is not None and relative.parts:
                    found.setdefault(relative.parts[0], self.root / relative.parts[0])
            if self.root.is_dir():
                for entry in self.root.iterdir():
                    found.setdefault(entry.name, entry)
            removed = sorted(name for name in found if name not in keep)
            for name in removed:
                self._remove_locked(found[name], prune=False)
            self._git(["worktree", "prune"], what="git worktree prune failed")
        if removed:
            log.warning("removed leftover worktrees of earlier runs: %s", ", ".join(removed))
        return removed

    # ---------------------------------------------------------------------------------------- commits

    def commit_changes(self, wt: Worktree, message: str) -> str | None:
        """Commit whatever the agent left uncommitted; return the new HEAD sha, or None if there was nothing.

        ``git add -A`` takes new, modified and deleted files; ignored files stay out (.gitignore is respected).
        Hooks are skipped (``--no-verify``): a failing pre-commit hook must not lose the agent's work.
        """
        status = self._git(["status", "--porcelain"], cwd=wt.path, what=f"git status failed in {wt.path}")
        if not status.stdout.strip():
            return None  # clean: nothing to add (one process instead of two)
        self._git(["add", "-A"], cwd=wt.path, what=f"git add failed in {wt.path}")
        staged = self._git(["diff", "--cached", "--quiet"], cwd=wt.path, what="git diff failed", check=False)
        if staged.returncode == 0:
            return None
        if staged.returncode != 1:
            raise WorktreeError(f"cannot tell whether {wt.path} has changes", stderr=staged.stderr)
        # Committing elsewhere would strand the work off the task branch.
        if self._git_out(["symbolic-ref", "--quiet", "HEAD"], cwd=wt.path) != f"refs/heads/{wt.branch}":
            raise WorktreeError(
                f"worktree {wt.path} is no longer on branch {wt.branch} (the agent switched branches or left a "
                "rebase/bisect in progress); not committing there",
                hint=f"inspect it with git -C {wt.path} status",
            )
        text = message if message.strip() else f"coordinator: work on task {wt.task_id}"
        self._git(
            [
                *self.author.config_args(),
                "-c",
                "commit.gpgsign=false",
                "commit",
                "--quiet",
                "--no-verify",
                # whitespace only: the default cleanup would drop markdown "# headings" as comments
                "--cleanup=whitespace",
                "--file=-",  # stdin, not argv: a long message must not hit the Windows command-line limit
            ],
            cwd=wt.path,
            input_text=text,
            what=f"cannot commit the changes in {wt.path}",
            hint="check disk space; the changes are still in the worktree",
        )
        return self.head(wt)

    def record_work(self, wt: Worktree, message: str) -> str | None:
        """The commit holding this attempt's work: a new one for uncommitted changes, else the agent's own HEAD
        if it committed, else None (no work). One ``git status`` answers both questions in the common case."""
        status = self._git(
            ["status", "--porcelain=v2", "--branch"], cwd=wt.path, what=f"git status failed in {wt.path}"
        ).stdout
        changed = any(line and not line.startswith("#") for line in status.splitlines())
        if changed:
            return self.commit_changes(wt, message)
        head = next((line.split()[2] for line in status.splitlines() if line.startswith("# branch.oid ")), None)
        if head is None or head == "(initial)":
            head = self.head(wt)
        return head if head != wt.start_commit else None

    def head(self, wt: Worktree) -> str:
        """The sha the worktree's HEAD points at."""
        return self._git(["rev-parse", "HEAD"], cwd=wt.path, what=f"cannot read HEAD of {wt.path}").stdout.strip()

    def commits_since_base(self, wt: Worktree) -> int:
        """Commits on the task branch that its base does not have (all attempts' work)."""
        return self._count(wt, wt.base_commit)

    def commits_since_start(self, wt: Worktree) -> int:
        """Commits made since this attempt's worktree was created (this attempt's work only)."""
        return self._count(wt, wt.start_commit)

    # ---------------------------------------------------------------------------------------- helpers

    def _count(self, wt: Worktree, since: str) -> int:
        done = self._git(["rev-list", "--count", f"{since}..HEAD"], cwd=wt.path, what="git rev-list failed")
        return int(done.stdout.strip() or "0")

    def _add_locked(self, task_id: str, path: Path, branch: str, base_commit: str) -> tuple[bool, str]:
        """``git worktree add`` for the task; returns (the branch existed already, the commit checked out).

        Caller holds ``self._lock``."""
        for attempt in range(_LOCK_RETRIES + 1):
            # Decided per try: `worktree add -b` creates the branch before the checkout that may fail.
            existing = self._commit_of(f"refs/heads/{branch}")
            if existing is not None:
                args = ["worktree", "add", "--quiet", str(path), branch]
            else:
                args = ["worktree", "add", "--quiet", "--no-track", "-b", branch, str(path), base_commit]
            done = self._git(args, what="", check=False)
            if done.returncode == 0:
                return existing is not None, existing or base_commit
            self._remove_locked(path)  # undo a partial checkout (and prune a stale registration)
            stale = "already registered" in done.stderr or "missing but" in done.stderr
            if attempt == _LOCK_RETRIES or not (stale or _LOCK_CONTENTION.search(done.stderr)):
                break
            time.sleep(0.1 * 2**attempt)
        raise WorktreeError(
            f"cannot create worktree for task {task_id} at {path}",
            stderr=done.stderr,
            hint=(
                f"if {branch} is checked out in another worktree, remove that one (git worktree list); "
                "otherwise check disk space and permissions"
            ),
        )

    def _remove_locked(self, path: Path, *, prune: bool = True) -> bool:
        """Remove whatever is at ``path``: a registered worktree, a broken one, a plain directory, or just the
        registration of a deleted one. Caller holds ``self._lock``. Returns True if anything was there."""
        registered = any(_same_path(p, path) for p in self._registered_paths())
        present = os.path.lexists(path)
        if registered and present:
            # Fails for worktrees with submodules or a broken .git link: the directory removal below covers it.
            self._git(["worktree", "remove", "--force", "--force", str(path)], what="", check=False)
        if os.path.lexists(path):
            _remove_tree(path)
        if prune and registered:
            self._git(["worktree", "prune"], what="git worktree prune failed")
        return registered or present

    def _registered_paths(self) -> list[Path]:
        done = self._git(["worktree", "list", "--porcelain", "-z"], what="git worktree list failed")
        return [Path(field[len("worktree ") :]) for field in done.stdout.split("\0") if field.startswith("worktree ")]

    def _cached(self, key: str, args: Sequence[str]) -> str:
        """Stdout of a git look-up about remotes, reused for a few minutes ("" when it failed)."""
        now = time.monotonic()
        hit = self._remote_info.get(key)
        if hit is not None and now - hit[0] < _REMOTE_INFO_SECONDS:
            return hit[1]
        value = self._git_out(args)
        self._remote_info[key] = (now, value)
        return value

    def _remotes(self) -> list[str]:
        return self._cached("remotes", ["remote"]).split()

    def _default_branch(self, remote: str) -> str:
        """``origin/main`` for ``origin`` (what ``refs/remotes/origin/HEAD`` points at), or "" when unknown."""
        return self._cached(f"default:{remote}", ["symbolic-ref", "--quiet", "--short", f"refs/remotes/{remote}/HEAD"])

    def _commit_of(self, rev: str) -> str | None:
        """The sha ``rev`` names if it names a commit, else None."""
        return self._git_out(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"]) or None

    def _git_out(self, args: Sequence[str], *, cwd: Path | None = None) -> str:
        """Stripped stdout of a git command that may legitimately fail ("" then)."""
        done = self._git(args, cwd=cwd, what="", check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    def _git(
        self,
        args: Sequence[str],
        *,
        what: str,
        cwd: Path | None = None,
        hint: str = "",
        check: bool = True,
        timeout: float = _GIT_TIMEOUT_SECONDS,
        input_text: str | None = None,
    ) -> GitOutput:
        """Run git in ``cwd`` (default: the repo). With ``check``, a failure raises ``WorktreeError(what)``
        after retrying lock-file contention (another git process) a few times; without, it returns at once."""
        where = cwd if cwd is not None else self.repo
        for attempt in range(_LOCK_RETRIES + 1):
            done = run_git(
                args, cwd=where, env=self.author.env(), input_data=input_text, timeout=timeout, no_auto_gc=True
            )
            if done.timed_out:
                raise WorktreeError(
                    f"git timed out after {timeout:.0f}s in {where}: git {' '.join(args)[:300]}",
                    hint="check the network / disk, or whether another git process holds a lock",
                )
            if done.ok or not check:
                return done
            if attempt == _LOCK_RETRIES or not _LOCK_CONTENTION.search(done.stderr):
                break
            time.sleep(0.1 * 2**attempt)
        raise WorktreeError(what or f"git {' '.join(args)} failed", stderr=done.stderr, hint=hint)


# -------------------------------------------------------------------------------------------- module helpers


def _check_task_id(task_id: str) -> None:
    try:
        check_name("task id", task_id)
    except ValueError as exc:
        raise WorktreeError(f"{exc} for a worktree") from None


def _relative_to(path: Path, root: Path) -> Path | None:
    try:
        return path.resolve().relative_to(root.resolve())
    except ValueError:
        return None


def _same_path(a: Path, b: Path) -> bool:
    # resolve(): git may report a symlink-free or differently spelled path (macOS /private/var, C:/ vs C:\).
    return a.resolve() == b.resolve()


def _remove_tree(path: Path, attempts: int = 5) -> None:
    """Delete a file or directory tree, clearing read-only bits (git objects are read-only, which Windows
    refuses to delete) and retrying briefly (Windows also refuses while a just-stopped process holds files)."""
    top = str(path)

    def make_writable_and_retry(func: Callable[..., object], failed: str, error: object) -> None:
        exc = error[1] if isinstance(error, tuple) else error
        if isinstance(exc, FileNotFoundError):
            return
        parent = os.path.dirname(failed)
        if parent.startswith(top + os.sep):  # POSIX needs the directory writable to unlink in it
            os.chmod(parent, stat.S_IMODE(os.stat(parent).st_mode) | stat.S_IWRITE | stat.S_IEXEC | stat.S_IREAD)
        os.chmod(failed, stat.S_IWRITE | stat.S_IREAD | (stat.S_IEXEC if os.path.isdir(failed) else 0))
        func(failed)

    last: OSError | None = None
    for attempt in range(attempts):
        try:
            if os.path.islink(path):
                path.unlink()
            elif not path.is_dir():
                os.chmod(path, stat.S_IWRITE | stat.S_IREAD)
                path.unlink()
            elif sys.version_info >= (3, 12):
                shutil.rmtree(path, onexc=make_writable_and_retry)
            else:
                shutil.rmtree(path, onerror=make_writable_and_retry)
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            last = exc
            time.sleep(0.2 * (attempt + 1))
    raise WorktreeError(
        f"cannot delete {path}: {last}",
        hint="stop any process still using files there (editor, agent, antivirus) and delete it by hand",
    )
