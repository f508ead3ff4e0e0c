"""The routes of the fake GitHub (:mod:`tests.fakes.github_server`): one function per REST endpoint, with GitHub's
validation rules and error messages where coordinator meets them."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.fakes.github_json import Label, Repository, iso

if TYPE_CHECKING:
    from tests.fakes.github_server import FakeGitHub

DOCS = "https://docs.github.com/rest"
MAX_BODY = 65_536
TOO_LONG = f"Body is too long (maximum is {MAX_BODY} characters)"


@dataclass
class Reply:
    """An answer: status, JSON body, extra headers."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class Answer(Exception):
    """A GitHub error answer, raised by a route."""

    def __init__(self, status: int, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"message": message, "documentation_url": DOCS}
        if errors is not None:
            self.body["errors"] = errors


@dataclass(frozen=True)
class Request:
    """What a route gets: the canonical path, its named parts, the query and the parsed JSON body."""

    path: str
    params: Mapping[str, str]
    query: Mapping[str, str]
    body: Any


def invalid(resource: str, message: str, field_name: str = "", code: str = "custom") -> Answer:
    """GitHub's 422 ``Validation Failed`` with one error."""
    error: dict[str, Any] = {"resource": resource, "code": code, "message": message}
    if field_name:
        error["field"] = field_name
    return Answer(422, "Validation Failed", [error])


def _text_field(body: Any, key: str) -> str:
    if not isinstance(body, dict) or not isinstance(body.get(key), str):
        raise Answer(422, f'Invalid request.\n\n"{key}" wasn\'t supplied.')
    return str(body[key])


def get_repository(fake: FakeGitHub, repo: Repository, request: Request) -> Reply:
    """``GET /repos/{o}/{r}``."""
    return Reply(200, fake._render.repository(repo))


def get_issue(fake: FakeGitHub, repo: Repository, request: Request) -> Reply:
    """``GET /repos/{o}/{r}/issues/{n}``."""
    number = int(request.params["number"])
    return Reply(200, fake._render.issue(repo, fake._issue(repo, number), fake._association(repo, number)))


def list_events(fake: FakeGitHub, repo: Repository, request: Request) -> Reply:
    """``GET /repos/{o}/{r}/issues/{n}/events`` (paged)."""
    number = fake._issue(repo, int(request.params["number"])).number
    items = [fake._render.event(repo, e) for e in repo.events if e.issue == number]
    return fake._page(repo, request.path, items, request.query)


def list_comments(fake: FakeGitHub, repo: Repository, request: Request) -> Reply:
    """``GET /repos/{o}/{r}/issues/{n}/comments`` (paged)."""
    number = fake._issue(repo, int(request.params["number"])).number
    items = [fake._render_comment(repo, c) for c in repo.comments.values() if c.issue == number]
    return fake._page(repo, request.path, items, request.query)


def create_comment(fake: FakeGitHub, repo: Repository, request: Request) -> Reply:
    """``POST /repos/{o}/{r}/issues/{n}/comments``: the token's user comments."""
    issue = fake._issue(repo, int(request.params["number"]))
    text = _text_field(request.body, "body")
    if len(text) > MAX_BODY:
        raise invalid("IssueComment", TOO_LONG, "data", "unprocessable")
    comment = fake._new_comment(repo, issue, text, fake.token_user)
    return Reply(201, fake._render_comment(repo, comment))


def edit_comment(fake: FakeGitHub, repo: Repository, request: Request) -> Reply:
    """``PATCH /repos/{o}/{r}/issues/comments/{id}``."""
    comment = repo.comments.get(int(request.params["comment_id"]))
    if comment is None:
        raise Answer(404, "Not Found")
    text = _text_field(request.body, "body")
    if len(text) > MAX_BODY:
        raise invalid("IssueComment", TOO_LONG, "data", "unprocessable")
    comment.body = text
    comment.updated_at = fake._clock()
    return Reply(200, fake._render_comment(repo, comment))


