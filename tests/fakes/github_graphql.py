"""``POST /graphql`` of the fake GitHub (:mod:`tests.fakes.github_server`): every document is parsed and validated
against GitHub's real public schema (``tests/fixtures/github/graphql-schema.graphql.gz``), then executed by
graphql-core over the fake's records, so REST and GraphQL see the same issues, comments and labels.

Answers have GitHub's shapes: ``200 {"data": ...}``; a document that fails validation ``200 {"errors": [...]}``
without data; a field that fails is null with ``{"type", "path", "locations", "message"}`` in ``errors`` while
the other top-level mutation fields still run (GitHub runs them one after another and undoes none).

What resolves: ``repository(owner, name)`` (``id``, names, ``labels(query:)``, ``label(name:)``,
``issue(number:)``), ``node(id:)``, ``viewer``, issues (``labels``, ``comments``), comments, labels, and the
mutations ``addComment``, ``updateIssueComment``, ``addLabelsToLabelable``, ``removeLabelsFromLabelable``.
Any other field answers an error saying the fake does not implement it.
"""

from __future__ import annotations

import base64
import functools
import gzip
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graphql import (
    GraphQLError,
    GraphQLResolveInfo,
    GraphQLSchema,
    build_schema,
    default_field_resolver,
    execute_sync,
    parse,
    validate,
    validate_schema,
)

from tests.fakes.github_json import (
    CommentRecord,
    IssueRecord,
    Label,
    Repository,
    decode_node_id,
    iso,
    node_id,
    user_id,
)
from tests.fakes.github_routes import MAX_BODY, TOO_LONG, Reply

if TYPE_CHECKING:
    from tests.fakes.github_server import FakeGitHub

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "github" / "graphql-schema.graphql.gz"
#: Connections GitHub pages answer at most this many nodes per request.
MAX_PAGE = 100

Object = dict[str, Any]


class Problem(Exception):
    """A GitHub field error: ``type`` (NOT_FOUND, UNPROCESSABLE, ...) and message; the field answers null."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@functools.cache
def github_schema() -> GraphQLSchema:
    """GitHub's public schema, built once per process (about a second)."""
    # GitHub's schema defines a few fields twice, which graphql-core's SDL check refuses: skip that check.
    schema = build_schema(gzip.decompress(SCHEMA_FILE.read_bytes()).decode(), assume_valid_sdl=True)
    # ... and some types deprecate a field their interface does not deprecate (Project.id of Node), which
    # graphql-core >= 3.3 counts as invalid. Accept exactly that; anything else is a broken fixture.
    unexpected = [e.message for e in validate_schema(schema) if "must not be deprecated" not in e.message]
    if unexpected:
        raise RuntimeError(f"{SCHEMA_FILE.name} is not a usable schema: {unexpected[:3]}")
    schema._validation_errors = []  # validate() and execute() trust a schema whose errors are cached
    return schema


def serve(fake: FakeGitHub, body: Any) -> Reply:
    """Answer one ``POST /graphql`` body (``{"query", "variables", "operationName"}``); the caller holds the
    fake's lock, so a document runs as one step against the records."""
    headers = {"X-RateLimit-Resource": "graphql"}
    if fake._graphql_rate_limited > 0:
        fake._graphql_rate_limited -= 1
        limited = {"type": "RATE_LIMITED", "message": "API rate limit exceeded for user ID 1."}
        reset = str(int(time.time()) + 60)
        return Reply(200, {"errors": [limited]}, headers | {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset})
    query = body.get("query") if isinstance(body, dict) else None
    if not isinstance(query, str):
        missing = {"message": "A query attribute must be specified and must be a string."}
        return Reply(200, {"errors": [missing]}, headers)
    variables = body.get("variables")
    try:
        document = parse(query)
    except GraphQLError as error:
        return Reply(200, {"errors": [_error(error)]}, headers)
    schema = github_schema()
    invalid = validate(schema, document)
    if invalid:
        return Reply(200, {"errors": [_error(e) for e in invalid]}, headers)
    result = execute_sync(
        schema,
        document,
        root_value=_root(fake),
        context_value=fake,
        variable_values=variables if isinstance(variables, dict) else None,
        operation_name=body.get("operationName"),
        field_resolver=_strict_resolver,
    )
    answer: dict[str, Any] = {} if result.data is None else {"data": result.data}
    if result.errors:
        answer["errors"] = [_error(e) for e in result.errors]
    return Reply(200, answer, headers)


