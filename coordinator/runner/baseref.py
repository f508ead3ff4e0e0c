"""What task branches start from, resolved in the user's clone (``--repo``): the remote's default branch, or an
explicit ``base``; and fetching it now and then so tasks start from recent code."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from coordinator.errors import WorktreeError
from coordinator.gitcmd import last_lines
from coordinator.runner.gitrepo import RepoGit

_FETCH_TIMEOUT_SECONDS = 120.0
_REMOTE_INFO_SECONDS = 300.0


@dataclass(frozen=True)
class FetchResult:
    """Outcome of ``fetch_base``; falsy when nothing was fetched, with the reason."""

    ok: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok


class BaseRef:
    """Resolves and fetches the base of task branches in the user's clone (with the runner's own credentials)."""

    def __init__(self, git: RepoGit) -> None:
        self._git = git
        self._fetch_lock = threading.Lock()
        # Remote names and default branches rarely change while a runner runs; asking git for them before
        # every task would cost two processes each time. Cached for a few minutes.
        self._remote_info: dict[str, tuple[float, str]] = {}

    def resolve(self, base: str | None = None, *, remote: str = "origin") -> str:
        """The ref (or sha) to branch a new task from.

        An explicit ``base`` (branch, ``origin/x``, tag or sha) must name a commit. Without one: the remote's
        default branch (``origin/HEAD``, returned as e.g. ``origin/main``), else the current branch's upstream,
        else the current branch (or HEAD's sha when detached). Nothing is fetched here: see :meth:`fetch`.
        """
        git = self._git
        if base is not None:
            base = base.strip()
            if not base or base.startswith("-"):
                raise WorktreeError(f"invalid base {base!r}", hint="name a branch, remote branch or commit sha")
            if git.commit_of(base) is None:
                raise WorktreeError(
                    f"base {base!r} is not a commit in {git.cwd}",
                    hint=f"check the name, or fetch it first (e.g. git fetch {remote})",
                )
            return base
        # Asked one after the other (each is a git process): the first that names a commit wins.
        candidates: tuple[Callable[[], str], ...] = (
            lambda: self._default_branch(remote),
            lambda: git.out(["rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}"]),
            lambda: git.out(["symbolic-ref", "--quiet", "--short", "HEAD"]),
        )
        for candidate in candidates:
            name = candidate()
            if name and git.commit_of(name) is not None:
                return name
        sha = git.commit_of("HEAD")
        if sha is None:
            raise WorktreeError(
                f"{git.cwd} has no commits to base tasks on", hint="commit something or pass an explicit base"
            )
        return sha

    def fetch(
        self, remote: str = "origin", branch: str | None = None, *, timeout: float = _FETCH_TIMEOUT_SECONDS
    ) -> FetchResult:
        """Fetch ``branch`` (default: the remote's default branch) from ``remote`` into its remote-tracking ref.

        Fails soft: offline, no such remote, auth failure or timeout all return a falsy result with the reason,
        and the runner carries on with the refs it has.
        """
        if remote.startswith("-") or remote not in self._cached("remotes", ["remote"]).split():
            return FetchResult(False, f"no remote {remote!r} in {self._git.cwd}; using local refs")
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
                done = self._git.run(args, what=what, check=False, timeout=timeout)
        except WorktreeError as exc:
            return FetchResult(False, str(exc))
        if not done.ok:
            return FetchResult(False, f"{what} failed: {last_lines(done.stderr) or f'exit code {done.returncode}'}")
        return FetchResult(True, f"fetched {remote}/{branch}" if branch else f"fetched {remote}")

    def _cached(self, key: str, args: list[str]) -> str:
        """Stdout of a git look-up about remotes, reused for a few minutes ("" when it failed)."""
        now = time.monotonic()
        hit = self._remote_info.get(key)
        if hit is not None and now - hit[0] < _REMOTE_INFO_SECONDS:
            return hit[1]
        value = self._git.out(args)
        self._remote_info[key] = (now, value)
        return value

    def _default_branch(self, remote: str) -> str:
        """``origin/main`` for ``origin`` (what ``refs/remotes/origin/HEAD`` points at), or "" when unknown."""
        return self._cached(f"default:{remote}", ["symbolic-ref", "--quiet", "--short", f"refs/remotes/{remote}/HEAD"])
