"""The fake GitHub's ``POST /graphql`` through real HTTP: documents validated against GitHub's real schema, the
answer shapes GitHub gives (data, validation errors without data, NOT_FOUND / UNPROCESSABLE field errors beside the
fields that worked, the GraphQL rate limit), the same auth, recording and failure rules as REST, the GHES path,
and one set of records behind REST and GraphQL alike. Also the REST ``POST /repos/{o}/{r}/labels`` route."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.fakes.github_graphql import github_schema
from tests.fakes.github_server import FakeGitHub

REPO = "octo/repo"
TOKEN = "fake-token-0123456789"
FIXTURES = Path(__file__).parent / "fixtures" / "github"

ADD_COMMENT = """
mutation($issue: ID!, $body: String!) {
  x: addComment(input: {subjectId: $issue, body: $body}) { commentEdge { node { id databaseId url body } } }
}"""
LABELS_OF = "labelable { __typename ... on Issue { number } labels(first: 100) { nodes { id name } } }"
ADD_LABELS = f"""
mutation($issue: ID!, $labels: [ID!]!) {{
  add: addLabelsToLabelable(input: {{labelableId: $issue, labelIds: $labels}}) {{ {LABELS_OF} }}
}}"""
REMOVE_LABELS = f"""
mutation($issue: ID!, $labels: [ID!]!) {{
  remove: removeLabelsFromLabelable(input: {{labelableId: $issue, labelIds: $labels}}) {{ {LABELS_OF} }}
}}"""
REPO_LABELS = """
query($owner: String!, $name: String!, $query: String) {
  repository(owner: $owner, name: $name) {
    id labels(first: 100, query: $query) { nodes { id name color description } }
  }
}"""


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub(REPO, token=TOKEN, token_user="coordinator-bot") as fake:
        yield fake


def graphql(
    gh: FakeGitHub, query: str, variables: dict[str, Any] | None = None, *, token: str = TOKEN, url: str = ""
) -> requests.Response:
    """POST a document the way a client does (bearer token, JSON body)."""
    body: dict[str, Any] = {"query": query, "variables": variables or {}}
    return requests.post(
        url or gh.url + "/graphql", json=body, headers={"Authorization": f"bearer {token}"}, timeout=30
    )


def answer(gh: FakeGitHub, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON of a request that GitHub answers 200 (every GraphQL answer but auth failures)."""
    response = graphql(gh, query, variables)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def rest(gh: FakeGitHub, method: str, path: str, body: Any = None) -> requests.Response:
    headers = {"Authorization": f"token {TOKEN}"}
    return requests.request(method, gh.url + path, json=body, headers=headers, timeout=30)


def label_ids(gh: FakeGitHub) -> dict[str, str]:
    """Label name → node id, as REST shows them."""
    return {label["name"]: label["node_id"] for label in rest(gh, "GET", f"/repos/{REPO}/issues/1").json()["labels"]}


# -- the mutations -----------------------------------------------------------------------------------------------


def test_add_comment_makes_the_comment_rest_lists(gh: FakeGitHub) -> None:
    number = gh.add_issue("Task", author="alice")
    issue_id = gh.issue(number)["node_id"]
    node = answer(gh, ADD_COMMENT, {"issue": issue_id, "body": "Queued."})["data"]["x"]["commentEdge"]["node"]
    [listed] = rest(gh, "GET", f"/repos/{REPO}/issues/{number}/comments").json()
    assert node == {"id": listed["node_id"], "databaseId": listed["id"], "url": listed["html_url"], "body": "Queued."}
    assert listed["user"]["login"] == "coordinator-bot"
    assert listed["html_url"].endswith(f"/octo/repo/issues/{number}#issuecomment-{listed['id']}")


def test_update_issue_comment_changes_what_rest_reads(gh: FakeGitHub) -> None:
    number = gh.add_issue("Task")
    comment_id = gh.add_comment(number, "Queued.", by="coordinator-bot")
    node_id = gh.issue_comments(number)[0]["node_id"]
    query = """mutation($id: ID!) {
      updateIssueComment(input: {id: $id, body: "Running."}) { issueComment { id databaseId body } }
    }"""
    edited = answer(gh, query, {"id": node_id})["data"]["updateIssueComment"]["issueComment"]
    assert edited == {"id": node_id, "databaseId": comment_id, "body": "Running."}
    assert rest(gh, "GET", f"/repos/{REPO}/issues/comments/{comment_id}").json()["body"] == "Running."


