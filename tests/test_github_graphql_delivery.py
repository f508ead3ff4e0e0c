"""The tracking comment and its status label in one GraphQL request: the real courier and REST/GraphQL adapter
against the fake GitHub (which validates every document against GitHub's real schema), on a real state branch.
Once a repository's label ids are known each change is one request; a 502, a rate limit, a label deleted on
GitHub or ids edited on the branch never lose a change, never post twice, and fall back to REST by name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from coordinator.core import transitions as T
from coordinator.core.transitions.change import Change
from coordinator.models import AttemptResult
from coordinator.store.store import StateStore
from tests.fakes.github_server import FakeGitHub
from tests.github_scenarios import REPO, TRIGGER, Side, side, tracking_comments
from tests.test_github_courier import claim, queued

QUEUED, RUNNING, SUCCEEDED = "coordinator:queued", "coordinator:running", "coordinator:succeeded"


@pytest.fixture
def runner(store: StateStore, remote_path: Path, gh: FakeGitHub, tmp_path: Path) -> Iterator[Side]:
    made = side(remote_path, gh, tmp_path / "cache-runner", who="r1")
    yield made
    made.close()


def start(runner: Side, number: int) -> None:
    """r1 claims the queued task and tells GitHub it runs."""
    claim(runner.store)
    runner.courier.deliver(f"issue-{number}")


def finish(runner: Side, number: int) -> None:
    result = AttemptResult(model="haiku", summary="Done.", duration_seconds=3.0)
    task_id = f"issue-{number}"
    runner.store.update(lambda s, now: T.complete(s, task_id=task_id, runner="r1", result=result, now=now))
    runner.courier.deliver(task_id)


@pytest.fixture
def learned(ingest: Side, runner: Side, gh: FakeGitHub) -> dict[str, str]:
    """A first task's whole life (by REST: it teaches the ids); the label ids kept in meta.json."""
    number = queued(ingest, gh)
    start(runner, number)
    finish(runner, number)
    ids = runner.store.read().meta.github_labels[REPO]
    assert {QUEUED, RUNNING, SUCCEEDED} <= set(ids)
    ingest.store.read()
    return ids


def set_label_ids(store: StateStore, ids: dict[str, str]) -> None:
    """Someone edits the ids kept on the state branch."""
    store.update(lambda s, now: Change("edit meta", meta=s.meta.model_copy(update={"github_labels": {REPO: ids}})))


def link_of(side: Side, number: int) -> object:
    return side.task(number).github


def test_once_the_ids_are_known_each_change_is_one_graphql_request(
    ingest: Side, runner: Side, gh: FakeGitHub, learned: dict[str, str]
) -> None:
    before = len(gh.requests)
    number = queued(ingest, gh)
    assert [r.path for r in gh.requests[before:]] == [
        "/repos/octo/repo/collaborators/alice/permission",
        "/graphql",
    ]
    [comment] = tracking_comments(gh, number)
    assert "Queued" in comment["body"] and gh.issue_labels(number) == [TRIGGER, QUEUED]
    link = ingest.task(number).github
    assert link is not None and link.pending == [] and link.comment_id == comment["id"]
    assert link.comment_node == comment["node_id"] and link.issue_node == gh.issue(number)["node_id"]

    runner.store.read()
    before = len(gh.requests)
    start(runner, number)
    finish(runner, number)
    paths = [r.path for r in gh.requests[before:]]
    # The courier confirms the trigger on GitHub before it delivers anything (one read); then one request per change.
    assert paths == [f"/repos/octo/repo/issues/{number}/events", "/graphql", "/graphql"]
    [comment] = tracking_comments(gh, number)
    assert "Succeeded" in comment["body"] and gh.issue_labels(number) == [TRIGGER, SUCCEEDED]
    assert gh.comments_made() == 2  # one per issue, ever


@pytest.mark.parametrize("carried_out", [True, False], ids=["github-made-it", "github-did-not"])
def test_a_graphql_creation_answered_502_ends_in_exactly_one_tracking_comment(
    ingest: Side, gh: FakeGitHub, learned: dict[str, str], carried_out: bool
) -> None:
    made_before = gh.comments_made()
    gh.fail("POST /graphql", 502, times=1, carry_out=carried_out)
    number = queued(ingest, gh)  # the ingest's own catch-up is the next pass: it looks for the marker first
    [comment] = tracking_comments(gh, number)
    link = ingest.task(number).github
    assert link is not None and link.comment_id == comment["id"] and link.pending == [] and link.last_error is None
    assert gh.issue_labels(number) == [TRIGGER, QUEUED]
    assert gh.comments_made() - made_before == (1 if carried_out else 2)  # the retry created only when needed
    assert "Queued" in comment["body"]


