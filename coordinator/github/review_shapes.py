"""GitHub's REST JSON of pull requests, reviews and review comments → the dataclasses of
:mod:`coordinator.github.api` (pure; field names as in GitHub's OpenAPI description). A missing field coordinator
needs raises :class:`~coordinator.github.shapes.ShapeError`, reported by the adapter as a bad answer."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from coordinator.github.api import PullRequest, Review, ReviewComment
from coordinator.github.shapes import GHOST, ShapeError


def pull_detail_from(data: Any) -> PullRequest:
    """A pull request with its head (``GET /repos/{o}/{r}/pulls/{n}``)."""
    item = _object(data, "pull request")
    head = _object(item.get("head"), "pull request head")
    return PullRequest(
        number=_int(item, "number"),
        html_url=_str(item, "html_url"),
        state=_str(item, "state"),
        draft=item.get("draft") is True,
        head_ref=_str(head, "ref"),
        head_sha=_str(head, "sha", nullable=True),
    )


def review_from(data: Any) -> Review:
    """A review (``GET …/pulls/{n}/reviews/{id}``); the REST API writes its state in capitals, webhooks in lower
    case: both are read as lower case."""
    item = _object(data, "review")
    submitted = item.get("submitted_at")
    return Review(
        id=_int(item, "id"),
        author=_login(item),
        state=_str(item, "state").lower(),
        body=_str(item, "body", nullable=True),
        html_url=_str(item, "html_url", nullable=True),
        submitted_at=_time(item, "submitted_at") if submitted is not None else None,
    )


def review_comments_from(data: Any) -> list[ReviewComment]:
    """Review comments (a review's, or a pull request's), in GitHub's order."""
    if not isinstance(data, list):
        raise ShapeError(f"expected review comments as a JSON list, got {type(data).__name__}")
    return [review_comment_from(item) for item in data]


def review_comment_from(data: Any) -> ReviewComment:
    """One review comment (list items, and the answer to a reply)."""
    item = _object(data, "review comment")
    return ReviewComment(
        id=_int(item, "id"),
        author=_login(item),
        body=_str(item, "body", nullable=True),
        path=_str(item, "path", nullable=True),
        html_url=_str(item, "html_url", nullable=True),
        created_at=_time(item, "created_at"),
        line=_positive(item, "line") or _positive(item, "original_line"),
        start_line=_positive(item, "start_line") or _positive(item, "original_start_line"),
        diff_hunk=_str(item, "diff_hunk", nullable=True),
        review_id=_positive(item, "pull_request_review_id"),
        in_reply_to=_positive(item, "in_reply_to_id"),
    )


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ShapeError(f"expected {what} as a JSON object, got {type(value).__name__}")
    return value


def _str(item: Mapping[str, Any], key: str, *, nullable: bool = False) -> str:
    value = item.get(key)
    if value is None and nullable:
        return ""
    if not isinstance(value, str):
        raise ShapeError(f"'{key}' is missing or not a string")
    return value


def _int(item: Mapping[str, Any], key: str) -> int:
    value = item.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ShapeError(f"'{key}' is missing or not an integer")
    return value


def _positive(item: Mapping[str, Any], key: str) -> int | None:
    value = item.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _login(item: Mapping[str, Any]) -> str:
    user = item.get("user")
    if user is None:
        return GHOST  # a deleted account
    return _str(_object(user, "'user'"), "login")


def _time(item: Mapping[str, Any], key: str) -> datetime:
    text = _str(item, key)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ShapeError(f"'{key}' is not an ISO 8601 time: {text[:40]!r}") from None
    if parsed.tzinfo is None:
        raise ShapeError(f"'{key}' has no time zone: {text[:40]!r}")
    return parsed
