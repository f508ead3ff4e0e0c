"""The one narrow interface to GitHub that the rest of coordinator calls (gidgethub's shape: the core and the
runner speak this protocol; :mod:`coordinator.github.rest` implements it with PyGithub and is the only module
that imports PyGithub; tests use a fake GitHub server on 127.0.0.1 behind the real implementation).

Every method is one REST call (or one paginated listing) or, where it says so, one GraphQL request; none retries
a write by itself: a POST that GitHub
carried out but answered 502 must not be sent again blindly (that is how tools post duplicate comments). Errors
are :class:`GitHubError`, which says whether trying again later may work and when.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from coordinator.errors import CoordinatorError

#: Permissions of GitHub's collaborator-permission endpoint, from the most to the least.
WRITE_PERMISSIONS = frozenset({"admin", "maintain", "write"})


class GitHubError(CoordinatorError):
    """A GitHub call failed. ``status`` is the HTTP status (0: no answer); ``transient`` says whether the same
    call may succeed later (5xx, rate limits, timeouts); ``retry_after`` how many seconds GitHub asked to wait
    (``Retry-After``, or until ``X-RateLimit-Reset``), when it said."""

    def __init__(self, message: str, *, status: int = 0, transient: bool = False, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.transient = transient
        self.retry_after = retry_after


@dataclass(frozen=True)
class Issue:
    """An issue as coordinator needs it."""

    number: int
    title: str
    body: str
    state: str  # "open" | "closed"
    labels: tuple[str, ...]
    author: str
    html_url: str
    updated_at: datetime | None = None


@dataclass(frozen=True)
class IssueEvent:
    """One entry of an issue's event timeline (``labeled``, ``unlabeled``, ``closed``, ``reopened``, ...)."""

    event: str
    actor: str
    created_at: datetime
    label: str | None = None


@dataclass(frozen=True)
class Comment:
    """An issue comment."""

    id: int
    author: str
    body: str
    created_at: datetime
    updated_at: datetime
    html_url: str = ""
    #: The number of the issue (or pull request) it is on, when the answer says.
    issue: int | None = None
    #: Its GraphQL node id, when the answer says.
    node_id: str = ""


@dataclass(frozen=True)
class Batch:
    """What one combined GraphQL request did: the comment made (creation), the issue's labels after a label
    change (name → node id; None: not changed), and the error that stopped part of it."""

    comment: Comment | None = None
    labels: dict[str, str] | None = None
    error: GitHubError | None = None
    #: Which node id the error is about: "comment", "issue" (it named another issue) or "labels".
    failed: str = ""


@dataclass(frozen=True)
class PullRequest:
    """A pull request."""

    number: int
    html_url: str
    state: str  # "open" | "closed"
    draft: bool = False
    #: The branch the pull request merges (``head.ref``) and its tip (``head.sha``), when the answer says.
    head_ref: str = ""
    head_sha: str = ""


@dataclass(frozen=True)
class Review:
    """A pull request review; ``state`` in lower case (``changes_requested``, ``commented``, ``approved``, ...)."""

    id: int
    author: str
    state: str
    body: str
    html_url: str
    submitted_at: datetime | None = None


@dataclass(frozen=True)
class ReviewComment:
    """A review comment on a line of a pull request's diff (``in_reply_to``: the first comment of its thread)."""

    id: int
    author: str
    body: str
    path: str
    html_url: str
    created_at: datetime
    line: int | None = None
    start_line: int | None = None
    diff_hunk: str = ""
    review_id: int | None = None
    in_reply_to: int | None = None


class GitHubAPI(Protocol):
    """What coordinator asks of GitHub, for one repository ``owner/name`` per call."""

    @property
    def calls(self) -> int:
        """How many REST requests this object has sent (measured, e.g. a task's whole life)."""
        ...

    def permission(self, repo: str, user: str) -> str:
        """``user``'s permission on ``repo``: admin, maintain, write, triage, read or none (unknown users: none)."""
        ...

    def issue(self, repo: str, number: int) -> Issue:
        """One issue."""
        ...

    def issue_events(self, repo: str, number: int) -> list[IssueEvent]:
        """The issue's events, oldest first."""
        ...

    def comments(self, repo: str, number: int) -> list[Comment]:
        """The issue's comments, oldest first."""
        ...

    def comment(self, repo: str, comment_id: int) -> Comment:
        """One issue comment."""
        ...

    def add_reaction(self, repo: str, comment_id: int, content: str) -> None:
        """React to an issue comment (``+1``, ``eyes``, ``confused``, ...); reacting twice is no error."""
        ...

    def create_comment(self, repo: str, number: int, body: str) -> Comment:
        """Post a comment (never retried here: see the module docstring)."""
        ...

    def edit_comment(self, repo: str, comment_id: int, body: str) -> Comment:
        """Replace a comment's body (idempotent: safe to repeat); the comment as it is now."""
        ...

    def set_labels(self, repo: str, number: int, labels: list[str]) -> None:
        """Replace the issue's labels with ``labels`` (idempotent)."""
        ...

    def add_labels(self, repo: str, number: int, labels: list[str]) -> dict[str, str]:
        """Add ``labels`` to the issue (idempotent; creates unknown labels); returns all its labels now (name →
        node id)."""
        ...

    def remove_label(self, repo: str, number: int, label: str) -> None:
        """Take ``label`` off the issue (idempotent: a label that is not there is no error)."""
        ...

    def create_label(self, repo: str, name: str, *, color: str, description: str) -> tuple[str, bool]:
        """Make a label in the repository, or find the one of that name: (its node id, whether it was made)."""
        ...

    def create_with_labels(
        self, repo: str, number: int, *, issue_node: str, body: str, add: Mapping[str, str]
    ) -> Batch:
        """Post a comment on the issue and add labels (name → node id) in one GraphQL request (never retried
        here: the comment may have been made)."""
        ...

    def edit_with_labels(
        self,
        repo: str,
        number: int,
        *,
        issue_node: str,
        comment: tuple[str, str] | None,
        add: Mapping[str, str],
        remove: Mapping[str, str],
    ) -> Batch:
        """Edit a comment (node id, whole body) and add and remove labels (name → node id) in one GraphQL request
        (idempotent: safe to repeat)."""
        ...

    def find_pull(self, repo: str, head: str) -> PullRequest | None:
        """The pull request whose head is ``head`` (``owner:branch``), open or closed, newest first; or None."""
        ...

    def create_pull(self, repo: str, *, base: str, head: str, title: str, body: str, draft: bool) -> PullRequest:
        """Open a pull request; a :class:`GitHubError` with status 422 when one exists for ``head`` already."""
        ...

    def request_reviewers(self, repo: str, number: int, reviewers: list[str]) -> None:
        """Ask ``reviewers`` to review pull request ``number``."""
        ...

    def default_branch(self, repo: str) -> str:
        """The repository's default branch."""
        ...

    def pull(self, repo: str, number: int) -> PullRequest:
        """One pull request, with its head branch and commit."""
        ...

    def review(self, repo: str, number: int, review_id: int) -> Review:
        """One review of pull request ``number``."""
        ...

    def review_comments(self, repo: str, number: int, review_id: int) -> list[ReviewComment]:
        """The comments of one review, in order."""
        ...

    def pull_comments(self, repo: str, number: int) -> list[ReviewComment]:
        """Every review comment of pull request ``number`` (replies included), oldest first."""
        ...

    def reply_to_review_comment(self, repo: str, number: int, comment_id: int, body: str) -> ReviewComment:
        """Reply in the thread of review comment ``comment_id`` (a thread's first comment; never retried here)."""
        ...
