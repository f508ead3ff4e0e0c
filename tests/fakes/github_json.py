"""The fake GitHub's state and how it looks as JSON: the shapes of GitHub's REST answers (field names and nesting as
in the OpenAPI examples of ``tests/fixtures/github/rest/``), with every ``url`` pointing at the fake itself, as
PyGithub requires of URLs it follows.

:class:`Render` turns state records into JSON; :mod:`tests.fakes.github_server` owns the records and serves them.
"""

from __future__ import annotations

import base64
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: role_name → the legacy ``permission`` field, which reports maintain as write and triage as read.
LEGACY_PERMISSION = {"admin": "admin", "maintain": "write", "write": "write", "triage": "read", "read": "read"}

LABEL_COLORS = ("f29513", "a2eeef", "d73a4a", "0075ca", "7057ff", "008672")


@dataclass
class Label:
    """A repository label (created on first use, as GitHub does when labels are set on an issue)."""

    id: int
    name: str
    color: str
    description: str | None = None


@dataclass
class Pull:
    """What a pull request adds to its issue."""

    head_owner: str
    head_ref: str
    base_ref: str
    draft: bool
    requested_reviewers: list[str] = field(default_factory=list)
    merged_at: datetime | None = None


@dataclass
class IssueRecord:
    """An issue or, with ``pull`` set, a pull request (GitHub numbers both from one sequence)."""

    id: int
    number: int
    title: str
    body: str | None
    author: str
    created_at: datetime
    updated_at: datetime
    state: str = "open"
    labels: list[str] = field(default_factory=list)
    closed_at: datetime | None = None
    closed_by: str | None = None
    state_reason: str | None = None
    pull: Pull | None = None


@dataclass
class CommentRecord:
    """An issue comment."""

    id: int
    issue: int
    author: str
    body: str
    created_at: datetime
    updated_at: datetime
    #: (user, content) of each reaction, e.g. ("coordinator-bot", "+1").
    reactions: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class EventRecord:
    """An issue event (labeled, unlabeled, closed, reopened, ...)."""

    id: int
    issue: int
    event: str
    actor: str
    created_at: datetime
    label: str | None = None


@dataclass
class Repository:
    """One repository of the fake."""

    id: int
    owner: str
    name: str
    default_branch: str = "main"
    private: bool = False
    issues: dict[int, IssueRecord] = field(default_factory=dict)
    comments: dict[int, CommentRecord] = field(default_factory=dict)
    events: list[EventRecord] = field(default_factory=list)
    labels: dict[str, Label] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)  # login (lower case) → role_name

    @property
    def full_name(self) -> str:
        """``owner/name``."""
        return f"{self.owner}/{self.name}"


def iso(moment: datetime | None) -> str | None:
    """GitHub's time format: UTC, whole seconds, ``Z``."""
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def node_id(kind: str, number: int) -> str:
    """A node id shaped like GitHub's legacy ones (base64 of a type and a number)."""
    return base64.b64encode(f"0{len(kind)}:{kind}{number}".encode()).decode()


def decode_node_id(value: str) -> tuple[str, int] | None:
    """The (kind, number) a :func:`node_id` was made of, or None for anything else."""
    try:
        text = base64.b64decode(value.encode(), validate=True).decode()
    except (ValueError, UnicodeError):
        return None
    found = re.fullmatch(r"0(\d+):([A-Za-z]+?)(\d+)", text)
    if found is None or len(found[2]) != int(found[1]):
        return None
    return found[2], int(found[3])


def user_id(login: str) -> int:
    """A stable numeric id per login."""
    return zlib.crc32(login.lower().encode()) % 10_000_000 + 1


