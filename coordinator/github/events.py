"""GitHub events as data (sans-I/O): what ``coordinator ingest`` reads from the event file Actions writes (or a
webhook body), checked and reduced to the fields coordinator uses. Nothing here talks to GitHub."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from coordinator.errors import UsageError

_NODE_ID = re.compile(r"[A-Za-z0-9_=+/-]{1,120}")


class EventError(UsageError):
    """The event payload is not what GitHub sends for that event (a hand-made or truncated file)."""


@dataclass(frozen=True)
class User:
    """A GitHub account as events show it."""

    login: str
    type: str = "User"
    id: int | None = None

    @property
    def is_bot(self) -> bool:
        """A bot (GitHub App or bot account): it may trigger only when allow-listed."""
        return self.type == "Bot" or self.login.endswith("[bot]")


@dataclass(frozen=True)
class IssueData:
    """The issue in an event, as it was when the event happened."""

    number: int
    title: str
    body: str
    state: str
    labels: tuple[str, ...]
    author: User
    html_url: str
    comments: int
    created_at: datetime
    updated_at: datetime
    #: The "issue" is a pull request (comments on pull requests come as issue_comment events too).
    is_pull: bool = False
    #: GitHub's GraphQL id of the issue ("" when the payload has none that looks like one).
    node_id: str = ""


@dataclass(frozen=True)
class IssuesEvent:
    """An ``issues`` event: ``opened``, ``labeled``, ``edited``, ``closed``, ...; ``label`` for (un)labeled."""

    action: str
    repository: str
    issue: IssueData
    sender: User
    label: str | None = None
    delivery: str | None = None

    @property
    def name(self) -> str:
        """``issues.<action>``, as recorded on the task."""
        return f"issues.{self.action}"


@dataclass(frozen=True)
class CommentData:
    """A comment in an event, as it was when the event happened."""

    id: int
    body: str
    author: User
    html_url: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class IssueCommentEvent:
    """An ``issue_comment`` event (``created``, ``edited``, ``deleted``), on an issue or a pull request."""

    action: str
    repository: str
    issue: IssueData
    comment: CommentData
    sender: User
    delivery: str | None = None

    @property
    def name(self) -> str:
        """``issue_comment.<action>``, as recorded on the task."""
        return f"issue_comment.{self.action}"


@dataclass(frozen=True)
class PullData:
    """The pull request in a review event, as it was when the event happened."""

    number: int
    head_ref: str
    head_sha: str
    state: str
    html_url: str
    title: str


@dataclass(frozen=True)
class ReviewData:
    """A pull request review: ``state`` is ``changes_requested``, ``commented``, ``approved`` or ``dismissed``."""

    id: int
    body: str
    state: str
    author: User
    html_url: str
    submitted_at: datetime | None
    commit_id: str = ""


@dataclass(frozen=True)
class ReviewCommentData:
    """A review comment: on a line (``line``; ``start_line`` for a range) of ``path`` in the diff; a reply in a
    thread names the thread's first comment (``in_reply_to``)."""

    id: int
    body: str
    author: User
    path: str
    line: int | None
    start_line: int | None
    diff_hunk: str
    html_url: str
    created_at: datetime
    review_id: int | None = None
    in_reply_to: int | None = None


@dataclass(frozen=True)
class PullRequestReviewEvent:
    """A ``pull_request_review`` event (``submitted``, ``edited``, ``dismissed``)."""

    action: str
    repository: str
    pull: PullData
    review: ReviewData
    sender: User
    delivery: str | None = None

    @property
    def name(self) -> str:
        """``pull_request_review.<action>``, as recorded on the task."""
        return f"pull_request_review.{self.action}"


@dataclass(frozen=True)
class PullRequestReviewCommentEvent:
    """A ``pull_request_review_comment`` event (``created``, ``edited``, ``deleted``)."""

    action: str
    repository: str
    pull: PullData
    comment: ReviewCommentData
    sender: User
    delivery: str | None = None

    @property
    def name(self) -> str:
        """``pull_request_review_comment.<action>``."""
        return f"pull_request_review_comment.{self.action}"


@dataclass(frozen=True)
class Unsupported:
    """An event coordinator does not act on (yet); ``why`` says so for the log."""

    name: str
    why: str


Event = IssuesEvent | IssueCommentEvent | PullRequestReviewEvent | PullRequestReviewCommentEvent | Unsupported
#: The events about a pull request's review (follow-ups of an issue's task).
ReviewEvent = PullRequestReviewEvent | PullRequestReviewCommentEvent


def parse(name: str, payload: Mapping[str, Any], *, delivery: str | None = None) -> Event:
    """The event ``name`` (``GITHUB_EVENT_NAME`` / ``X-GitHub-Event``) with ``payload`` (the JSON body)."""
    if name == "issue_comment":
        return _issue_comment(payload, delivery)
    if name == "pull_request_review":
        return _review_event(payload, delivery)
    if name == "pull_request_review_comment":
        return _review_comment_event(payload, delivery)
    if name != "issues":
        return Unsupported(name, f"coordinator does not act on '{name}' events")
    action = _text(payload, "action")
    repository = _text(_object(payload, "repository"), "full_name")
    issue = _issue(_object(payload, "issue"))
    label = payload.get("label")
    return IssuesEvent(
        action=action,
        repository=repository,
        issue=issue,
        sender=_user(_object(payload, "sender")),
        label=_text(label, "name") if isinstance(label, Mapping) else None,
        delivery=delivery,
    )