def test_adding_labels_appends_labeled_events_only_for_new_ones(gh: FakeGitHub) -> None:
    number = gh.add_issue("Task", labels=["bug", "coordinator:queued"], author="alice")
    gh.add_issue("Other", labels=["coordinator:running"])  # creates the label in the repository
    queued, running = (
        node["id"]
        for node in answer(gh, REPO_LABELS, {"owner": "octo", "name": "repo", "query": "coordinator:"})["data"][
            "repository"
        ]["labels"]["nodes"]
    )
    issue_id = gh.issue(number)["node_id"]
    data = answer(gh, ADD_LABELS, {"issue": issue_id, "labels": [queued, running]})["data"]
    assert data["add"]["labelable"] == {
        "__typename": "Issue",
        "number": number,
        "labels": {
            "nodes": [
                {"id": label_ids(gh)["bug"], "name": "bug"},
                {"id": queued, "name": "coordinator:queued"},
                {"id": running, "name": "coordinator:running"},
            ]
        },
    }
    events = [(e["event"], e["actor"]["login"], e["label"]["name"]) for e in gh.issue_events(number)]
    assert events[2:] == [("labeled", "coordinator-bot", "coordinator:running")]


def test_removing_labels_ignores_a_label_not_on_the_issue(gh: FakeGitHub) -> None:
    number = gh.add_issue("Task", labels=["bug", "coordinator:queued"])
    gh.add_issue("Other", labels=["coordinator:running"])
    ids = label_ids(gh)
    running = answer(gh, '{ repository(owner: "octo", name: "repo") { label(name: "COORDINATOR:RUNNING") { id } } }')
    running_id = running["data"]["repository"]["label"]["id"]
    issue_id = gh.issue(number)["node_id"]
    data = answer(gh, REMOVE_LABELS, {"issue": issue_id, "labels": [ids["coordinator:queued"], running_id]})["data"]
    assert data["remove"]["labelable"]["labels"]["nodes"] == [{"id": ids["bug"], "name": "bug"}]
    assert gh.issue_labels(number) == ["bug"]
    unlabeled = [
        (e["actor"]["login"], e["label"]["name"]) for e in gh.issue_events(number) if e["event"] == "unlabeled"
    ]
    assert unlabeled == [("coordinator-bot", "coordinator:queued")]


def test_a_label_id_that_resolves_to_nothing_changes_no_label(gh: FakeGitHub) -> None:
    number = gh.add_issue("Task", labels=["bug"])
    issue_id = gh.issue(number)["node_id"]
    before = gh.issue_events(number)
    # an issue's id where a label's belongs: a node of the wrong type
    got = answer(gh, REMOVE_LABELS, {"issue": issue_id, "labels": [label_ids(gh)["bug"], issue_id]})
    assert got["data"] == {"remove": None}
    assert got["errors"] == [
        {
            "type": "NOT_FOUND",
            "path": ["remove"],
            "locations": [{"line": 3, "column": 3}],
            "message": f"Could not resolve to a node with the global id of '{issue_id}'.",
        }
    ]
    assert (gh.issue_labels(number), gh.issue_events(number)) == (["bug"], before)


# -- field errors beside fields that worked ----------------------------------------------------------------------