class Render:
    """JSON of the fake's records; ``api`` is the API root (``http://127.0.0.1:PORT[/api/v3]``), ``web`` the
    root of ``html_url`` links."""

    def __init__(self, api: str, web: str, heads: Callable[[str], str] | None = None) -> None:
        self.api = api
        self.web = web
        #: The commit a branch points at (the fake's git remote, when it has one), for ``head.sha``.
        self.heads = heads

    def user(self, login: str) -> dict[str, Any]:
        """A simple-user object."""
        bot = login.endswith("[bot]")
        return {
            "login": login,
            "id": user_id(login),
            "node_id": node_id("User", user_id(login)),
            "avatar_url": f"{self.web}/avatars/{login}",
            "gravatar_id": "",
            "url": f"{self.api}/users/{login}",
            "html_url": f"{self.web}/{login}",
            "type": "Bot" if bot else "User",
            "site_admin": False,
        }

    def label(self, repo: Repository, label: Label) -> dict[str, Any]:
        """A label object."""
        return {
            "id": label.id,
            "node_id": node_id("Label", label.id),
            "url": f"{self.api}/repos/{repo.full_name}/labels/{label.name}",
            "name": label.name,
            "description": label.description,
            "color": label.color,
            "default": False,
        }

    def issue(self, repo: Repository, issue: IssueRecord, association: str) -> dict[str, Any]:
        """An issue object (a pull request's issue carries ``pull_request``)."""
        base = f"{self.api}/repos/{repo.full_name}/issues/{issue.number}"
        kind = "pull" if issue.pull else "issues"
        data: dict[str, Any] = {
            "id": issue.id,
            "node_id": node_id("Issue", issue.id),
            "url": base,
            "repository_url": f"{self.api}/repos/{repo.full_name}",
            "labels_url": base + "/labels{/name}",
            "comments_url": base + "/comments",
            "events_url": base + "/events",
            "html_url": f"{self.web}/{repo.full_name}/{kind}/{issue.number}",
            "number": issue.number,
            "state": issue.state,
            "title": issue.title,
            "body": issue.body,
            "user": self.user(issue.author),
            "labels": [self.label(repo, repo.labels[name]) for name in issue.labels],
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "locked": False,
            "active_lock_reason": None,
            "comments": sum(1 for c in repo.comments.values() if c.issue == issue.number),
            "closed_at": iso(issue.closed_at),
            "created_at": iso(issue.created_at),
            "updated_at": iso(issue.updated_at),
            "closed_by": self.user(issue.closed_by) if issue.closed_by else None,
            "author_association": association,
            "state_reason": issue.state_reason,
        }
        if issue.pull:
            data["pull_request"] = {
                "url": f"{self.api}/repos/{repo.full_name}/pulls/{issue.number}",
                "html_url": f"{self.web}/{repo.full_name}/pull/{issue.number}",
                "diff_url": f"{self.web}/{repo.full_name}/pull/{issue.number}.diff",
                "patch_url": f"{self.web}/{repo.full_name}/pull/{issue.number}.patch",
                "merged_at": iso(issue.pull.merged_at),
            }
        return data

    def comment(self, repo: Repository, comment: CommentRecord, association: str) -> dict[str, Any]:
        """An issue-comment object."""
        return {
            "id": comment.id,
            "node_id": node_id("IssueComment", comment.id),
            "url": f"{self.api}/repos/{repo.full_name}/issues/comments/{comment.id}",
            "html_url": f"{self.web}/{repo.full_name}/issues/{comment.issue}#issuecomment-{comment.id}",
            "body": comment.body,
            "user": self.user(comment.author),
            "created_at": iso(comment.created_at),
            "updated_at": iso(comment.updated_at),
            "issue_url": f"{self.api}/repos/{repo.full_name}/issues/{comment.issue}",
            "author_association": association,
        }

    def event(self, repo: Repository, event: EventRecord) -> dict[str, Any]:
        """An issue-event object (``label`` carries only name and color, as GitHub sends it)."""
        data: dict[str, Any] = {
            "id": event.id,
            "node_id": node_id("IssueEvent", event.id),
            "url": f"{self.api}/repos/{repo.full_name}/issues/events/{event.id}",
            "actor": self.user(event.actor),
            "event": event.event,
            "commit_id": None,
            "commit_url": None,
            "created_at": iso(event.created_at),
            "performed_via_github_app": None,
        }
        if event.label is not None:
            known = repo.labels.get(event.label)
            data["label"] = {"name": event.label, "color": known.color if known else "ededed"}
        return data

    def permission(self, login: str, role: str) -> dict[str, Any]:
        """The collaborator-permission answer."""
        return {"permission": LEGACY_PERMISSION.get(role, "none"), "role_name": role, "user": self.user(login)}

    def repository(self, repo: Repository) -> dict[str, Any]:
        """A repository object (the fields coordinator and PyGithub read, named as GitHub names them)."""
        base = f"{self.api}/repos/{repo.full_name}"
        return {
            "id": repo.id,
            "node_id": node_id("Repository", repo.id),
            "name": repo.name,
            "full_name": repo.full_name,
            "owner": self.user(repo.owner),
            "private": repo.private,
            "html_url": f"{self.web}/{repo.full_name}",
            "description": None,
            "fork": False,
            "url": base,
            "issues_url": base + "/issues{/number}",
            "pulls_url": base + "/pulls{/number}",
            "labels_url": base + "/labels{/name}",
            "clone_url": f"{self.web}/{repo.full_name}.git",
            "default_branch": repo.default_branch,
            "visibility": "private" if repo.private else "public",
            "has_issues": True,
            "archived": False,
            "disabled": False,
            "permissions": {"admin": False, "maintain": False, "push": True, "triage": True, "pull": True},
        }

    def pull(self, repo: Repository, issue: IssueRecord, association: str) -> dict[str, Any]:
        """A pull-request object."""
        assert issue.pull is not None
        pull = issue.pull
        base = f"{self.api}/repos/{repo.full_name}/pulls/{issue.number}"
        html = f"{self.web}/{repo.full_name}/pull/{issue.number}"
        issue_url = f"{self.api}/repos/{repo.full_name}/issues/{issue.number}"
        return {
            "url": base,
            "id": issue.id,
            "node_id": node_id("PullRequest", issue.id),
            "html_url": html,
            "diff_url": html + ".diff",
            "patch_url": html + ".patch",
            "issue_url": issue_url,
            "commits_url": base + "/commits",
            "comments_url": issue_url + "/comments",
            "number": issue.number,
            "state": issue.state,
            "locked": False,
            "title": issue.title,
            "user": self.user(issue.author),
            "body": issue.body,
            "labels": [self.label(repo, repo.labels[name]) for name in issue.labels],
            "milestone": None,
            "active_lock_reason": None,
            "created_at": iso(issue.created_at),
            "updated_at": iso(issue.updated_at),
            "closed_at": iso(issue.closed_at),
            "merged_at": iso(pull.merged_at),
            "merge_commit_sha": None,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [self.user(login) for login in pull.requested_reviewers],
            "requested_teams": [],
            "head": self._ref(repo, pull.head_owner, pull.head_ref),
            "base": self._ref(repo, repo.owner, pull.base_ref),
            "_links": {
                "self": {"href": base},
                "html": {"href": html},
                "issue": {"href": issue_url},
                "comments": {"href": issue_url + "/comments"},
            },
            "author_association": association,
            "auto_merge": None,
            "draft": pull.draft,
        }

    def _ref(self, repo: Repository, owner: str, ref: str) -> dict[str, Any]:
        return {
            "label": f"{owner}:{ref}",
            "ref": ref,
            "sha": self.heads(ref) if self.heads is not None else "0" * 40,
            "user": self.user(owner),
            "repo": {
                "id": repo.id,
                "node_id": node_id("Repository", repo.id),
                "name": repo.name,
                "full_name": repo.full_name,
                "owner": self.user(repo.owner),
                "private": repo.private,
                "html_url": f"{self.web}/{repo.full_name}",
                "url": f"{self.api}/repos/{repo.full_name}",
                "default_branch": repo.default_branch,
            },
        }
