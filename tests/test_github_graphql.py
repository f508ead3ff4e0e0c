"""The GraphQL side of the GitHub adapter, sans I/O (:mod:`coordinator.github.graphql`): the documents, the
reading of GitHub's answers (which must name the task's issue and the labels meant), the errors, and what a
delivery pass records of the label ids it learned (``meta.json``)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from coordinator.core.transitions.github import DeliveryRecord, record_delivery
from coordinator.github.api import GitHubError
from coordinator.github.graphql import (
    create_document,
    errors_of,
    read_labels,
    send_create,
    send_edit,
    status_document,
)
from coordinator.models import Meta
from tests.core_helpers import apply
from tests.github_tasks import INGEST, IssueLife
from tests.github_tasks import REPO as LIFE_REPO

REPO = "octo/repo"
QUEUED, RUNNING = "LA_queued", "LA_running"


def labelled(number: int = 7, repo: str = REPO, **labels: str) -> dict[str, Any]:
    """A label mutation's answer: the issue it changed and its labels after."""
    nodes = [{"id": node, "name": name.replace("_", ":")} for name, node in labels.items()]
    return {"labelable": {"number": number, "repository": {"nameWithOwner": repo}, "labels": {"nodes": nodes}}}


def comment_node(number: int = 7, repo: str = REPO) -> dict[str, Any]:
    return {
        "id": "IC_1",
        "databaseId": 1001,
        "url": f"https://github.com/{repo}/issues/{number}#issuecomment-1001",
        "issue": {"number": number, "repository": {"nameWithOwner": repo}},
    }


class Recorder:
    """A GraphQL endpoint that answers what it is given and keeps what it was sent."""

    def __init__(self, answer: Any) -> None:
        self.answer, self.sent = answer, []  # type: ignore[var-annotated]

    def __call__(self, document: str, variables: dict[str, Any]) -> Any:
        self.sent.append((document, variables))
        return self.answer


def test_a_status_change_is_one_document_with_the_edit_first_and_only_the_variables_it_uses() -> None:
    document = status_document(edit=True, add=True, remove=True)
    assert document.index("updateIssueComment") < document.index("addLabels") < document.index("removeLabels")
    assert "$remove" not in status_document(edit=True, add=True, remove=False)
    assert "$comment" not in status_document(edit=False, add=False, remove=True)
    with pytest.raises(ValueError, match="changes labels"):
        status_document(edit=True, add=False, remove=False)
    assert "addComment" in create_document() and "addLabelsToLabelable" in create_document()


def test_an_edit_with_labels_sends_the_ids_and_reads_the_labels_after() -> None:
    post = Recorder(
        {
            "data": {
                "edit": {"issueComment": comment_node()},
                "add": labelled(coordinator_running=RUNNING),
                "remove": labelled(coordinator_running=RUNNING),
            }
        }
    )
    batch = send_edit(
        post,
        REPO,
        7,
        issue_node="I_7",
        comment=("IC_1", "the text"),
        add={"coordinator:running": RUNNING},
        remove={"coordinator:queued": QUEUED},
    )
    assert batch.error is None and batch.labels == {"coordinator:running": RUNNING}
    [(_, variables)] = post.sent
    assert variables == {"issue": "I_7", "comment": "IC_1", "body": "the text", "add": [RUNNING], "remove": [QUEUED]}


def test_an_answer_about_another_issue_or_label_is_refused() -> None:
    with pytest.raises(GitHubError, match="names octo/other#7"):
        read_labels(labelled(repo="octo/other"), repository=REPO, issue=7, wanted={})
    with pytest.raises(GitHubError, match="names octo/repo#8"):
        read_labels(labelled(8), repository=REPO, issue=7, wanted={})
    # The id kept for "coordinator:running" is the trigger label's: never used again.
    with pytest.raises(GitHubError, match=r"name other labels \(coordinator:running\)"):
        read_labels(labelled(claude=RUNNING), repository=REPO, issue=7, wanted={"coordinator:running": RUNNING})