def _error(error: GraphQLError) -> dict[str, Any]:
    """GitHub's error shape: ``type`` first for its own errors, no empty ``extensions``."""
    formatted = dict(error.formatted)
    formatted.pop("extensions", None)
    if isinstance(error.original_error, Problem):
        return {"type": error.original_error.kind, **{k: formatted[k] for k in ("path", "locations", "message")}}
    return formatted


def _strict_resolver(source: Any, info: GraphQLResolveInfo[Any], **args: Any) -> Any:
    """Read the field from the object's dict (calling it when it is a function of the arguments); a field the
    fake has no value for is an error rather than a silent null."""
    if isinstance(source, Mapping) and info.field_name not in source:
        raise GraphQLError(f"The fake GitHub does not implement {info.parent_type.name}.{info.field_name}.")
    return default_field_resolver(source, info, **args)


# -- the roots ---------------------------------------------------------------------------------------------------


def _root(fake: FakeGitHub) -> Object:
    """Query and mutation fields (their names do not overlap), each a function of ``(info, **arguments)``."""
    return {
        "repository": lambda info, owner, name, **_: _repository(fake, _find_repository(fake, owner, name)),
        "node": lambda info, id: _node_or_problem(fake, id),
        "viewer": lambda info: _actor(fake.token_user),
        "addComment": lambda info, input: _add_comment(fake, input),
        "updateIssueComment": lambda info, input: _update_comment(fake, input),
        "addLabelsToLabelable": lambda info, input: _change_labels(fake, input, add=True),
        "removeLabelsFromLabelable": lambda info, input: _change_labels(fake, input, add=False),
    }


def _add_comment(fake: FakeGitHub, given: Mapping[str, Any]) -> Object:
    repo, issue = _issue_by_id(fake, given["subjectId"])
    comment = fake._new_comment(repo, issue, _checked_body(given["body"]), fake.token_user)
    edge = {"cursor": _cursor(len([c for c in repo.comments.values() if c.issue == issue.number]) - 1)}
    made = _comment(fake, repo, comment)
    return {
        "clientMutationId": given.get("clientMutationId"),
        "commentEdge": edge | {"node": made},
        "timelineEdge": edge | {"node": made},
        "subject": _issue(fake, repo, issue),
    }


def _update_comment(fake: FakeGitHub, given: Mapping[str, Any]) -> Object:
    found = _record(fake, given["id"], "IssueComment")
    if found is None:
        raise _not_found(given["id"])
    repo, comment = found
    assert isinstance(comment, CommentRecord)
    comment.body = _checked_body(given["body"])
    comment.updated_at = fake._clock()
    return {"clientMutationId": given.get("clientMutationId"), "issueComment": _comment(fake, repo, comment)}


def _change_labels(fake: FakeGitHub, given: Mapping[str, Any], *, add: bool) -> Object:
    """Add or remove labels as the token's user (``labeled``/``unlabeled`` events; nothing for a label already
    on, or not on, the issue). Every id is resolved before anything changes."""
    repo, issue = _issue_by_id(fake, given["labelableId"])
    by_id = {label.id: label for label in repo.labels.values()}
    labels: list[Label] = []
    for label_id in given["labelIds"]:
        decoded = decode_node_id(label_id)
        if decoded is None or decoded[0] != "Label" or decoded[1] not in by_id:
            raise _not_found(label_id)
        labels.append(by_id[decoded[1]])
    for label in labels:
        change = fake._add_label if add else fake._remove_label
        change(repo, issue, label.name, fake.token_user)
    return {"clientMutationId": given.get("clientMutationId"), "labelable": _issue(fake, repo, issue)}


