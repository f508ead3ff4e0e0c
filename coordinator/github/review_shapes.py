"""GitHub's REST JSON of pull requests, reviews and review comments → the dataclasses of
:mod:`coordinator.github.api` (pure; field names as in GitHub's OpenAPI description). A missing field coordinator
needs raises :class:`~coordinator.github.shapes.ShapeError`, reported by the adapter as a bad answer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from coordinator.github.api import PullRequest, Review, ReviewComment
from coordinator.github.shapes import ShapeError, _int, _login, _object, _str, _time  # one reading of GitHub's fields


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
        author=_login(item, "user"),
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
        author=_login(item, "user"),
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


def _positive(item: Mapping[str, Any], key: str) -> int | None:
    value = item.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