def test_each_mutation_field_runs_in_order_and_a_failing_one_undoes_nothing(gh: FakeGitHub) -> None:
    number = gh.add_issue("Task", labels=["bug"])
    issue_id, label_id = gh.issue(number)["node_id"], label_ids(gh)["bug"]
    query = """mutation($issue: ID!, $long: String!, $label: ID!) {
      first: addComment(input: {subjectId: "MDU6SXNzdWU5OTk5OTk=", body: "lost"}) { clientMutationId }
      second: addComment(input: {subjectId: $issue, body: "kept"}) { commentEdge { node { body } } }
      third: addComment(input: {subjectId: $issue, body: $long}) { clientMutationId }
      fourth: removeLabelsFromLabelable(input: {labelableId: $issue, labelIds: [$label]}) { clientMutationId }
    }"""
    got = answer(gh, query, {"issue": issue_id, "long": "x" * 65_537, "label": label_id})
    assert got["data"] == {
        "first": None,
        "second": {"commentEdge": {"node": {"body": "kept"}}},
        "third": None,
        "fourth": {"clientMutationId": None},
    }
    assert [(e["type"], e["path"], e["message"]) for e in got["errors"]] == [
        ("NOT_FOUND", ["first"], "Could not resolve to a node with the global id of 'MDU6SXNzdWU5OTk5OTk='."),
        ("UNPROCESSABLE", ["third"], "Body is too long (maximum is 65536 characters)"),
    ]
    assert [c["body"] for c in gh.issue_comments(number)] == ["kept"]
    assert gh.issue_labels(number) == []


def test_a_body_of_exactly_the_limit_is_accepted(gh: FakeGitHub) -> None:
    number = gh.add_issue("Task")
    got = answer(gh, ADD_COMMENT, {"issue": gh.issue(number)["node_id"], "body": "x" * 65_536})
    assert "errors" not in got
    assert len(gh.issue_comments(number)[0]["body"]) == 65_536


def test_a_comment_id_where_an_issue_belongs_is_not_found(gh: FakeGitHub) -> None:
    number = gh.add_issue("Task")
    gh.add_comment(number, "hello")
    comment_id = gh.issue_comments(number)[0]["node_id"]
    got = answer(gh, ADD_COMMENT, {"issue": comment_id, "body": "hi"})
    assert (got["data"], got["errors"][0]["type"]) == ({"x": None}, "NOT_FOUND")
    assert len(gh.issue_comments(number)) == 1


def test_a_missing_repository_is_null_with_not_found(gh: FakeGitHub) -> None:
    got = answer(gh, REPO_LABELS, {"owner": "octo", "name": "gone"})
    assert got == {
        "data": {"repository": None},
        "errors": [
            {
                "type": "NOT_FOUND",
                "path": ["repository"],
                "locations": [{"line": 3, "column": 3}],
                "message": "Could not resolve to a Repository with the name 'octo/gone'.",
            }
        ],
    }


# -- documents GitHub refuses ------------------------------------------------------------------------------------


def test_a_document_that_fails_validation_answers_errors_and_no_data(gh: FakeGitHub) -> None:
    number = gh.add_issue("Task")
    issue_id = gh.issue(number)["node_id"]
    bad = f'mutation {{ addComment(input: {{subjectId: "{issue_id}", body: "hi"}}) {{ comment {{ id }} }} }}'
    got = answer(gh, bad)
    assert list(got) == ["errors"]
    [error] = got["errors"]
    assert set(error) == {"message", "locations"}
    assert "comment" in error["message"] and "AddCommentPayload" in error["message"]
    assert gh.issue_comments(number) == []  # nothing of a refused document runs


def test_a_syntax_error_or_a_wrongly_typed_variable_answers_errors(gh: FakeGitHub) -> None:
    syntax = answer(gh, "query { repository(owner: ")
    assert list(syntax) == ["errors"] and "Syntax Error" in syntax["errors"][0]["message"]
    typed = answer(gh, REPO_LABELS, {"owner": 7, "name": "repo"})
    assert list(typed) == ["errors"] and "$owner" in typed["errors"][0]["message"]


def test_a_field_the_fake_does_not_serve_says_so(gh: FakeGitHub) -> None:
    got = answer(gh, '{ repository(owner: "octo", name: "repo") { id stargazerCount } }')
    assert got["data"] == {"repository": None}  # stargazerCount is non-null: its null takes the repository along
    assert got["errors"][0]["message"] == "The fake GitHub does not implement Repository.stargazerCount."