def _checked_body(text: str) -> str:
    if not text.strip():
        raise Problem("UNPROCESSABLE", "Body can't be blank")
    if len(text) > MAX_BODY:
        raise Problem("UNPROCESSABLE", TOO_LONG)
    return text


# -- finding records by node id ----------------------------------------------------------------------------------


def _not_found(given: str) -> Problem:
    return Problem("NOT_FOUND", f"Could not resolve to a node with the global id of '{given}'.")


def _find_repository(fake: FakeGitHub, owner: str, name: str) -> Repository:
    repo = fake._repos.get(f"{owner}/{name}".lower())
    if repo is None:
        raise Problem("NOT_FOUND", f"Could not resolve to a Repository with the name '{owner}/{name}'.")
    return repo


def _record(fake: FakeGitHub, given: str, *kinds: str) -> tuple[Repository, Any] | None:
    """The repository and record a node id of one of ``kinds`` names, or None."""
    decoded = decode_node_id(given)
    if decoded is None or decoded[0] not in kinds:
        return None
    kind, number = decoded
    for repo in fake._repos.values():
        if kind == "Repository" and repo.id == number:
            return repo, repo
        if kind == "IssueComment" and number in repo.comments:
            return repo, repo.comments[number]
        if kind == "Label":
            label = next((label for label in repo.labels.values() if label.id == number), None)
            if label is not None:
                return repo, label
        if kind in {"Issue", "PullRequest"}:
            issue = next((i for i in repo.issues.values() if i.id == number), None)
            if issue is not None and (kind == "Issue" or issue.pull is not None):
                return repo, issue
    return None


def _issue_by_id(fake: FakeGitHub, given: str) -> tuple[Repository, IssueRecord]:
    found = _record(fake, given, "Issue", "PullRequest")
    if found is None:
        raise _not_found(given)
    return found


def _node_or_problem(fake: FakeGitHub, given: str) -> Object:
    found = _record(fake, given, "Repository", "IssueComment", "Label", "Issue", "PullRequest")
    if found is None:
        raise _not_found(given)
    repo, record = found
    render: dict[type, Callable[[], Object]] = {
        Repository: lambda: _repository(fake, repo),
        CommentRecord: lambda: _comment(fake, repo, record),
        Label: lambda: _label(fake, repo, record),
        IssueRecord: lambda: _issue(fake, repo, record),
    }
    return render[type(record)]()


# -- objects (dicts whose functions graphql-core calls with the field's arguments) -------------------------------


def _actor(login: str) -> Object:
    """A User, or a Bot for ``name[bot]`` (whose GraphQL login drops the ``[bot]`` that REST shows)."""
    kind = "Bot" if login.endswith("[bot]") else "User"
    return {"__typename": kind, "id": node_id(kind, user_id(login)), "login": login.removesuffix("[bot]")}


def _repository(fake: FakeGitHub, repo: Repository) -> Object:
    def labels(info: object, query: str | None = None, **page: Any) -> Object:
        wanted = (query or "").lower()
        kept = [
            label
            for label in repo.labels.values()
            if wanted in label.name.lower() or wanted in (label.description or "").lower()
        ]
        return _connection([_label(fake, repo, label) for label in kept], page, "labels")

    def label(info: object, name: str) -> Object | None:
        found = next((k for k in repo.labels.values() if k.name.lower() == name.lower()), None)
        return None if found is None else _label(fake, repo, found)

    def issue(info: object, number: int) -> Object:
        if number not in repo.issues or repo.issues[number].pull is not None:
            raise Problem("NOT_FOUND", f"Could not resolve to an Issue with the number of {number}.")
        return _issue(fake, repo, repo.issues[number])

    return {
        "__typename": "Repository",
        "id": node_id("Repository", repo.id),
        "databaseId": repo.id,
        "name": repo.name,
        "nameWithOwner": repo.full_name,
        "owner": _actor(repo.owner) | {"__typename": "User"},
        "url": f"{fake.origin}/{repo.full_name}",
        "isPrivate": repo.private,
        "labels": labels,
        "label": label,
        "issue": issue,
    }


