"""The work clone: where task branches and their worktrees live, apart from the user's clone.

Agents work in worktrees of this bare repository, never of the user's clone, so nothing an agent's git sees
carries the user's credentials: its only remote is the user's clone on this disk (to fetch from), pushing through
it is disabled, it has no credential settings, and the runner rewrites its config before each of its own git
commands there (an agent may have edited it: hooks, fsmonitor or filter commands would otherwise run with the
runner's own environment). It borrows the user's clone's objects (``objects/info/alternates``) instead of
copying them, so creating it is instant whatever the repository's size.

The runner's own git calls in the user's clone (fetching the base) use the runner's credentials, as before.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from coordinator.errors import WorktreeError
from coordinator.gitcmd import GitIdentity, git_out, last_lines, run_git
from coordinator.runner.gitrepo import RepoGit

#: The push URL of the work clone's ``origin``: any push through it fails ("does not appear to be a git
#: repository"), so an agent cannot push with the remote it was given.
NO_PUSH_URL = "coordinator-agents-cannot-push"
#: ``-c`` options of every runner git command in the work clone and its worktrees: no hooks, no fsmonitor.
SAFE_OPTIONS = ("-c", f"core.hooksPath={os.devnull}", "-c", "core.fsmonitor=false")
_PLATFORM_KEYS = ("core.filemode", "core.symlinks", "core.ignorecase", "core.precomposeunicode")


@dataclass(frozen=True)
class Registered:
    """A worktree the work clone knows: its path, and the branch and commit checked out there."""

    path: Path
    branch: str | None
    head: str | None


class WorkClone:
    """The bare repository ``path`` that borrows the objects of the user's clone ``source``."""

    def __init__(self, path: Path, *, source: Path, source_git_dir: Path, author: GitIdentity) -> None:
        self.path = path
        self.source = source
        self._alternates = (source_git_dir / "objects").resolve()
        self.git = RepoGit(path, env=author.env(), options=SAFE_OPTIONS)
        self._config_text: str | None = None

    def ensure(self) -> None:
        """Create the work clone if it does not exist (atomically: runners of one clone start together), then
        reset its config and object borrowing to what the runner wrote."""
        if not (self.path / "HEAD").exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".repo.", dir=self.path.parent))
            done = run_git(["init", "--bare", "--quiet", str(staging)], cwd=self.path.parent)
            if not done.ok:
                shutil.rmtree(staging, ignore_errors=True)
                raise WorktreeError(f"cannot create the work clone {self.path}", stderr=done.stderr)
            try:
                os.rename(staging, self.path)
            except OSError:
                shutil.rmtree(staging, ignore_errors=True)  # another runner won the race: use its clone
                if not (self.path / "HEAD").exists():
                    raise
        self.reset()

    def reset(self) -> None:
        """Rewrite the config and alternates files from what the runner knows, whatever an agent left there
        (read first: rewriting a file that is as it should be would cost a file creation per git command)."""
        _ensure_content(self.path / "config", self._config())
        _ensure_content(self.path / "objects" / "info" / "alternates", f"{self._alternates.as_posix()}\n")

    def _config(self) -> str:
        if self._config_text is None:
            settings = _platform_settings(self.path.parent)
            lines = ["[core]", "\trepositoryformatversion = 0", "\tbare = true", "\tlogallrefupdates = true"]
            lines += [f"\t{key.split('.', 1)[1]} = {value}" for key, value in settings.items()]
            lines += [f"\thooksPath = {_quote(os.devnull)}", "\tfsmonitor = false"]
            lines += ['[remote "origin"]', f"\turl = {_quote(self.source.as_posix())}"]
            lines += [f"\tpushurl = {NO_PUSH_URL}", "\tfetch = +refs/heads/*:refs/remotes/origin/*"]
            self._config_text = "\n".join(lines) + "\n"
        return self._config_text

    def branch_tip(self, branch: str) -> str | None:
        """The commit ``branch`` points at in the work clone, or None."""
        return self.git.commit_of(f"refs/heads/{branch}")

    def worktrees(self) -> list[Registered]:
        """Every worktree registered in the work clone (not the bare repository itself)."""
        return registered_worktrees(self.git, self.path)

    def admin_dir(self, path: Path) -> Path | None:
        """The git directory git keeps for the worktree at ``path`` (``repo.git/worktrees/<name>``), found from
        git's own records rather than the worktree's ``.git`` file, which the agent could have redirected."""
        target = (path / ".git").resolve()
        for admin in sorted((self.path / "worktrees").glob("*")):
            try:
                recorded = Path((admin / "gitdir").read_text(encoding="utf-8").strip())
            except OSError:
                continue
            if recorded.resolve() == target:
                return admin
        return None

    def publish(self, branch: str) -> str | None:
        """Copy ``branch`` to the user's clone, so ``git log coordinator/<task>`` works there; returns why not,
        or None. Best effort: the user may have the branch checked out, or have moved it on purpose."""
        done = run_git(
            [
                "fetch",
                "--quiet",
                "--no-tags",
                "--no-write-fetch-head",
                str(self.path),
                f"+refs/heads/{branch}:refs/heads/{branch}",
            ],
            cwd=self.source,
            no_auto_gc=True,
        )
        return None if done.ok else last_lines(done.stderr) or f"git fetch exited {done.returncode}"


def _platform_settings(scratch_parent: Path) -> dict[str, str]:
    """The core settings ``git init`` picks for this file system (file modes, symlinks, case): detected in a
    fresh repository each time, never read back from a config an agent could have edited."""
    scratch = Path(tempfile.mkdtemp(prefix=".probe.", dir=scratch_parent))
    try:
        run_git(["init", "--bare", "--quiet", str(scratch)], cwd=scratch_parent)
        settings = {}
        for key in _PLATFORM_KEYS:
            value = git_out(["config", "--file", str(scratch / "config"), "--get", key], cwd=scratch_parent)
            if value:
                settings[key] = value
        return settings
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ensure_content(path: Path, text: str) -> None:
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except (OSError, UnicodeDecodeError):
        pass  # missing or garbled: written below
    _write_atomically(path, text)


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
        raise


def registered_worktrees(git: RepoGit, repository: Path) -> list[Registered]:
    """The worktrees ``git worktree list`` shows for a repository, except its main one at ``repository``."""
    done = git.run(["worktree", "list", "--porcelain", "-z"], check=False)
    found: list[Registered] = []
    path: Path | None = None
    branch = head = None
    for field in [*done.stdout.split("\0"), ""]:
        if field.startswith("worktree "):
            path, branch, head = Path(field[len("worktree ") :]), None, None
        elif field.startswith("HEAD "):
            head = field[len("HEAD ") :]
        elif field.startswith("branch "):
            branch = field[len("branch ") :].removeprefix("refs/heads/")
        elif field == "" and path is not None:
            if path.resolve() != repository.resolve():
                found.append(Registered(path, branch, head))
            path = None
    return found