def test_a_comment_made_is_kept_when_its_labels_failed() -> None:
    answer = {
        "data": {"comment": {"commentEdge": {"node": comment_node()}}, "add": None},
        "errors": [
            {
                "type": "NOT_FOUND",
                "path": ["add"],
                "message": "Could not resolve to a node with the global id of 'LA_x'.",
            }
        ],
    }
    batch = send_create(Recorder(answer), REPO, 7, issue_node="I_7", body="text", add={"coordinator:queued": "LA_x"})
    assert batch.comment is not None and (batch.comment.id, batch.comment.node_id) == (1001, "IC_1")
    assert batch.labels is None and batch.error is not None and batch.error.status == 404


def test_a_comment_made_on_another_issue_is_not_taken_as_the_tracking_comment() -> None:
    answer = {"data": {"comment": {"commentEdge": {"node": comment_node(9)}}, "add": labelled(9)}}
    batch = send_create(Recorder(answer), REPO, 7, issue_node="I_9", body="text", add={})
    assert batch.comment is None and batch.error is not None and "is on octo/repo#9" in str(batch.error)


@pytest.mark.parametrize(
    ("error", "status", "transient"),
    [
        ({"type": "NOT_FOUND", "message": "Could not resolve to a node"}, 404, False),
        ({"type": "RATE_LIMITED", "message": "API rate limit exceeded for user ID 1."}, 403, True),
        ({"message": "Variable $add of type [ID!]! was provided invalid value"}, 422, False),
    ],
)
def test_graphql_errors_say_whether_to_try_again(error: dict[str, str], status: int, transient: bool) -> None:
    found = errors_of({"errors": [error]}, call="POST /graphql")
    assert found is not None and (found.status, found.transient) == (status, transient)
    assert str(found).startswith("POST /graphql: ") and error["message"] in str(found)
    assert errors_of({"data": {}}, call="POST /graphql") is None


def test_learned_label_ids_are_kept_per_repository_and_forgotten_when_wrong() -> None:
    life = IssueLife()
    life.record(done=("comment",), comment_id=1001, comment_node="IC_1", label_ids={"coordinator:queued": QUEUED})
    life.state.meta = life.state.meta.model_copy(
        update={"github_labels": {"octo/other": {"a": "LA_a"}} | life.state.meta.github_labels}
    )
    life.record(done=(), label_ids={"coordinator:queued": QUEUED, "coordinator:running": RUNNING})
    assert life.state.meta.github_labels == {
        "octo/other": {"a": "LA_a"},
        LIFE_REPO: {"coordinator:queued": QUEUED, "coordinator:running": RUNNING},
    }
    assert life.task.github is not None and life.task.github.comment_node == "IC_1"
    life.record(done=(), label_ids={}, forget=("comment_node",))  # node ids that named nothing: forgotten
    assert life.state.meta.github_labels == {"octo/other": {"a": "LA_a"}}
    assert life.task.github is not None and life.task.github.comment_node is None
    unchanged = record_delivery(
        life.state, task_id=life.id, by=INGEST, record=DeliveryRecord(revision=life.task.github.revision), now=life.now
    )
    assert unchanged.meta is None
    apply(life.state, unchanged)


def test_a_hand_edited_meta_with_odd_label_ids_is_refused() -> None:
    with pytest.raises(ValidationError, match="not GitHub node ids"):
        Meta(github_labels={REPO: {"coordinator:queued": "id with spaces; and more"}})
    with pytest.raises(ValidationError, match="at most 100 repositories"):
        Meta(github_labels={f"o/r{i}": {} for i in range(101)})


@pytest.mark.parametrize(
    ("edit", "add", "remove"),
    [(e, a, r) for e in (True, False) for a in (True, False) for r in (True, False) if a or r],
)
def test_every_document_coordinator_sends_is_valid_against_githubs_schema(edit: bool, add: bool, remove: bool) -> None:
    from graphql import parse, validate

    from tests.fakes.github_graphql import github_schema

    for document in (status_document(edit=edit, add=add, remove=remove), create_document()):
        assert validate(github_schema(), parse(document)) == []
