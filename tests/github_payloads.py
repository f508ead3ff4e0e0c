"""Real GitHub webhook payloads (``tests/fixtures/github/webhooks``, see SOURCES.md there) and variants of them.

Every variant starts from a deep copy of a recorded payload and changes only what a test is about, so the rest
keeps GitHub's real shape.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

WEBHOOKS = Path(__file__).parent / "fixtures" / "github" / "webhooks"
#: Every payload of the fixtures, by file name without ``.json``.
NAMES = sorted(p.stem for p in WEBHOOKS.glob("*.json"))


@cache
def _recorded(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((WEBHOOKS / f"{name}.json").read_text(encoding="utf-8"))
    return data


def payload(name: str) -> dict[str, Any]:
    """A fresh copy of the recorded payload ``name`` (e.g. ``issues.labeled``): edit it freely."""
    return copy.deepcopy(_recorded(name))


def label_object(name: str) -> dict[str, Any]:
    """A label as GitHub's payloads carry it (the recorded ``bug`` label, renamed)."""
    label = copy.deepcopy(_recorded("issues.labeled")["label"])
    label.update(name=name, url=label["url"].rsplit("/", 1)[0] + "/" + name)
    return label


def issues_event(
    action: str,
    *,
    labels: tuple[str, ...] = ("bug",),
    label: str | None = None,
    state: str | None = None,
    sender: str | None = None,
    sender_type: str | None = None,
    updated_at: datetime | None = None,
    created_at: datetime | None = None,
    number: int | None = None,
    comments: int | None = None,
) -> dict[str, Any]:
    """An ``issues`` payload for ``action``, from the recorded one closest to it, with these changes."""
    base = {
        "opened": "issues.opened",
        "labeled": "issues.labeled",
        "unlabeled": "issues.unlabeled",
        "edited": "issues.edited",
        "closed": "issues.closed",
        "reopened": "issues.reopened",
    }.get(action, "issues.edited")
    data = payload(base)
    data["action"] = action
    issue = data["issue"]
    issue["labels"] = [label_object(name) for name in labels]
    if label is not None:
        data["label"] = label_object(label)
    if state is not None:
        issue["state"] = state
    if sender is not None:
        data["sender"]["login"] = sender
    if sender_type is not None:
        data["sender"]["type"] = sender_type
    if updated_at is not None:
        issue["updated_at"] = _iso(updated_at)
    if created_at is not None:
        issue["created_at"] = _iso(created_at)
    if number is not None:
        issue["number"] = number
        issue["html_url"] = issue["html_url"].rsplit("/", 1)[0] + f"/{number}"
    if comments is not None:
        issue["comments"] = comments
    return data


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")
