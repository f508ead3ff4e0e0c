"""Webhook payloads of ``issues`` events for issues of a :class:`~tests.fakes.github_server.FakeGitHub`, shaped
like the real ones in ``tests/fixtures/github/webhooks/`` (the repository and sender objects come from there; the
issue object is the fake's own, which has the REST shape that webhooks carry too)."""

from __future__ import annotations

import copy
import json
import zlib
from pathlib import Path
from typing import Any

from tests.fakes.github_server import FakeGitHub

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "github" / "webhooks"


def fixture(name: str) -> dict[str, Any]:
    """A stored real payload, e.g. ``issues.labeled``."""
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def user(login: str, *, kind: str = "User") -> dict[str, Any]:
    """A ``sender`` object for ``login`` (a stable made-up id)."""
    sender = copy.deepcopy(fixture("issues.labeled")["sender"])
    sender.update(login=login, id=zlib.crc32(login.encode()) % 10_000_000, type=kind)
    sender["html_url"] = f"https://github.com/{login}"
    return sender


def issues_event(
    gh: FakeGitHub, number: int, action: str, *, sender: str, label: str | None = None, kind: str = "User"
) -> dict[str, Any]:
    """The ``issues.<action>`` payload GitHub would send now for issue ``number`` of the fake's repository."""
    template = fixture("issues.labeled")
    payload: dict[str, Any] = {
        "action": action,
        "issue": gh.issue(number),
        "repository": repository_of(gh),
        "sender": user(sender, kind=kind),
    }
    if label is not None:
        payload["label"] = {**template["label"], "name": label}
    return payload


def repository_of(gh: FakeGitHub) -> dict[str, Any]:
    """The ``repository`` object of the fake's default repository, in the recorded payloads' shape."""
    owner, name = gh.default_repository.split("/")
    repository = copy.deepcopy(fixture("issues.labeled")["repository"])
    repository.update(name=name, full_name=gh.default_repository, html_url=f"https://github.com/{owner}/{name}")
    repository["owner"] = {**repository["owner"], "login": owner}
    return repository


def comment_event(gh: FakeGitHub, number: int, comment_id: int, *, action: str = "created") -> dict[str, Any]:
    """The ``issue_comment.<action>`` payload GitHub would send now for comment ``comment_id`` on issue
    ``number`` (the fake's REST comment has the webhook's shape; the sender is the comment's author)."""
    comment = next(c for c in gh.issue_comments(number) if c["id"] == comment_id)
    author = comment["user"]
    return {
        "action": action,
        "issue": gh.issue(number),
        "comment": comment,
        "repository": repository_of(gh),
        "sender": user(author["login"], kind=author.get("type", "User")),
    }


def write_event(path: Path, payload: dict[str, Any]) -> Path:
    """``payload`` saved where ``GITHUB_EVENT_PATH`` can point."""
    path.write_text(json.dumps(payload), encoding="utf-8")
    return path


def _repository(gh: FakeGitHub) -> dict[str, Any]:
    template = fixture("issues.labeled")
    owner, name = gh.default_repository.split("/")
    repository = copy.deepcopy(template["repository"])
    repository.update(name=name, full_name=gh.default_repository, html_url=f"https://github.com/{owner}/{name}")
    repository["owner"] = {**repository["owner"], "login": owner}
    return repository


def _pull(gh: FakeGitHub, number: int) -> dict[str, Any]:
    return next(p for p in gh.pulls() if p["number"] == number)


def review_event(
    gh: FakeGitHub, pull: int, review_id: int, *, sender: str, action: str = "submitted"
) -> dict[str, Any]:
    """The ``pull_request_review.<action>`` payload GitHub would send now for review ``review_id`` of pull request
    ``pull`` (the recorded payload's shape; the review as the fake shows it, its state in lower case as webhooks
    write it)."""
    payload = fixture("pull_request_review.submitted")
    review = gh.review(review_id)
    review["state"] = str(review["state"]).lower()
    payload.update(
        action=action, review=review, pull_request=_pull(gh, pull), repository=_repository(gh), sender=user(sender)
    )
    return payload


def review_comment_event(gh: FakeGitHub, pull: int, comment_id: int, *, sender: str) -> dict[str, Any]:
    """The ``pull_request_review_comment.created`` payload for review comment ``comment_id`` of ``pull``."""
    payload = fixture("pull_request_review_comment.created-line")
    comment = next(c for c in gh.pull_review_comments(pull) if c["id"] == comment_id)
    payload.update(comment=comment, pull_request=_pull(gh, pull), repository=_repository(gh), sender=user(sender))
    return payload


def pull_comment_event(gh: FakeGitHub, pull: int, comment_id: int, *, sender: str) -> dict[str, Any]:
    """The ``issue_comment.created`` payload for comment ``comment_id`` in pull request ``pull``'s conversation."""
    payload = fixture("issue_comment.created-pull")
    comment = next(c for c in gh.issue_comments(pull) if c["id"] == comment_id)
    payload.update(comment=comment, issue=gh.issue(pull), repository=_repository(gh), sender=user(sender))
    return payload
