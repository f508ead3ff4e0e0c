"""Pushing a task's branch to the repository from the runner's clone (the only place its commits are), with the
runner's own credentials: a fast-forward when it can, else replacing only what coordinator pushed last."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from coordinator.gitcmd import last_lines, run_git
from coordinator.github.pushing import PushError
from coordinator.store.remote import Remote

_PUSH_TIMEOUT_SECONDS = 300.0
_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


class ClonePusher:
    """Pushes from the user's clone ``repo`` to ``remote``; ``base`` names the branch pull requests target."""

    def __init__(self, repo: Path, remote: Remote, *, base: Callable[[], str]) -> None:
        self.repo, self.remote = repo, remote
        self._base = base

    @property
    def base_branch(self) -> str:
        """The branch task branches start from, as the remote names it (``origin/main`` → ``main``)."""
        name = self._base()
        if _SHA.match(name):
            raise PushError(f"task branches start from commit {name[:12]}, not a branch: set the runner's base")
        remotes = run_git(["remote"], cwd=self.repo).stdout.split()
        head, _, rest = name.partition("/")
        return rest if rest and head in remotes else name

    def has(self, commit: str) -> bool:
        """Whether the clone has ``commit``."""
        return run_git(["cat-file", "-e", f"{commit}^{{commit}}"], cwd=self.repo).ok

    def push(self, commit: str, branch: str, *, previous: str | None) -> None:
        """Point the remote ``branch`` at ``commit``: fast-forward, or (when coordinator pushed it before and the
        work was redone) replace exactly the commit it pushed last, never someone else's."""
        ref = f"refs/heads/{branch}"
        done = self._push(["push", "--porcelain", "--no-verify", self.remote.url, f"{commit}:{ref}"])
        if done is None:
            return
        if previous is not None and "[rejected]" in done:
            lease = f"--force-with-lease={ref}:{previous}"
            retried = self._push(["push", "--porcelain", "--no-verify", lease, self.remote.url, f"{commit}:{ref}"])
            if retried is None:
                return
            done = retried
        raise PushError(
            f"could not push {branch} to {self.remote.url}: {last_lines(done)}; if someone else pushed to {branch}, "
            "move their commits elsewhere or delete the branch, then the runner pushes again"
        )

    def fetch_tip(self, branch: str) -> tuple[str | None, str | None]:
        """Fetch ``branch`` as the repository has it now into ``refs/coordinator/tips/<branch>`` of the clone:
        (its commit, None), (None, None) when the repository has no such branch, or (None, why not)."""
        ref = f"refs/coordinator/tips/{branch}"
        done = run_git(
            ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", self.remote.url, f"+refs/heads/{branch}:{ref}"],
            cwd=self.repo,
            env=self.remote.git_env(),
            timeout=_PUSH_TIMEOUT_SECONDS,
        )
        if not done.ok:
            said = self.remote.redact(done.stdout + "\n" + done.stderr)
            if "couldn't find remote ref" in said:
                return None, None
            return None, f"could not fetch {branch} from {self.remote.url}: {last_lines(said)}"
        return run_git(["rev-parse", "--verify", "--quiet", ref], cwd=self.repo).stdout.strip() or None, None

    def new_paths(self, commit: str, branch: str) -> list[str]:
        """The files changed by the commits of ``commit`` that the repository does not have: neither on the base
        branch nor on ``branch`` as the repository has it now (one ``ls-remote``); a tip this clone lacks counts
        as nothing, so the answer errs on the side of listing too much."""
        listed = run_git(
            ["ls-remote", "--heads", self.remote.url, f"refs/heads/{branch}"],
            cwd=self.repo,
            env=self.remote.git_env(),
            timeout=_PUSH_TIMEOUT_SECONDS,
        )
        if not listed.ok:
            said = self.remote.redact(listed.stdout + "\n" + listed.stderr)
            raise PushError(f"could not read {branch} on {self.remote.url}: {last_lines(said)}")
        known = [self._base()]
        tip = listed.stdout.split()[0] if listed.stdout.split() else None
        if tip is not None and self.has(tip):
            known.append(tip)
        logged = run_git(["log", "--format=", "--name-only", commit, "--not", *known], cwd=self.repo)
        if not logged.ok:
            raise PushError(f"could not list the changes of {commit[:12]}: {last_lines(logged.stderr)}")
        return sorted({line.strip() for line in logged.stdout.splitlines() if line.strip()})

    def start_branch(self, remote_branch: str, local_branch: str) -> str | None:
        """Create ``local_branch`` in the clone at the tip of the repository's ``remote_branch`` (fetched now: people
        may have pushed to it), unless the clone has that branch already (an earlier attempt's work, which the next
        attempt continues); why it could not, or None."""
        if run_git(["rev-parse", "--verify", "--quiet", f"refs/heads/{local_branch}"], cwd=self.repo).ok:
            return None
        refspec = f"refs/heads/{remote_branch}:refs/heads/{local_branch}"
        done = run_git(
            ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", self.remote.url, refspec],
            cwd=self.repo,
            env=self.remote.git_env(),
            timeout=_PUSH_TIMEOUT_SECONDS,
        )
        if done.ok:
            return None
        said = self.remote.redact(done.stdout + "\n" + done.stderr)
        return f"could not fetch {remote_branch} from {self.remote.url}: {last_lines(said)}"

    def _push(self, args: list[str]) -> str | None:
        """None when the push went through, else what git said (credentials removed)."""
        result = run_git(args, cwd=self.repo, env=self.remote.git_env(), timeout=_PUSH_TIMEOUT_SECONDS)
        if result.ok:
            return None
        return self.remote.redact(result.stdout + "\n" + result.stderr)
