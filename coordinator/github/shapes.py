"""GitHub's REST JSON → the dataclasses of :mod:`coordinator.github.api` (pure; field names as in GitHub's OpenAPI
description). An answer missing what coordinator needs raises :class:`ShapeError`, which the adapter reports as a
bad answer instead of a ``KeyError`` traceback."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from coordinator.github.api import Comment, Issue, IssueEvent, PullRequest

#: Roles of the collaborator-permission endpoint's ``role_name`` coordinator knows, from the most to the least.
ROLES = ("admin", "maintain", "write", "triage", "read", "none")

#: The login GitHub shows for a deleted account (its objects then carry ``"user": null``).
GHOST = "ghost"


class ShapeError(ValueError):
    """A GitHub answer lacks a field coordinator needs, or holds it with the wrong type."""


def issue_from(data: Any) -> Issue:
    """An issue (``GET /repos/{o}/{r}/issues/{n}``)."""
    item = _object(data, "issue")
    return Issue(
        number=_int(item, "number"),
        title=_str(item, "title"),
        body=_str(item, "body", nullable=True),
        state=_str(item, "state"),
        labels=tuple(_str(_object(label, "label"), "name") for label in _list(item, "labels")),
        author=_login(item, "user"),
        html_url=_str(item, "html_url"),
        updated_at=_time(item, "updated_at") if item.get("updated_at") else None,
    )


def events_from(data: Any) -> list[IssueEvent]:
    """An issue's events (``GET /repos/{o}/{r}/issues/{n}/events``), in GitHub's order (oldest first)."""
    events = []
    for entry in _items(data, "issue events"):
        item = _object(entry, "issue event")
        label = item.get("label")
        events.append(
            IssueEvent(
                event=_str(item, "event"),
                actor=_login(item, "actor"),
                created_at=_time(item, "created_at"),
                label=_str(label, "name") if isinstance(label, Mapping) else None,
            )
        )
    return events


def comment_from(data: Any) -> Comment:
    """A comment (list items, and the answers to creating or editing one)."""
    item = _object(data, "comment")
    return Comment(
        id=_int(item, "id"),
        author=_login(item, "user"),
        body=_str(item, "body", nullable=True),
        created_at=_time(item, "created_at"),
        updated_at=_time(item, "updated_at"),
        html_url=_str(item, "html_url", nullable=True),
        issue=_issue_number(item.get("issue_url")),
        node_id=item["node_id"] if isinstance(item.get("node_id"), str) else "",
    )


def _issue_number(url: Any) -> int | None:
    """The number at the end of an ``issue_url`` (``…/issues/7``), if there is one."""
    if not isinstance(url, str):
        return None
    tail = url.rstrip("/").rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


def comments_from(data: Any) -> list[Comment]:
    """An issue's comments (``GET /repos/{o}/{r}/issues/{n}/comments``), oldest first."""
    return [comment_from(item) for item in _items(data, "comments")]


def pull_from(data: Any) -> PullRequest:
    """A pull request (list items and the answer to creating one)."""
    item = _object(data, "pull request")
    return PullRequest(
        number=_int(item, "number"),
        html_url=_str(item, "html_url"),
        state=_str(item, "state"),
        draft=item.get("draft") is True,
    )


def pull_head(data: Any) -> str:
    """The ``owner:branch`` label of a pull request's head."""
    return _str(_object(_object(data, "pull request").get("head"), "pull request head"), "label")


def listing(data: Any) -> list[Any]:
    """The raw items of a listing (one page)."""
    return _items(data, "listing")


def permission_from(data: Any) -> str:
    """The role of the collaborator-permission answer: ``role_name`` when it is a known role (it tells maintain
    and triage apart, which the legacy ``permission`` field reports as write and read), else the legacy value.

    A custom repository role has its own ``role_name``: its base ``permission`` is used, never anything higher.
    """
    item = _object(data, "collaborator permission")
    role = item.get("role_name")
    if isinstance(role, str) and role in ROLES:
        return role
    legacy = item.get("permission")
    return legacy if isinstance(legacy, str) and legacy in ROLES else "none"


def node_id(data: Any) -> str:
    """The ``node_id`` of an object (a label made or looked up)."""
    return _str(_object(data, "object"), "node_id")


def label_ids(data: Any) -> dict[str, str]:
    """Name → node id of a label listing (the answer to adding an issue's labels; "" when a label has none)."""
    labels = [_object(label, "label") for label in _items(data, "labels")]
    return {_str(label, "name"): _str(label, "node_id", nullable=True) for label in labels}


def default_branch_from(data: Any) -> str:
    """The ``default_branch`` of a repository (``GET /repos/{o}/{r}``)."""
    return _str(_object(data, "repository"), "default_branch")


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ShapeError(f"expected {what} as a JSON object, got {type(value).__name__}")
    return value


def _items(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ShapeError(f"expected {what} as a JSON list, got {type(value).__name__}")
    return value


def _list(item: Mapping[str, Any], key: str) -> list[Any]:
    value = item.get(key)
    if value is None:
        return []
    return _items(value, f"'{key}'")


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


def _login(item: Mapping[str, Any], key: str) -> str:
    user = item.get(key)
    if user is None:
        return GHOST
    return _str(_object(user, f"'{key}'"), "login")


def _time(item: Mapping[str, Any], key: str) -> datetime:
    text = _str(item, key)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ShapeError(f"'{key}' is not an ISO 8601 time: {text[:40]!r}") from None
    if parsed.tzinfo is None:
        raise ShapeError(f"'{key}' has no time zone: {text[:40]!r}")
    return parsed