def _issue(fake: FakeGitHub, repo: Repository, issue: IssueRecord) -> Object:
    kind = "PullRequest" if issue.pull is not None else "Issue"

    def labels(info: object, **page: Any) -> Object:
        return _connection([_label(fake, repo, repo.labels[name]) for name in issue.labels], page, "labels")

    def comments(info: object, **page: Any) -> Object:
        made = [_comment(fake, repo, c) for c in repo.comments.values() if c.issue == issue.number]
        return _connection(made, page, "comments")

    return {
        "__typename": kind,
        "id": node_id(kind, issue.id),
        "databaseId": issue.id,
        "number": issue.number,
        "title": issue.title,
        "body": issue.body or "",
        "url": fake._render.issue(repo, issue, "NONE")["html_url"],
        "state": issue.state.upper(),
        "closed": issue.state == "closed",
        "author": _actor(issue.author),
        "createdAt": iso(issue.created_at),
        "updatedAt": iso(issue.updated_at),
        "repository": lambda info: _repository(fake, repo),
        "labels": labels,
        "comments": comments,
    }


def _comment(fake: FakeGitHub, repo: Repository, comment: CommentRecord) -> Object:
    rest = fake._render_comment(repo, comment)
    return {
        "__typename": "IssueComment",
        "id": rest["node_id"],
        "databaseId": comment.id,
        "fullDatabaseId": str(comment.id),
        "url": rest["html_url"],
        "body": comment.body,
        "author": _actor(comment.author),
        "authorAssociation": rest["author_association"],
        "viewerDidAuthor": comment.author.lower() == fake.token_user.lower(),
        "createdAt": rest["created_at"],
        "updatedAt": rest["updated_at"],
        "issue": lambda info: _issue(fake, repo, repo.issues[comment.issue]),
    }


def _label(fake: FakeGitHub, repo: Repository, label: Label) -> Object:
    return {
        "__typename": "Label",
        "id": node_id("Label", label.id),
        "name": label.name,
        "color": label.color,
        "description": label.description,
        "isDefault": False,
        "url": f"{fake.origin}/{repo.full_name}/labels/{label.name}",
        "repository": lambda info: _repository(fake, repo),
    }


def _cursor(index: int) -> str:
    return base64.b64encode(f"cursor:{index + 1}".encode()).decode()


def _position(cursor: str) -> int:
    try:
        return int(base64.b64decode(cursor).decode().removeprefix("cursor:"))
    except ValueError:
        raise Problem("INVALID_CURSOR_ARGUMENTS", f"`{cursor}` does not appear to be a valid cursor.") from None


def _connection(nodes: list[Object], page: Mapping[str, Any], name: str) -> Object:
    """A page of ``nodes`` as GitHub's connections page: ``first``/``last`` required (at most 100),
    ``after``/``before`` cursors."""
    first, last = page.get("first"), page.get("last")
    if first is None and last is None:
        message = f"You must provide a `first` or `last` value to properly paginate the `{name}` connection."
        raise Problem("MISSING_PAGINATION_BOUNDARIES", message)
    for bound, value in (("first", first), ("last", last)):
        if value is not None and value > MAX_PAGE:
            message = (
                f"Requesting {value} records on the `{name}` connection exceeds the `{bound}` limit of 100 records."
            )
            raise Problem("EXCESSIVE_PAGINATION", message)
    start = _position(page["after"]) if page.get("after") else 0
    end = _position(page["before"]) - 1 if page.get("before") else len(nodes)
    indexes = list(range(start, max(start, end)))
    indexes = indexes[: max(0, first)] if first is not None else indexes
    indexes = (indexes[-last:] if last > 0 else []) if last is not None else indexes
    return {
        "totalCount": len(nodes),
        "nodes": [nodes[i] for i in indexes],
        "edges": [{"cursor": _cursor(i), "node": nodes[i]} for i in indexes],
        "pageInfo": {
            "hasNextPage": bool(indexes) and indexes[-1] < len(nodes) - 1,
            "hasPreviousPage": bool(indexes) and indexes[0] > 0,
            "startCursor": _cursor(indexes[0]) if indexes else None,
            "endCursor": _cursor(indexes[-1]) if indexes else None,
        },
    }
