"""Git in one repository, for the runner's worktree code: failures raise ``WorktreeError`` saying what and what
to do, lock-file contention with another git process is retried briefly, and no command starts a background gc."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from coordinator.errors import WorktreeError
from coordinator.gitcmd import GitOutput, run_git

_GIT_TIMEOUT_SECONDS = 600.0  # a checkout of a big repository can take minutes
# Lock-file contention (another git process, e.g. the user's own) is worth a short retry; other errors are not.
_LOCK_CONTENTION = re.compile(r"\.lock\b|could not lock|cannot lock|unable to lock", re.IGNORECASE)
_LOCK_RETRIES = 4


class RepoGit:
    """Runs git in ``cwd`` with fixed ``-c`` options in front and extra environment variables."""

    def __init__(self, cwd: Path, *, env: Mapping[str, str] | None = None, options: Sequence[str] = ()) -> None:
        self.cwd = cwd
        self._env = dict(env or {})
        self._options = list(options)

    def with_env(self, extra: Mapping[str, str]) -> RepoGit:
        """The same git, with ``extra`` environment variables on top."""
        return RepoGit(self.cwd, env={**self._env, **extra}, options=self._options)

    def run(
        self,
        args: Sequence[str],
        *,
        what: str = "",
        hint: str = "",
        check: bool = True,
        timeout: float = _GIT_TIMEOUT_SECONDS,
        input_text: str | None = None,
    ) -> GitOutput:
        """Run ``git ARGS``. With ``check``, a failure raises ``WorktreeError(what)`` after retrying lock-file
        contention a few times; without, the output is returned whatever the exit code."""
        argv = [*self._options, *args]
        for attempt in range(_LOCK_RETRIES + 1):
            done = run_git(argv, cwd=self.cwd, env=self._env, input_data=input_text, timeout=timeout, no_auto_gc=True)
            if done.timed_out:
                raise WorktreeError(
                    f"git timed out after {timeout:.0f}s in {self.cwd}: git {' '.join(args)[:300]}",
                    hint="check the network / disk, or whether another git process holds a lock",
                )
            if done.ok or not check:
                return done
            if attempt == _LOCK_RETRIES or not _LOCK_CONTENTION.search(done.stderr):
                break
            time.sleep(0.1 * 2**attempt)
        raise WorktreeError(what or f"git {' '.join(args)} failed in {self.cwd}", stderr=done.stderr, hint=hint)

    def out(self, args: Sequence[str]) -> str:
        """Stripped stdout of a command that may legitimately fail ("" then)."""
        done = self.run(args, check=False)
        return done.stdout.strip() if done.ok else ""

    def commit_of(self, rev: str) -> str | None:
        """The sha ``rev`` names if it names a commit, else None."""
        if not rev or rev.startswith("-"):
            return None
        return self.out(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"]) or None
