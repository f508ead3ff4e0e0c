"""Task worktrees: one per running task, on branch ``coordinator/<task>``, in the runner's work clone.

Layout, under the clone's folder ``root`` (default ``<data dir>/wt/<clone name>-<hash>``, never inside ``.git``,
where Claude Code refuses every edit):

- ``root/repo.git`` — the work clone (:mod:`coordinator.runner.workclone`), shared by the runners of one clone;
- ``root/<runner>/<task>`` — the worktree of a task one runner is working on.

A task's branch outlives its worktrees: a later attempt (by any runner of the clone) continues from the commits
earlier attempts left, including the work-in-progress commit of a failed attempt, and a runner that takes over a
task whose runner died first commits what the dead attempt left uncommitted, then removes its worktree. Branches
are copied to the user's clone after each attempt, so ``git -C <clone> log coordinator/<task>`` shows them.

Every commit made here carries an explicit identity and no signing, so a machine without any git configuration
works. Commands that change worktree metadata are serialised by a lock per manager; several runner processes on
one clone rely on git's own lock files (retried briefly).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from coordinator.errors import SecretsInChanges, WorktreeError
from coordinator.gitcmd import GitIdentity
from coordinator.ids import check_name, task_branch
from coordinator.runner.baseref import BaseRef, FetchResult
from coordinator.runner.fsutil import remove_tree
from coordinator.runner.gitrepo import RepoGit
from coordinator.runner.trailers import add_trailer
from coordinator.runner.workclone import SAFE_OPTIONS, WorkClone, registered_worktrees

log = logging.getLogger(__name__)

#: Where runners before this version kept worktrees: inside the clone's git directory.
OLD_ROOT_DIRNAME = "coordinator-worktrees"

#: Reads the patches and the messages of an attempt's commits and names what in them is a secret ("file line 3
#: holds the value of X"), never the value; empty when they are clean.
Scanner = Callable[[str, str], list[str]]


@dataclass(frozen=True)
class Worktree:
    """A task's worktree as created for one attempt."""

    task_id: str
    path: Path
    branch: str
    #: The commit the task is based on (the resolved ``base``); ``base_commit..HEAD`` is the task's own work.
    base_commit: str
    #: HEAD when this attempt's worktree was created: ``base_commit`` for a new branch, or the tip earlier
    #: attempts left on a reused branch.
    start_commit: str
    #: True when the branch already existed (an earlier attempt) and was checked out as it was.
    reused: bool = False


