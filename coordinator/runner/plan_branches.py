"""A plan's branches in the repository (the state remote), where every runner can reach them: the plan's own
branch ``coordinator/<plan>`` (what the subtasks start from, and where they are integrated) and each subtask's
branch ``coordinator/<plan>.<n>``. Fetched into the user's clone (where worktrees find their base), pushed from
the work clone (which holds the attempts' commits), with the runner's own credentials."""

from __future__ import annotations

from pathlib import Path

from coordinator.errors import WorktreeError
from coordinator.gitcmd import last_lines, run_git
from coordinator.store.remote import Remote

_TIMEOUT_SECONDS = 300.0
#: Where fetched plan branches are kept in the user's clone (never a branch the user works on).
FETCHED = "refs/coordinator/plans/"


class PlanBranches:
    """Fetches and pushes the branches of plans."""

    def __init__(self, *, user_clone: Path, work_clone: Path, remote: Remote) -> None:
        self.user_clone, self.work_clone, self.remote = user_clone, work_clone, remote

    def fetch(self, branch: str) -> str | None:
        """The commit ``branch`` has in the repository now (fetched, so worktrees can start from it), or None
        when the repository has no such branch; raises ``WorktreeError`` when the repository cannot be asked."""
        ref = FETCHED + branch
        done = run_git(
            ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", self.remote.url, f"+refs/heads/{branch}:{ref}"],
            cwd=self.user_clone,
            env=self.remote.git_env(),
            timeout=_TIMEOUT_SECONDS,
            no_auto_gc=True,
        )
        if not done.ok:
            said = self.remote.redact(done.stdout + "\n" + done.stderr)
            if "couldn't find remote ref" in said:
                return None
            raise WorktreeError(f"could not fetch {branch} from {self.remote}: {last_lines(said)}")
        return run_git(["rev-parse", "--verify", "--quiet", ref], cwd=self.user_clone).stdout.strip() or None

    def push(self, commit: str, branch: str, *, replacing: str | None = None) -> None:
        """Point ``branch`` in the repository at ``commit``: a fast-forward, or (``replacing``) in place of exactly
        that commit (a subtask redone elsewhere); raises ``WorktreeError`` when the repository refuses."""
        lease = [f"--force-with-lease=refs/heads/{branch}:{replacing}"] if replacing else []
        self._push(lease, [f"{commit}:refs/heads/{branch}"], what=f"push {branch} to")

    def delete(self, tips: dict[str, str]) -> None:
        """Delete each branch of ``tips`` from the repository, in one push, only while it still points at the
        commit given (a branch someone moved on stays); raises ``WorktreeError`` when the push fails."""
        if not tips:
            return
        leases = [f"--force-with-lease=refs/heads/{branch}:{tip}" for branch, tip in sorted(tips.items())]
        gone = [f":refs/heads/{branch}" for branch in sorted(tips)]
        self._push(leases, gone, what=f"delete {', '.join(sorted(tips))} in")

    def _push(self, leases: list[str], specs: list[str], *, what: str) -> None:
        """``git push`` of ``specs`` (with their ``--force-with-lease`` options) from the work clone."""
        done = run_git(
            ["push", "--porcelain", "--no-verify", *leases, self.remote.url, *specs],
            cwd=self.work_clone,
            env=self.remote.git_env(),
            timeout=_TIMEOUT_SECONDS,
            no_auto_gc=True,
        )
        if not done.ok:
            said = self.remote.redact(done.stdout + "\n" + done.stderr)
            raise WorktreeError(f"could not {what} {self.remote}: {last_lines(said)}")
