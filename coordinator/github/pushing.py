"""What delivering needs of the machine that pushes task branches: the protocols a runner's pusher implements,
its errors, and which paths of a push GitHub Actions would run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from coordinator.errors import CoordinatorError


class PushError(CoordinatorError):
    """The task branch could not be pushed (network, credentials, or the remote branch moved)."""


class WorkflowsNotPushed(PushError):
    """The agent changed what GitHub Actions runs, and the repository does not allow pushing that."""


class Pusher(Protocol):
    """Pushes task branches from the machine that has their commits (a runner's clone)."""

    @property
    def base_branch(self) -> str:
        """The branch pull requests target (the branch task branches start from)."""
        ...

    def has(self, commit: str) -> bool:
        """Whether this machine has ``commit`` (only its runner can push it)."""
        ...

    def push(self, commit: str, branch: str, *, previous: str | None) -> None:
        """Make the remote ``branch`` point at ``commit`` (moving it from ``previous``, the last push, if set)."""
        ...


@runtime_checkable
class BranchStarter(Protocol):
    """A pusher that can also start a local branch from a branch of the repository (a follow-up starts from the
    tip of its pull request's branch, which people may have pushed to)."""

    def start_branch(self, remote_branch: str, local_branch: str) -> str | None:
        """Create ``local_branch`` at the tip of the repository's ``remote_branch`` unless it exists; why it
        could not (None: done, or there already)."""
        ...


@runtime_checkable
class TipFetcher(Protocol):
    """A pusher that can fetch a branch of the repository as it is now (a new round of an issue's task continues
    from its pull request's branch, which follow-ups moved on)."""

    def fetch_tip(self, branch: str) -> tuple[str | None, str | None]:
        """(the commit ``branch`` points at on the repository, now in this clone; None when there is no such
        branch) or (None, why it could not be fetched)."""
        ...


@runtime_checkable
class ChangeLister(Protocol):
    """A pusher that can tell which files a push would bring to the repository."""

    def new_paths(self, commit: str, branch: str) -> list[str]:
        """The files changed by the commits that pushing ``commit`` to ``branch`` would add to the repository
        (none the repository has already: not the base branch's, not ``branch``'s as it is there now)."""
        ...


#: Where GitHub looks for what it runs: a workflow on a pull request's branch runs with the repository's
#: secrets for reviews and pushes (pull_request_review, pull_request, push), so an agent must not put one there.
RUNS_ON_GITHUB = (".github/workflows/", ".github/actions/")


def workflow_paths(paths: Sequence[str]) -> list[str]:
    """The paths among ``paths`` that GitHub Actions would run (see :data:`RUNS_ON_GITHUB`)."""
    return sorted({p for p in paths if p.lower().startswith(RUNS_ON_GITHUB)})