def _issue_comment(payload: Mapping[str, Any], delivery: str | None) -> IssueCommentEvent:
    raw = _object(payload, "comment")
    body = raw.get("body")
    comment = CommentData(
        id=_number(raw, "id"),
        body=body if isinstance(body, str) else "",
        author=_user(_object(raw, "user")),
        html_url=_text(raw, "html_url"),
        created_at=_when(raw, "created_at"),
        updated_at=_when(raw, "updated_at"),
    )
    return IssueCommentEvent(
        action=_text(payload, "action"),
        repository=_text(_object(payload, "repository"), "full_name"),
        issue=_issue(_object(payload, "issue"), pulls=True),
        comment=comment,
        sender=_user(_object(payload, "sender")),
        delivery=delivery,
    )


def _review_event(payload: Mapping[str, Any], delivery: str | None) -> PullRequestReviewEvent:
    raw = _object(payload, "review")
    submitted = raw.get("submitted_at")
    review = ReviewData(
        id=_number(raw, "id"),
        body=_optional_text(raw, "body"),
        state=_text(raw, "state").lower(),
        author=_user(_object(raw, "user")),
        html_url=_text(raw, "html_url"),
        submitted_at=_when(raw, "submitted_at") if isinstance(submitted, str) and submitted else None,
        commit_id=_optional_text(raw, "commit_id"),
    )
    return PullRequestReviewEvent(
        action=_text(payload, "action"),
        repository=_text(_object(payload, "repository"), "full_name"),
        pull=_pull(_object(payload, "pull_request")),
        review=review,
        sender=_user(_object(payload, "sender")),
        delivery=delivery,
    )


def _review_comment_event(payload: Mapping[str, Any], delivery: str | None) -> PullRequestReviewCommentEvent:
    return PullRequestReviewCommentEvent(
        action=_text(payload, "action"),
        repository=_text(_object(payload, "repository"), "full_name"),
        pull=_pull(_object(payload, "pull_request")),
        comment=review_comment(_object(payload, "comment")),
        sender=_user(_object(payload, "sender")),
        delivery=delivery,
    )


def review_comment(raw: Mapping[str, Any]) -> ReviewCommentData:
    """A review comment as webhooks and the REST API both show it (the same shape)."""
    return ReviewCommentData(
        id=_number(raw, "id"),
        body=_optional_text(raw, "body"),
        author=_user(_object(raw, "user")) if isinstance(raw.get("user"), Mapping) else User("ghost"),
        path=_optional_text(raw, "path"),
        line=_optional_number(raw, "line") or _optional_number(raw, "original_line"),
        start_line=_optional_number(raw, "start_line") or _optional_number(raw, "original_start_line"),
        diff_hunk=_optional_text(raw, "diff_hunk"),
        html_url=_text(raw, "html_url"),
        created_at=_when(raw, "created_at"),
        review_id=_optional_number(raw, "pull_request_review_id"),
        in_reply_to=_optional_number(raw, "in_reply_to_id"),
    )


def _pull(raw: Mapping[str, Any]) -> PullData:
    head = _object(raw, "head")
    return PullData(
        number=_number(raw, "number"),
        head_ref=_text(head, "ref"),
        head_sha=_optional_text(head, "sha"),
        state=_text(raw, "state"),
        html_url=_text(raw, "html_url"),
        title=_optional_text(raw, "title"),
    )


def _optional_text(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    return value if isinstance(value, str) else ""


def _optional_number(raw: Mapping[str, Any], key: str) -> int | None:
    value = raw.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _issue(raw: Mapping[str, Any], *, pulls: bool = False) -> IssueData:
    if "pull_request" in raw and not pulls:
        raise EventError("this 'issues' event is about a pull request: coordinator works from issues only")
    labels = raw.get("labels") or []
    body, comments = raw.get("body"), raw.get("comments")
    if not isinstance(labels, list):
        raise EventError("issue.labels is not a list")
    return IssueData(
        number=_number(raw, "number"),
        title=_text(raw, "title"),
        body=body if isinstance(body, str) else "",
        state=_text(raw, "state"),
        labels=tuple(_text(label, "name") for label in labels if isinstance(label, Mapping)),
        author=_user(_object(raw, "user")),
        html_url=_text(raw, "html_url"),
        comments=comments if isinstance(comments, int) else 0,
        created_at=_when(raw, "created_at"),
        updated_at=_when(raw, "updated_at"),
        is_pull="pull_request" in raw,
        node_id=_node_id(raw.get("node_id")),
    )


def _node_id(value: Any) -> str:
    """A GraphQL node id as GitHub writes them (letters, digits, ``_=+/-``), or "" for anything else."""
    return value if isinstance(value, str) and _NODE_ID.fullmatch(value) else ""


def _user(raw: Mapping[str, Any]) -> User:
    kind, number = raw.get("type"), raw.get("id")
    return User(
        login=_text(raw, "login"),
        type=kind if isinstance(kind, str) else "User",
        id=number if isinstance(number, int) and not isinstance(number, bool) else None,
    )


def _object(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = raw.get(key)
    if not isinstance(value, Mapping):
        raise EventError(f"the event has no '{key}' object: is this the event file GitHub wrote?")
    return value


def _text(raw: Any, key: str) -> str:
    value = raw.get(key) if isinstance(raw, Mapping) else None
    if not isinstance(value, str) or not value:
        raise EventError(f"the event has no '{key}' text")
    return value


def _number(raw: Mapping[str, Any], key: str) -> int:
    value = raw.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise EventError(f"the event has no '{key}' number")
    return value


def _when(raw: Mapping[str, Any], key: str) -> datetime:
    try:
        value = datetime.fromisoformat(_text(raw, key).replace("Z", "+00:00"))
    except ValueError:
        raise EventError(f"the event's '{key}' is not a time") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