def test_connections_need_a_bound_and_page_by_cursor(gh: FakeGitHub) -> None:
    gh.add_issue("Task", labels=["a", "b", "c"])
    unbounded = answer(gh, '{ repository(owner: "octo", name: "repo") { labels { totalCount } } }')
    assert unbounded["errors"][0]["type"] == "MISSING_PAGINATION_BOUNDARIES"
    too_many = answer(gh, '{ repository(owner: "octo", name: "repo") { labels(first: 101) { totalCount } } }')
    assert too_many["errors"][0]["type"] == "EXCESSIVE_PAGINATION"
    page = """query($after: String) { repository(owner: "octo", name: "repo") {
      labels(first: 2, after: $after) { totalCount nodes { name } pageInfo { hasNextPage endCursor } } } }"""
    one = answer(gh, page)["data"]["repository"]["labels"]
    two = answer(gh, page, {"after": one["pageInfo"]["endCursor"]})["data"]["repository"]["labels"]
    assert [n["name"] for n in one["nodes"] + two["nodes"]] == ["a", "b", "c"]
    assert (one["totalCount"], one["pageInfo"]["hasNextPage"], two["pageInfo"]["hasNextPage"]) == (3, True, False)


# -- queries -----------------------------------------------------------------------------------------------------


def test_repository_labels_match_the_query_in_name_or_description_ignoring_case(gh: FakeGitHub) -> None:
    gh.add_issue("Task", labels=["Coordinator:Queued", "bug", "help"])
    assert rest(gh, "POST", f"/repos/{REPO}/labels", {"name": "triage", "description": "by COORDINATOR:"}).ok
    got = answer(gh, REPO_LABELS, {"owner": "OCTO", "name": "Repo", "query": "coordinator:"})["data"]["repository"]
    assert got["id"] == rest(gh, "GET", f"/repos/{REPO}").json()["node_id"]
    assert [(n["name"], n["description"]) for n in got["labels"]["nodes"]] == [
        ("Coordinator:Queued", None),
        ("triage", "by COORDINATOR:"),
    ]
    everything = answer(gh, REPO_LABELS, {"owner": "octo", "name": "repo"})["data"]["repository"]["labels"]["nodes"]
    assert [n["name"] for n in everything] == ["Coordinator:Queued", "bug", "help", "triage"]
    assert all(len(n["color"]) == 6 for n in everything)


def test_fragments_typename_aliases_and_node_lookup(gh: FakeGitHub) -> None:
    number = gh.add_issue("Fix it", labels=["bug"])
    gh.add_comment(number, "looked", by="alice")
    comment = gh.issue_comments(number)[0]
    query = """query($id: ID!, $comment: ID!) {
      issue: node(id: $id) { __typename ... on Issue { number title labels(first: 5) { nodes { name } } } }
      note: node(id: $comment) { ... on IssueComment { databaseId author { login } issue { number } } }
      me: viewer { login }
    }"""
    data = answer(gh, query, {"id": gh.issue(number)["node_id"], "comment": comment["node_id"]})["data"]
    assert data == {
        "issue": {"__typename": "Issue", "number": number, "title": "Fix it", "labels": {"nodes": [{"name": "bug"}]}},
        "note": {"databaseId": comment["id"], "author": {"login": "alice"}, "issue": {"number": number}},
        "me": {"login": "coordinator-bot"},
    }


# -- transport: auth, recording, failure rules, rate limit, GHES -------------------------------------------------


def test_a_wrong_token_is_refused_like_rest_and_recorded(gh: FakeGitHub) -> None:
    number = gh.add_issue("Task")
    response = graphql(gh, ADD_COMMENT, {"issue": gh.issue(number)["node_id"], "body": "hi"}, token="wrong")
    assert response.status_code == 401
    assert response.json()["message"] == "Bad credentials"
    assert gh.issue_comments(number) == []
    [recorded] = gh.requests
    assert (recorded.method, recorded.path, recorded.body["variables"]["body"]) == ("POST", "/graphql", "hi")
    assert gh.call_count("POST /graphql") == 1