REACTIONS = frozenset({"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"})


def get_comment(fake: FakeGitHub, repo: Repository, request: Request) -> Reply:
    """``GET /repos/{o}/{r}/issues/comments/{id}``."""
    comment = repo.comments.get(int(request.params["comment_id"]))
    if comment is None:
        raise Answer(404, "Not Found")
    return Reply(200, fake._render_comment(repo, comment))


def delete_comment(fake: FakeGitHub, repo: Repository, request: Request) -> Reply:
    """``DELETE /repos/{o}/{r}/issues/comments/{id}``."""
    if repo.comments.pop(int(request.params["comment_id"]), None) is None:
        raise Answer(404, "Not Found")
    return Reply(204, None)


def add_reaction(fake: FakeGitHub, repo: Repository, request: Request) -> Reply:
    """``POST /repos/{o}/{r}/issues/comments/{id}/reactions``: 201 for a new reaction, 200 when the token's user
    had reacted so already (GitHub's answers)."""
    comment = repo.comments.get(int(request.params["comment_id"]))
    if comment is None:
        raise Answer(404, "Not Found")
    content = request.body.get("content") if isinstance(request.body, dict) else None
    if content not in REACTIONS:
        raise invalid("Reaction", "content is not a valid reaction", "content", "invalid")
    mine = (fake.token_user, str(content))
    status = 200 if mine in comment.reactions else 201
    if status == 201:
        comment.reactions.append(mine)
    reaction = {
        "id": fake._new_id(),
        "node_id": "REA_fake",
        "user": fake._render.user(fake.token_user),
        "content": content,
        "created_at": iso(fake._clock()),
    }
    return Reply(status, reaction)


def _label_names(body: Any) -> list[str]:
    """``{"labels": [...]}`` or a bare list (PyGithub sends that), of names or ``{"name": ...}`` objects."""
    items = body.get("labels") if isinstance(body, dict) else body
    if not isinstance(items, list):
        raise Answer(422, "Invalid request.\n\nFor 'links/0/schema', nil is not an array.")
    names = [item.get("name") if isinstance(item, dict) else item for item in items]
    if not all(isinstance(name, str) and name.strip() for name in names):
        raise invalid("Label", "Label names must be non-empty strings", "name", "invalid")
    return [str(name) for name in names]


def set_labels(fake: FakeGitHub, repo: Repository, request: Request) -> Reply:
    """``PUT /repos/{o}/{r}/issues/{n}/labels``: replace the labels (events by the token's user)."""
    issue = fake._issue(repo, int(request.params["number"]))
    wanted = list(dict.fromkeys(_label_names(request.body)))
    for name in [n for n in issue.labels if n not in wanted]:
        fake._remove_label(repo, issue, name, fake.token_user)
    for name in wanted:
        fake._add_label(repo, issue, name, fake.token_user)
    return Reply(200, [fake._render.label(repo, repo.labels[name]) for name in issue.labels])


def add_labels(fake: FakeGitHub, repo: Repository, request: Request) -> Reply:
    """``POST /repos/{o}/{r}/issues/{n}/labels``: add labels (events by the token's user); all labels after."""
    issue = fake._issue(repo, int(request.params["number"]))
    for name in dict.fromkeys(_label_names(request.body)):
        fake._add_label(repo, issue, name, fake.token_user)
    return Reply(200, [fake._render.label(repo, repo.labels[name]) for name in issue.labels])


def remove_label(fake: FakeGitHub, repo: Repository, request: Request) -> Reply:
    """``DELETE /repos/{o}/{r}/issues/{n}/labels/{name}``: 404 ``Label does not exist`` when it is not on it."""
    issue = fake._issue(repo, int(request.params["number"]))
    name = request.params["label"]
    if name not in issue.labels:
        raise Answer(404, "Label does not exist")
    fake._remove_label(repo, issue, name, fake.token_user)
    return Reply(200, [fake._render.label(repo, repo.labels[n]) for n in issue.labels])


