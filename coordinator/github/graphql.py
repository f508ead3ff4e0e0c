"""The few GraphQL requests coordinator sends to GitHub, sans I/O: the documents and the reading of the answers.

REST needs three requests to edit the tracking comment and move the status label (the edit, an add, a remove);
GitHub's GraphQL API runs several mutations of one document one after another, so the edit and the label change
are one request. That keeps a simple task's whole life within 8 requests with status labels on. GraphQL wants
node ids: the issue's comes with the event that made the task, the comment's with its creation, and the labels'
are learned from GitHub's answers to adding them by REST (the first time each is set) and kept in
``meta.json``.

Every answer is checked against what was asked: the labelled issue must be the task's issue (a node id on the
branch could have been edited to point elsewhere) and each label added must carry the name it was meant to.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from coordinator.github.api import Batch, Comment, GitHubError


class WrongIssue(GitHubError):
    """GitHub's answer is about another issue than the task's: the issue's node id kept on the branch is wrong."""


#: What a label change returns: the issue it changed and every label on it after.
_LABELLED = (
    "labelable { ... on Issue { number repository { nameWithOwner } labels(first: 100) { nodes { id name } } } }"
)
_COMMENTED = "id databaseId url issue { number repository { nameWithOwner } }"


def status_document(*, edit: bool, add: bool, remove: bool) -> str:
    """A mutation that edits the tracking comment (``edit``) and adds and removes labels, in that order."""
    variables, fields = ["$issue: ID!"], []
    if edit:
        variables += ["$comment: ID!", "$body: String!"]
        fields.append(
            f"edit: updateIssueComment(input: {{id: $comment, body: $body}}) {{ issueComment {{ {_COMMENTED} }} }}"
        )
    if add:
        variables.append("$add: [ID!]!")
        fields.append(f"add: addLabelsToLabelable(input: {{labelableId: $issue, labelIds: $add}}) {{ {_LABELLED} }}")
    if remove:
        variables.append("$remove: [ID!]!")
        fields.append(
            f"remove: removeLabelsFromLabelable(input: {{labelableId: $issue, labelIds: $remove}}) {{ {_LABELLED} }}"
        )
    if not (add or remove):
        raise ValueError("a status mutation changes labels (a comment edit alone is one REST request)")
    return f"mutation({', '.join(variables)}) {{ {' '.join(fields)} }}"


def create_document() -> str:
    """A mutation that creates the tracking comment and adds labels to the issue."""
    return (
        "mutation($issue: ID!, $body: String!, $add: [ID!]!) { "
        "comment: addComment(input: {subjectId: $issue, body: $body}) "
        f"{{ commentEdge {{ node {{ {_COMMENTED} }} }} }} "
        f"add: addLabelsToLabelable(input: {{labelableId: $issue, labelIds: $add}}) {{ {_LABELLED} }} }}"
    )


def errors_of(answer: Any, *, call: str) -> GitHubError | None:
    """The first error of a GraphQL answer as a :class:`GitHubError` (NOT_FOUND: status 404; RATE_LIMITED:
    transient), or None when it has none."""
    errors = answer.get("errors") if isinstance(answer, Mapping) else None
    if not errors:
        return None
    first = _first_error(answer)
    kind, message = str(first.get("type") or ""), str(first.get("message") or "an error without a message")
    more = f" (and {len(errors) - 1} more)" if isinstance(errors, list) and len(errors) > 1 else ""
    text = f"{call}: {message}{more}"
    if kind == "RATE_LIMITED":
        return GitHubError(f"{text}: the GraphQL rate limit is spent", status=403, transient=True)
    return GitHubError(text, status=404 if kind == "NOT_FOUND" else 422)


def _first_error(answer: Any) -> Mapping[str, Any]:
    """The first entry of a GraphQL answer's ``errors`` ({} when there is none that is an object)."""
    errors = answer.get("errors") if isinstance(answer, Mapping) else None
    first = errors[0] if isinstance(errors, list) and errors else None
    return first if isinstance(first, Mapping) else {}


def read_labels(field: Any, *, repository: str, issue: int, wanted: Mapping[str, str]) -> dict[str, str]:
    """The issue's labels (name → node id) from a label change's answer; refused when the change landed on another
    issue, or a label added under a name turned out to have another (``wanted``: name → the id sent)."""
    labelable = _object(_object(field, "answer").get("labelable"), "labelable")
    number, where = labelable.get("number"), _object(labelable.get("repository"), "repository").get("nameWithOwner")
    if number != issue or not isinstance(where, str) or where.lower() != repository.lower():
        raise WrongIssue(f"the node id kept for {repository}#{issue} names {where}#{number}: not used again")
    nodes = _object(labelable.get("labels"), "labels").get("nodes")
    if not isinstance(nodes, list):
        raise GitHubError("GitHub's answer has no list of labels")
    labels = {str(n.get("name")): str(n.get("id")) for n in nodes if isinstance(n, Mapping)}
    by_id = {node: name for name, node in labels.items()}
    wrong = [name for name, node in wanted.items() if node in by_id and by_id[node] != name]
    if wrong:
        raise GitHubError(f"the label ids kept for {repository} name other labels ({', '.join(wrong)}): not used again")
    return labels