def test_a_failure_rule_on_graphql_works_as_on_rest(gh: FakeGitHub) -> None:
    number = gh.add_issue("Task")
    variables = {"issue": gh.issue(number)["node_id"], "body": "hi"}
    gh.fail("POST /graphql", 502, times=1, carry_out=True)
    assert graphql(gh, ADD_COMMENT, variables).status_code == 502
    assert len(gh.issue_comments(number)) == 1  # GitHub did the work before the gateway gave up
    gh.fail("POST /graphql", 503, times=1)
    assert graphql(gh, ADD_COMMENT, variables).status_code == 503
    assert graphql(gh, ADD_COMMENT, variables).status_code == 200
    assert (len(gh.issue_comments(number)), gh.call_count("POST /graphql")) == (2, 3)


def test_the_graphql_rate_limit_answers_200_with_rate_limited(gh: FakeGitHub) -> None:
    number = gh.add_issue("Task")
    variables = {"issue": gh.issue(number)["node_id"], "body": "hi"}
    gh.graphql_rate_limited(times=2)
    for _ in range(2):
        response = graphql(gh, ADD_COMMENT, variables)
        assert response.status_code == 200
        assert response.json() == {
            "errors": [{"type": "RATE_LIMITED", "message": "API rate limit exceeded for user ID 1."}]
        }
        assert response.headers["x-ratelimit-remaining"] == "0"
        assert response.headers["x-ratelimit-resource"] == "graphql"
        assert 0 < int(response.headers["x-ratelimit-reset"]) - time.time() <= 61
    assert gh.issue_comments(number) == []
    assert "errors" not in graphql(gh, ADD_COMMENT, variables).json()
    assert len(gh.issue_comments(number)) == 1


def test_github_enterprise_serves_graphql_at_api_graphql() -> None:
    with FakeGitHub(REPO, token=TOKEN, prefix="/api/v3") as ghes:
        number = ghes.add_issue("Task")
        variables = {"issue": ghes.issue(number)["node_id"], "body": "hi"}
        assert graphql(ghes, ADD_COMMENT, variables, url=ghes.url + "/graphql").status_code == 404  # /api/v3/graphql
        response = graphql(ghes, ADD_COMMENT, variables, url=ghes.origin + "/api/graphql")
        assert response.status_code == 200 and "errors" not in response.json()
        assert len(ghes.issue_comments(number)) == 1
        assert ghes.call_count("POST /graphql") == 1  # the answered one, recorded under /graphql like on github.com


# -- REST: creating a label --------------------------------------------------------------------------------------


def test_creating_a_label_answers_201_with_githubs_label_shape(gh: FakeGitHub) -> None:
    made = rest(gh, "POST", f"/repos/{REPO}/labels", {"name": "coordinator:queued", "color": "0E8A16"})
    assert made.status_code == 201
    example = json.loads((FIXTURES / "rest" / "labels.json").read_text())[0]
    assert set(made.json()) == set(example)
    assert (made.json()["name"], made.json()["color"], made.json()["description"]) == (
        "coordinator:queued",
        "0e8a16",
        None,
    )
    found = answer(gh, REPO_LABELS, {"owner": "octo", "name": "repo"})["data"]["repository"]["labels"]["nodes"]
    assert found == [
        {"id": made.json()["node_id"], "name": "coordinator:queued", "color": "0e8a16", "description": None}
    ]


def test_creating_a_label_that_exists_or_is_malformed_is_422(gh: FakeGitHub) -> None:
    assert rest(gh, "POST", f"/repos/{REPO}/labels", {"name": "Queued", "color": "ededed"}).status_code == 201
    again = rest(gh, "POST", f"/repos/{REPO}/labels", {"name": "queued", "color": "ededed", "description": "x"})
    assert again.status_code == 422
    assert again.json()["message"] == "Validation Failed"
    assert again.json()["errors"] == [{"resource": "Label", "code": "already_exists", "field": "name"}]
    for body, field in [({"name": "x", "color": "red"}, "color"), ({"color": "ededed"}, "name")]:
        refused = rest(gh, "POST", f"/repos/{REPO}/labels", body)
        assert (refused.status_code, refused.json()["errors"][0]["field"]) == (422, field)


def test_the_schema_is_githubs_and_built_once() -> None:
    schema = github_schema()
    assert schema is github_schema()
    assert schema.mutation_type is not None
    assert {"addComment", "updateIssueComment", "addLabelsToLabelable"} <= set(schema.mutation_type.fields)