def create_label(fake: FakeGitHub, repo: Repository, request: Request) -> Reply:
    """``POST /repos/{o}/{r}/labels`` ``{name, color, description}``: 201 with the label; 422 when a label of that
    name exists (names are unique regardless of case), the color is not six hex digits or a field is missing."""
    body = request.body if isinstance(request.body, dict) else {}
    name, color, description = body.get("name"), body.get("color", "ededed"), body.get("description")
    if not isinstance(name, str) or not name.strip():
        raise Answer(422, "Validation Failed", [{"resource": "Label", "code": "missing_field", "field": "name"}])
    if any(known.lower() == name.lower() for known in repo.labels):
        raise Answer(422, "Validation Failed", [{"resource": "Label", "code": "already_exists", "field": "name"}])
    color = color.removeprefix("#") if isinstance(color, str) else ""
    if not re.fullmatch(r"[0-9a-fA-F]{6}", color):
        raise Answer(422, "Validation Failed", [{"resource": "Label", "code": "invalid", "field": "color"}])
    if description is not None and (not isinstance(description, str) or len(description) > 100):
        raise Answer(422, "Validation Failed", [{"resource": "Label", "code": "invalid", "field": "description"}])
    label = Label(fake._new_id(), name, color.lower(), description)
    repo.labels[name] = label
    return Reply(201, fake._render.label(repo, label))


def get_label(fake: FakeGitHub, repo: Repository, request: Request) -> Reply:
    """``GET /repos/{o}/{r}/labels/{name}``: the label (names match regardless of case); 404 when there is none."""
    name = request.params["label"].lower()
    found = next((label for known, label in repo.labels.items() if known.lower() == name), None)
    if found is None:
        raise Answer(404, "Not Found")
    return Reply(200, fake._render.label(repo, found))


def permission(fake: FakeGitHub, repo: Repository, request: Request) -> Reply:
    """``GET /repos/{o}/{r}/collaborators/{user}/permission``: 404 for an account GitHub does not know."""
    login = request.params["user"]
    role = repo.roles.get(login.lower())
    if role is None:
        if login.lower() not in fake._known_users:
            raise Answer(404, "Not Found")
        role = "none" if repo.private else "read"
    return Reply(200, fake._render.permission(login, role))


def list_pulls(fake: FakeGitHub, repo: Repository, request: Request) -> Reply:
    """``GET /repos/{o}/{r}/pulls``: ``state`` (default open), ``head`` (only as ``owner:branch``: a bare
    branch is ignored, as GitHub ignores it), ``base``, ``sort`` created|updated, ``direction``; paged."""
    query = request.query
    state = query.get("state", "open")
    head = query.get("head", "")
    pulls = [i for i in repo.issues.values() if i.pull is not None and state in {"all", i.state}]
    if ":" in head:
        owner, _, ref = head.partition(":")
        pulls = [i for i in pulls if i.pull and (i.pull.head_owner.lower(), i.pull.head_ref) == (owner.lower(), ref)]
    if "base" in query:
        pulls = [i for i in pulls if i.pull and i.pull.base_ref == query["base"]]
    sort = query.get("sort", "created")
    direction = query.get("direction", "desc" if sort == "created" else "asc")
    pulls.sort(key=lambda i: (i.updated_at if sort == "updated" else i.created_at, i.number))
    if direction == "desc":
        pulls.reverse()
    items = [fake._render.pull(repo, i, fake._author_association(repo, i.author)) for i in pulls]
    return fake._page(repo, request.path, items, query)