def test_the_graphql_rate_limit_makes_the_change_wait_as_github_asked_then_it_is_delivered_once(
    ingest: Side, runner: Side, gh: FakeGitHub, learned: dict[str, str]
) -> None:
    number = queued(ingest, gh)
    runner.store.read()
    gh.graphql_rate_limited(times=1)
    start(runner, number)
    link = runner.task(number).github
    assert link is not None and {"comment", "labels"} <= set(link.pending)
    assert link.github_wait_until is not None and "rate limit" in (link.last_error or "")
    assert gh.issue_labels(number) == [TRIGGER, QUEUED]

    runner.courier.deliver(f"issue-{number}", honour_backoff=False)
    link = runner.task(number).github
    assert link is not None and link.pending == [] and gh.issue_labels(number) == [TRIGGER, RUNNING]
    [comment] = tracking_comments(gh, number)
    assert "Running" in comment["body"]


def test_a_label_id_that_names_nothing_falls_back_to_rest_and_its_new_id_is_kept(
    ingest: Side, runner: Side, gh: FakeGitHub, learned: dict[str, str], store: StateStore
) -> None:
    gone = {**learned, RUNNING: "LA_deleted_on_github"}
    set_label_ids(store, gone)
    number = queued(ingest, gh)
    runner.store.read()
    start(runner, number)
    link = runner.task(number).github
    assert link is not None and link.pending == [] and link.last_error is None
    assert gh.issue_labels(number) == [TRIGGER, RUNNING]
    [comment] = tracking_comments(gh, number)
    assert "Running" in comment["body"]
    kept = runner.store.read().meta.github_labels[REPO]
    assert kept[RUNNING] == learned[RUNNING]  # learned again from the REST answer


def test_label_ids_edited_to_name_another_label_are_found_out_and_forgotten(
    ingest: Side, runner: Side, gh: FakeGitHub, learned: dict[str, str], store: StateStore
) -> None:
    trigger_id = next(label["node_id"] for label in gh.issue(1)["labels"] if label["name"] == TRIGGER)
    set_label_ids(store, {**learned, RUNNING: trigger_id})
    number = queued(ingest, gh)
    runner.store.read()
    start(runner, number)
    link = runner.task(number).github
    assert link is not None and link.pending == [] and link.last_error is None
    assert gh.issue_labels(number) == [TRIGGER, RUNNING]  # set by REST and by name
    assert runner.store.read().meta.github_labels[REPO][RUNNING] == learned[RUNNING]


def test_an_issue_node_id_edited_to_another_issue_never_moves_that_issues_labels(
    ingest: Side, runner: Side, gh: FakeGitHub, learned: dict[str, str], store: StateStore
) -> None:
    number = queued(ingest, gh)
    other = gh.issue(1)
    assert other["number"] != number
    task_id = f"issue-{number}"

    def point_elsewhere(state: T.State, now: object) -> Change:  # type: ignore[name-defined]
        task = state.tasks[task_id]
        assert task.github is not None
        moved = task.model_copy(update={"github": task.github.model_copy(update={"issue_node": other["node_id"]})})
        return Change("edit task", tasks=(moved,))

    store.read()
    store.update(point_elsewhere)
    other_labels = gh.issue_labels(1)
    runner.store.read()
    start(runner, number)
    assert gh.issue_labels(number) == [TRIGGER, RUNNING]
    link = runner.task(number).github
    assert link is not None and link.issue_node is None and link.pending == []  # never sent again
    # The mutation ran on the other issue before its answer gave the node away (what a state-branch writer, who
    # has write access anyway, could do by hand); the task's own issue is right, and the next change goes by REST.
    assert set(gh.issue_labels(1)) - {RUNNING, QUEUED} == set(other_labels) - {RUNNING, QUEUED}
    touched = gh.issue_labels(1)
    finish(runner, number)
    assert gh.issue_labels(number) == [TRIGGER, SUCCEEDED] and gh.issue_labels(1) == touched


def test_a_comment_node_id_that_names_nothing_is_relearned_from_the_rest_edit(
    ingest: Side, runner: Side, gh: FakeGitHub, learned: dict[str, str], store: StateStore
) -> None:
    number = queued(ingest, gh)
    task_id = f"issue-{number}"
    [comment] = tracking_comments(gh, number)

    def bogus_comment_node(state: T.State, now: object) -> Change:  # type: ignore[name-defined]
        task = state.tasks[task_id]
        assert task.github is not None
        edited = task.github.model_copy(update={"comment_node": "IC_deleted_long_ago"})
        return Change("edit task", tasks=(task.model_copy(update={"github": edited}),))

    store.read()
    store.update(bogus_comment_node)
    runner.store.read()
    start(runner, number)
    link = runner.task(number).github
    assert link is not None and link.pending == [] and link.last_error is None
    assert link.comment_node == comment["node_id"]  # the REST edit's answer names it
    [comment] = tracking_comments(gh, number)
    assert "Running" in comment["body"] and gh.issue_labels(number) == [TRIGGER, RUNNING]

    before = len(gh.requests)
    finish(runner, number)
    assert [r.path for r in gh.requests[before:]] == ["/graphql"]  # together again
    assert gh.issue_labels(number) == [TRIGGER, SUCCEEDED]
