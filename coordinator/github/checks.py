"""What the GitHub adapter checks before it builds a request from a value: a repository, a number, a login, a
label or a pull request's head that GitHub would misread is refused here, with what to give instead."""

from __future__ import annotations

import re

from coordinator.github.api import GitHubError
from coordinator.github.settings import repository_parts

_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?")


def repo_path(repo: str) -> str:
    parts = repository_parts(repo)
    if parts is None:
        raise GitHubError(f"{repo!r} is not a GitHub repository: give it as owner/name (e.g. octocat/Hello-World)")
    return f"/repos/{parts[0]}/{parts[1]}"


def number(number: int) -> int:
    if not isinstance(number, int) or isinstance(number, bool) or number <= 0:
        raise GitHubError(f"{number!r} is not an issue, pull request or comment number: give a positive integer")
    return number


def check_login(user: str) -> None:
    if not isinstance(user, str) or not _LOGIN.fullmatch(user):
        raise GitHubError(f"{user!r} is not a GitHub login: give the account name, e.g. octocat")


def check_label(label: str) -> None:
    if not isinstance(label, str) or not label.strip() or len(label) > 50:
        raise GitHubError(f"{label!r} is not a GitHub label name: give 1 to 50 characters")


def check_head(head: str) -> None:
    owner, colon, branch = head.partition(":")
    if not colon or not branch or not owner or any(c.isspace() for c in head):
        # GitHub silently ignores a head without an owner and lists every pull request of the repository.
        raise GitHubError(f"find_pull needs head as owner:branch, got {head!r} (e.g. octocat:coordinator/task-1)")
    check_login(owner)