def create_pull(fake: FakeGitHub, repo: Repository, request: Request) -> Reply:
    """``POST /repos/{o}/{r}/pulls``: one open pull request per head and base; GitHub's 422s otherwise."""
    body = request.body
    title, head, base = (_text_field(body, key) for key in ("title", "head", "base"))
    text = body.get("body") if isinstance(body.get("body"), str) else ""
    owner, _, ref = head.rpartition(":")
    label = f"{owner or repo.owner}:{ref}"
    if len(text) > MAX_BODY:
        raise invalid("PullRequest", TOO_LONG.replace("Body", "body"), "body")
    if (owner or repo.owner).lower() == repo.owner.lower() and ref == base:
        raise invalid("PullRequest", f"No commits between {base} and {ref}")
    for issue in repo.issues.values():
        pull = issue.pull
        same_head = pull is not None and f"{pull.head_owner}:{pull.head_ref}".lower() == label.lower()
        if pull and same_head and issue.state == "open" and pull.base_ref == base:
            raise invalid("PullRequest", f"A pull request already exists for {label}.")
    issue = fake._new_pull(repo, label, base, title, text, body.get("draft") is True, None)
    return Reply(201, fake._render.pull(repo, issue, fake._author_association(repo, issue.author)))


def request_reviewers(fake: FakeGitHub, repo: Repository, request: Request) -> Reply:
    """``POST /repos/{o}/{r}/pulls/{n}/requested_reviewers``: collaborators only, never the author."""
    issue = fake._issue(repo, int(request.params["number"]))
    if issue.pull is None:
        raise Answer(404, "Not Found")
    wanted = request.body.get("reviewers") if isinstance(request.body, dict) else None
    if not isinstance(wanted, list) or not all(isinstance(w, str) for w in wanted):
        raise Answer(422, 'Invalid request.\n\n"reviewers" wasn\'t supplied.')
    for login in wanted:
        if login.lower() == issue.author.lower():
            raise Answer(422, "Review cannot be requested from pull request author.")
        if login.lower() not in repo.roles:
            raise Answer(
                422,
                "Reviews may only be requested from collaborators. One or more of the users or teams you specified "
                f"is not a collaborator of the {repo.full_name} repository.",
            )
    for login in wanted:
        if login.lower() not in {r.lower() for r in issue.pull.requested_reviewers}:
            issue.pull.requested_reviewers.append(login)
    return Reply(201, fake._render.pull(repo, issue, fake._author_association(repo, issue.author)))


_REPO = r"/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)"

#: (method, path pattern, route), tried in order.
ROUTES: list[tuple[str, str, Callable[[FakeGitHub, Repository, Request], Reply]]] = [
    ("GET", _REPO, get_repository),
    ("GET", _REPO + r"/issues/(?P<number>\d+)", get_issue),
    ("GET", _REPO + r"/issues/(?P<number>\d+)/events", list_events),
    ("GET", _REPO + r"/issues/(?P<number>\d+)/comments", list_comments),
    ("POST", _REPO + r"/issues/(?P<number>\d+)/comments", create_comment),
    ("PATCH", _REPO + r"/issues/comments/(?P<comment_id>\d+)", edit_comment),
    ("GET", _REPO + r"/issues/comments/(?P<comment_id>\d+)", get_comment),
    ("DELETE", _REPO + r"/issues/comments/(?P<comment_id>\d+)", delete_comment),
    ("POST", _REPO + r"/issues/comments/(?P<comment_id>\d+)/reactions", add_reaction),
    ("PUT", _REPO + r"/issues/(?P<number>\d+)/labels", set_labels),
    ("POST", _REPO + r"/issues/(?P<number>\d+)/labels", add_labels),
    ("DELETE", _REPO + r"/issues/(?P<number>\d+)/labels/(?P<label>[^/]+)", remove_label),
    ("POST", _REPO + r"/labels", create_label),
    ("GET", _REPO + r"/labels/(?P<label>[^/]+)", get_label),
    ("GET", _REPO + r"/collaborators/(?P<user>[^/]+)/permission", permission),
    ("GET", _REPO + r"/pulls", list_pulls),
    ("POST", _REPO + r"/pulls", create_pull),
    ("POST", _REPO + r"/pulls/(?P<number>\d+)/requested_reviewers", request_reviewers),
]