class WorktreeManager:
    """Creates, commits in and removes one runner's task worktrees; safe to share between its slot threads."""

    def __init__(
        self, repo: Path, *, root: Path, runner: str, author: GitIdentity | None = None, scan: Scanner | None = None
    ) -> None:
        self.author = author if author is not None else GitIdentity()
        self.runner = check_name("runner name", runner)
        self.scan = scan
        self._lock = threading.Lock()
        probe = RepoGit(Path(repo), env=self.author.env())
        top = probe.run(
            ["rev-parse", "--show-toplevel"], what=f"{repo} is not a git work tree", hint="pass --repo a clone"
        )
        self.repo = Path(top.stdout.strip()).resolve()
        self._user = RepoGit(self.repo, env=self.author.env())
        # The common dir, not .git: if --repo is itself a linked worktree, .git there is a file.
        self.git_dir = (self.repo / self._user.run(["rev-parse", "--git-common-dir"]).stdout.strip()).resolve()
        self.base = BaseRef(self._user)
        self.root = root.resolve()
        self.dir = self.root / self.runner
        self.clone = WorkClone(
            self.root / "repo.git", source=self.repo, source_git_dir=self.git_dir, author=self.author
        )
        self.clone.ensure()

    # --- naming and bases ---

    def branch_for(self, task_id: str) -> str:
        """The branch a task's attempts commit to."""
        return task_branch(_checked(task_id))

    def path_for(self, task_id: str) -> Path:
        """Where this runner's worktree of a task lives."""
        return self.dir / _checked(task_id)

    def resolve_base(self, base: str | None = None) -> str:
        """What new task branches start from (see :meth:`BaseRef.resolve`)."""
        return self.base.resolve(base)

    def fetch_base(self) -> FetchResult:
        """Fetch the base branch into the user's clone, failing soft (see :meth:`BaseRef.fetch`)."""
        return self.base.fetch()

    # --- lifecycle ---

    def create(
        self, task_id: str, base: str, *, takeover: str | None = None, catch_up_to: str | None = None
    ) -> Worktree:
        """Create this runner's worktree of ``task_id`` on its branch.

        The branch continues where earlier attempts left it (in the work clone, or in the user's clone for
        branches of older versions); a new one starts at ``base`` without upstream tracking. If another worktree
        (a runner that died, or this runner's own crash) still holds the branch, what it left uncommitted is
        committed first (``takeover`` says whose work it was) and it is removed. ``catch_up_to``: a commit the
        branch must continue from (its pull request's branch, moved on by others): the branch fast-forwards to it
        when it is behind (a branch that went its own way is left as it is: its push then says so).
        """
        path, branch = self.path_for(task_id), self.branch_for(task_id)
        with self._lock:
            base_commit = self._user.commit_of(base)
            if base_commit is None:
                raise WorktreeError(
                    f"cannot create worktree for task {task_id}: base {base!r} is not a commit in {self.repo}",
                    hint="check the base name, or fetch it first",
                )
            self.clone.reset()
            tip = self.clone.branch_tip(branch)
            if tip is not None:  # only an existing branch can still be held by a worktree (a dead runner's)
                for held in self.clone.worktrees():
                    if held.branch == branch or held.path == path:
                        self._salvage(held.path, branch, takeover or f"work in progress left at {held.path}")
                        self._drop(held.path)
                tip = self.clone.branch_tip(branch)  # what was saved moved it
            if os.path.lexists(path):
                remove_tree(path)  # a stray directory (a partial checkout); never what a link points to
                self.clone.git.run(["worktree", "prune"], check=False)
            start = tip or self._older_branch(branch)
            if catch_up_to is not None and (start is None or self._behind(start, catch_up_to)):
                if tip is not None:
                    self.clone.git.run(["update-ref", f"refs/heads/{branch}", catch_up_to, tip], what="update-ref")
                    tip = catch_up_to
                start = catch_up_to
            try:
                self.dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise WorktreeError(f"cannot create the folder {self.dir}: {exc}", hint="check the disk") from None
            self._add(path, branch, in_clone=tip is not None, start=start or base_commit)
        return Worktree(task_id, path, branch, base_commit, start or base_commit, reused=start is not None)

    def _behind(self, tip: str, other: str) -> bool:
        """Whether ``tip`` is an ancestor of ``other`` (and not ``other`` itself): a fast-forward to it is safe."""
        return tip != other and self.clone.git.run(["merge-base", "--is-ancestor", tip, other], check=False).ok

    def _older_branch(self, branch: str) -> str | None:
        """The tip of ``branch`` in the user's clone: where older versions kept task branches, and where runners
        of this clone with another ``worktree_root`` copy theirs."""
        return self._user.commit_of(f"refs/heads/{branch}")

    def _add(self, path: Path, branch: str, *, in_clone: bool, start: str) -> None:
        if in_clone:
            args = ["worktree", "add", "--quiet", str(path), branch]
        else:
            args = ["worktree", "add", "--quiet", "--no-track", "-b", branch, str(path), start]
        done = self.clone.git.run(args, check=False)
        if not done.ok and ("already registered" in done.stderr or "missing but" in done.stderr):
            self.clone.git.run(["worktree", "prune"], check=False)
            done = self.clone.git.run(args, check=False)
        if not done.ok:
            if os.path.lexists(path):
                remove_tree(path)
            raise WorktreeError(
                f"cannot create the worktree {path}",
                stderr=done.stderr,
                hint="check disk space and permissions of the worktree folder (worktree_root)",
            )

    def record_work(self, wt: Worktree, message: str, *, trailer: str | None = None) -> str | None:
        """Commit what the agent left uncommitted; returns the commit that holds this attempt's work (the new
        commit, or the agent's own last one), or None when the attempt changed nothing. ``trailer`` (e.g.
        ``Co-authored-by: …``) is added to every commit of the attempt that lacks it.

        ``git add -A`` takes new, modified and deleted files; ignored files stay out. Hooks never run. When a
        scanner is set and the attempt's changes hold a secret, nothing of the attempt stays on the branch:
        raises ``SecretsInChanges`` naming the files.
        """
        with self._lock:
            self.clone.reset()
            git = self._in(wt.path, self.clone.admin_dir(wt.path))
            # One `git status` tells the branch, the commit and whether anything is left to commit.
            status = git.run(["status", "--porcelain=v2", "--branch"], what=f"git status failed in {wt.path}").stdout
            lines = status.splitlines()
            on = next((line[len("# branch.head ") :] for line in lines if line.startswith("# branch.head ")), "")
            if on != wt.branch:
                raise WorktreeError(
                    f"worktree {wt.path} is no longer on branch {wt.branch} (the agent switched branches or left a "
                    "rebase/bisect in progress); not committing there",
                    hint=f"inspect it with git -C {wt.path} status",
                )
            head = next((line.split()[2] for line in lines if line.startswith("# branch.oid ")), "")
            if any(line and not line.startswith("#") for line in lines):
                head = self._commit_all(git, message, dirty=True) or head
            if not head or head in ("(initial)", wt.start_commit):
                return None
            self._refuse_secrets(git, wt.branch, since=wt.start_commit)
            if trailer:
                head = add_trailer(git, branch=wt.branch, since=wt.start_commit, trailer=trailer)
            return head

    def git_in(self, wt: Worktree) -> RepoGit:
        """Git in ``wt`` for the runner's own commands there (merges): hooks off, its git directory named."""
        with self._lock:
            self.clone.reset()
            return self._in(wt.path, self.clone.admin_dir(wt.path))

    def publish(self, wt: Worktree) -> str | None:
        """Copy the task branch to the user's clone; returns why it could not (None when it did)."""
        with self._lock:
            self.clone.reset()
            return self.clone.publish(wt.branch)

    def remove(self, wt: Worktree) -> None:
        """Remove the worktree (discarding anything uncommitted); the branch stays for the next attempt."""
        with self._lock:
            self._drop(wt.path)

    def clean_leftovers(self) -> list[str]:
        """At start: commit what worktrees of this runner's crashed run left, then remove them. Only what the
        work clone lists as its worktrees under this runner's folder is touched (never a link's target)."""
        removed: list[str] = []
        with self._lock:
            self.clone.reset()
            for held in self.clone.worktrees():
                if held.path.parent != self.dir:
                    continue
                if held.branch:
                    self._salvage(held.path, held.branch, f"work in progress left by a crashed run of {self.runner}")
                self._drop(held.path)
                removed.append(held.path.name)
            self.clone.git.run(["worktree", "prune"], check=False)
        return sorted(removed)

    def prune_idle(self, keep: Collection[str], older_than: float) -> list[str]:
        """Now and then: remove this runner's worktrees of tasks it is not running (``keep``) that nothing has
        touched since ``older_than`` (a timestamp), committing what they left first (a removal that failed, a
        crash the start-up clean-up did not see). Returns the task ids whose worktrees went."""
        removed: list[str] = []
        with self._lock:
            for held in self.clone.worktrees():
                if held.path.parent != self.dir or held.path.name in keep:
                    continue
                try:
                    if held.path.exists() and held.path.stat().st_mtime >= older_than:
                        continue
                except OSError:
                    continue
                if held.branch and held.path.exists():
                    self._salvage(held.path, held.branch, f"work in progress left in an idle worktree of {self.runner}")
                self._drop(held.path)
                removed.append(held.path.name)
            self.clone.git.run(["worktree", "prune"], check=False)
        return sorted(removed)

    def migrate_old_location(self) -> list[str]:
        """Once, for clones used by older versions: commit and remove this runner's worktrees that still sit in
        ``<clone>/.git/coordinator-worktrees/<runner>`` (their branches stay in the clone and are continued)."""
        old = self.git_dir / OLD_ROOT_DIRNAME / self.runner
        if not old.is_dir():
            return []
        moved: list[str] = []
        with self._lock:
            for held in registered_worktrees(self._user, self.repo):
                if held.path.parent.resolve() != old.resolve():
                    continue
                if held.branch:
                    self._salvage(
                        held.path,
                        held.branch,
                        "work in progress moved from .git/coordinator-worktrees",
                        of_the_clone=True,
                    )
                self._user.run(["worktree", "remove", "--force", "--force", str(held.path)], check=False)
                if os.path.lexists(held.path):
                    remove_tree(held.path)
                moved.append(held.path.name)
            self._user.run(["worktree", "prune"], check=False)
        for folder in (old, old.parent):
            try:
                folder.rmdir()  # only when empty: anything else there is not ours to delete
            except OSError:
                break
        return sorted(moved)

    # --- helpers ---

    def _in(self, path: Path, admin: Path | None = None) -> RepoGit:
        """Git in a worktree, with hooks and fsmonitor off (the agent could have planted either) and, when known,
        the git directory named explicitly instead of trusting the worktree's ``.git`` file."""
        where = [f"--git-dir={admin}", f"--work-tree={path}"] if admin is not None else []
        return RepoGit(path, env=self.author.env(), options=[*SAFE_OPTIONS, *where])

    def _commit_all(self, git: RepoGit, message: str, *, dirty: bool = False) -> str | None:
        """Commit every change in the worktree; the new HEAD, or None when there was nothing to commit.
        ``dirty``: the caller's own ``git status`` showed changes already."""
        if not dirty and not git.run(["status", "--porcelain"], what=f"git status failed in {git.cwd}").stdout.strip():
            return None
        git.run(["add", "-A"], what=f"git add failed in {git.cwd}")
        staged = git.run(["diff", "--cached", "--quiet"], check=False)
        if staged.returncode == 0:
            return None
        if staged.returncode != 1:
            raise WorktreeError(f"cannot tell whether {git.cwd} has changes", stderr=staged.stderr)
        git.run(
            [
                *self.author.config_args(),
                "-c",
                "commit.gpgsign=false",
                "commit",
                "--quiet",
                "--no-verify",
                "--cleanup=whitespace",  # the default cleanup would drop markdown "# headings" as comments
                "--file=-",  # stdin, not argv: a long message must not hit the Windows command-line limit
            ],
            input_text=message.strip() or "coordinator: work in progress",
            what=f"cannot commit the changes in {git.cwd}",
            hint="check disk space; the changes are still in the worktree",
        )
        return git.out(["rev-parse", "HEAD"]) or None

    def _refuse_secrets(self, git: RepoGit, branch: str, *, since: str) -> None:
        """When the commits since ``since`` hold a secret, move the branch back to ``since`` and raise.

        Every commit is read, not only the net change: a secret the agent committed and then deleted would still
        be in the branch's history, which is what gets pushed.
        """
        if self.scan is None:
            return
        span = f"{since}..HEAD"
        patches = git.run(
            ["log", "-p", "--reverse", "--text", "--no-color", "--no-ext-diff", "--format=", span],
            what="git log failed",
        )
        messages = git.run(["log", "--format=%B", span], what="git log failed")
        findings = self.scan(patches.stdout, messages.stdout)
        if findings:
            git.run(["reset", "--quiet", "--hard", since], check=False)
            raise SecretsInChanges(findings)

    def _salvage(self, path: Path, branch: str, note: str, *, of_the_clone: bool = False) -> str | None:
        """Commit what a worktree that is being given up left uncommitted, on its branch (best effort).
        ``of_the_clone``: a worktree of the user's clone (older versions), not of the work clone."""
        if not path.is_dir():
            return None
        git = self._in(path, None if of_the_clone else self.clone.admin_dir(path))
        if git.out(["symbolic-ref", "--quiet", "HEAD"]) != f"refs/heads/{branch}":
            log.warning("not saving %s: it is not on %s any more", path, branch)
            return None
        before = git.out(["rev-parse", "HEAD"])
        try:
            commit = self._commit_all(git, f"{note}\n\nCoordinator-Work-In-Progress: true")
            if commit is not None and before:
                self._refuse_secrets(git, branch, since=before)
            return commit
        except SecretsInChanges as exc:
            log.warning("not saving the work left in %s: %s", path, exc)
        except WorktreeError as exc:
            log.warning("could not save the work left in %s: %s", path, exc)
        return None

    def _drop(self, path: Path) -> None:
        done = self.clone.git.run(["worktree", "remove", "--force", "--force", str(path)], check=False)
        if not done.ok or os.path.lexists(path):
            if os.path.lexists(path):
                remove_tree(path)
            self.clone.git.run(["worktree", "prune"], check=False)


def _checked(task_id: str) -> str:
    try:
        return check_name("task id", task_id)
    except ValueError as exc:
        raise WorktreeError(f"{exc} for a worktree") from None