def read_comment(field: Any, *, repository: str, issue: int) -> Comment:
    """The comment an ``addComment`` or ``updateIssueComment`` answer describes, checked to be on ``issue``."""
    node = _object(field, "comment")
    on = _object(node.get("issue"), "issue")
    where = _object(on.get("repository"), "repository").get("nameWithOwner")
    if on.get("number") != issue or not isinstance(where, str) or where.lower() != repository.lower():
        raise GitHubError(f"the comment node kept for {repository}#{issue} is on {where}#{on.get('number')}")
    database_id, url, node_id = node.get("databaseId"), node.get("url"), node.get("id")
    if not isinstance(database_id, int) or not isinstance(node_id, str):
        raise GitHubError("GitHub's answer has no comment id")
    return _comment(database_id, node_id, url if isinstance(url, str) else "", issue)


def _comment(database_id: int, node_id: str, url: str, issue: int) -> Comment:
    # The answer says nothing of times; nobody reads them from a comment just made or edited.
    never = datetime.fromtimestamp(0, UTC)
    return Comment(database_id, "", "", never, never, url, issue, node_id=node_id)


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise GitHubError(f"GitHub's answer has no {what} where one was expected")
    return value


#: Sends one GraphQL document with its variables; the answer's JSON (HTTP errors raise :class:`GitHubError`).
Post = Callable[[str, dict[str, Any]], Any]
_CALL = "POST /graphql"


def send_edit(
    post: Post,
    repository: str,
    issue: int,
    *,
    issue_node: str,
    comment: tuple[str, str] | None,
    add: Mapping[str, str],
    remove: Mapping[str, str],
) -> Batch:
    """Edit the comment and change the labels in one request. Any error fails the whole of it: every part is
    idempotent, so sending it all again is safe."""
    variables: dict[str, Any] = {"issue": issue_node}
    if comment is not None:
        variables.update(comment=comment[0], body=comment[1])
    if add:
        variables["add"] = sorted(add.values())
    if remove:
        variables["remove"] = sorted(remove.values())
    answer = post(status_document(edit=comment is not None, add=bool(add), remove=bool(remove)), variables)
    error = errors_of(answer, call=_CALL)
    if error is not None:
        return Batch(error=error, failed="comment" if _failed_field(answer) == "edit" else "labels")
    data = _object(_object(answer, "answer").get("data"), "data")
    if comment is not None:
        try:
            read_comment(_object(data.get("edit"), "edit").get("issueComment"), repository=repository, issue=issue)
        except GitHubError as exc:
            return Batch(error=exc, failed="comment")
    try:
        labels = read_labels(data.get("remove" if remove else "add"), repository=repository, issue=issue, wanted=add)
    except GitHubError as exc:
        return Batch(error=exc, failed="issue" if isinstance(exc, WrongIssue) else "labels")
    return Batch(labels=labels)


def _failed_field(answer: Any) -> str:
    """The alias of the field GraphQL's first error is about ("" when it does not say)."""
    path = _first_error(answer).get("path")
    return str(path[0]) if isinstance(path, list) and path else ""


def send_create(
    post: Post, repository: str, issue: int, *, issue_node: str, body: str, add: Mapping[str, str]
) -> Batch:
    """Create the comment and add labels in one request; the comment is returned also when the labels failed
    (it exists: it must never be made twice)."""
    answer = post(create_document(), {"issue": issue_node, "body": body, "add": sorted(add.values())})
    data = answer.get("data") if isinstance(answer, Mapping) else None
    made = data.get("comment") if isinstance(data, Mapping) else None
    comment = None
    if isinstance(made, Mapping):
        node = _object(made.get("commentEdge"), "commentEdge").get("node")
        try:
            comment = read_comment(node, repository=repository, issue=issue)
        except GitHubError as exc:  # made elsewhere (a node id edited on the branch): never edited as ours
            return Batch(error=exc, failed="issue")
    error = errors_of(answer, call=_CALL)
    if error is not None or not isinstance(data, Mapping):
        return Batch(
            comment=comment, error=error or GitHubError(f"{_CALL}: GitHub's answer has no data"), failed="labels"
        )
    try:
        labels = read_labels(data.get("add"), repository=repository, issue=issue, wanted=add)
    except GitHubError as exc:
        return Batch(comment=comment, error=exc, failed="issue" if isinstance(exc, WrongIssue) else "labels")
    return Batch(comment=comment, labels=labels)
