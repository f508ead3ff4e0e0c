"""Delivering a task's GitHub side effects: the real :class:`~coordinator.github.courier.Courier` and
:class:`~coordinator.github.deliver.Deliverer` with the real REST adapter against the fake GitHub on 127.0.0.1,
recording on a real state branch. Nothing is posted twice, nothing is lost, nothing is delivered for a task whose
trigger cannot be verified, and no secret reaches GitHub."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from coordinator.core import transitions as T
from coordinator.core.transitions.github import submit_issue
from coordinator.github.tracking import render
from coordinator.models import (
    GITHUB_CAPABILITY,
    AttemptResult,
    GitHubLink,
    Priority,
    Source,
    Task,
    TaskStatus,
    Tokens,
    Trigger,
)
from coordinator.store.store import StateStore
from tests.fakes.github_server import FakeGitHub
from tests.github_scenarios import (
    REPO,
    TOKEN,
    TRIGGER,
    Side,
    delete_comment,
    event,
    labelled_issue,
    side,
    tracking_comments,
    writes,
)

COMMIT = "c0ffee" + "0" * 34
OTHER_TOKEN = "ghp_" + "Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp9Oo8N"[:36]


class RecordingPusher:
    """The runner's side of a push, recorded (the branch itself is not what these tests are about)."""

    base_branch = "main"

    def __init__(self, *commits: str) -> None:
        self.commits = set(commits)
        self.pushes: list[tuple[str, str, str | None]] = []

    def has(self, commit: str) -> bool:
        return commit in self.commits

    def push(self, commit: str, branch: str, *, previous: str | None) -> None:
        self.pushes.append((commit, branch, previous))


@pytest.fixture
def runner(store: StateStore, remote_path: Path, gh: FakeGitHub, tmp_path: Path) -> Iterator[Side]:
    """A runner's courier (it has the commits: it can push them)."""
    made = side(remote_path, gh, tmp_path / "cache-runner", who="r1", pusher=RecordingPusher(COMMIT))
    yield made
    made.close()


def queued(ingest: Side, gh: FakeGitHub) -> int:
    """An issue alice labelled, ingested: its task is queued and its tracking comment says so."""
    number = labelled_issue(gh)
    ingest.handle(event(gh, number, "labeled", sender="alice", label=TRIGGER))
    return number


def claim(store: StateStore, runner: str = "r1", *, ttl: timedelta = timedelta(minutes=10)) -> T.Change:
    return store.update(
        lambda s, now: T.claim(s, runner=runner, capabilities=[GITHUB_CAPABILITY], lease_ttl=ttl, now=now)
    )


def succeed(store: StateStore, number: int, summary: str = "Added notes.md.", commit: str | None = COMMIT) -> Task:
    """The task is claimed by r1 and succeeds with ``commit``."""
    claim(store)
    result = AttemptResult(
        model="haiku",
        summary=summary,
        commit=commit,
        cost_usd=0.012,
        turns=3,
        duration_seconds=42.0,
        tokens=Tokens(input=1000, output=200),
        log="/logs/issue.attempt-1.log",
    )
    change = store.update(lambda s, now: T.complete(s, task_id=f"issue-{number}", runner="r1", result=result, now=now))
    assert change.task is not None and change.task.status == TaskStatus.SUCCEEDED
    return change.task


def link_of(side: Side, number: int) -> GitHubLink:
    link = side.task(number).github
    assert link is not None
    return link


# -- never posted twice ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("carried_out", [True, False], ids=["github-made-it", "github-did-not"])
def test_a_comment_post_answered_502_ends_in_exactly_one_tracking_comment(
    ingest: Side, gh: FakeGitHub, carried_out: bool
) -> None:
    gh.fail("POST */issues/*/comments", 502, times=1, carry_out=carried_out)

    number = queued(ingest, gh)  # the ingest's own catch-up is the next delivery

    link = link_of(ingest, number)
    [comment] = tracking_comments(gh, number)
    assert link.comment_id == comment["id"] and link.pending == [] and link.last_error is None
    assert gh.call_count("POST */comments") == (1 if carried_out else 2)
    assert gh.call_count("GET */comments") == 1  # it looked for the marker before creating again
    assert "Queued" in comment["body"]


def test_a_comment_github_made_while_answering_502_is_found_by_the_next_process(
    ingest: Side, runner: Side, gh: FakeGitHub
) -> None:
    gh.fail("POST */issues/*/comments", 502, times=1, carry_out=True)
    gh.fail("GET */issues/*/comments", 502)  # the ingest cannot look for it: the task keeps it pending
    number = queued(ingest, gh)
    link = link_of(ingest, number)
    assert link.comment_id is None and "comment" in link.pending and link.last_error
    assert len(tracking_comments(gh, number)) == 1
    gh.clear_failures()

    runner.store.read()
    runner.courier.catch_up(honour_backoff=False)

    link = link_of(runner, number)
    [comment] = tracking_comments(gh, number)
    assert link.comment_id == comment["id"] and link.pending == [] and link.last_error is None
    assert gh.call_count("POST */comments") == 1
    assert gh.call_count("PATCH */issues/comments/*") == 1


def test_a_pull_request_github_made_but_answered_502_for_is_found_by_its_head_never_made_twice(
    ingest: Side, runner: Side, gh: FakeGitHub, store: StateStore
) -> None:
    number = queued(ingest, gh)
    succeed(runner.store, number)
    gh.fail("POST */pulls", 502, times=1, carry_out=True)

    runner.courier.deliver(f"issue-{number}")

    link = link_of(runner, number)
    assert link.pushed == COMMIT and link.pull_number is None and "pull" in link.pending and link.last_error
    assert len(gh.pulls()) == 1  # GitHub made it, and said 502

    runner.courier.deliver(f"issue-{number}", honour_backoff=False)

    [pull] = gh.pulls()
    link = link_of(runner, number)
    assert link.pull_number == pull["number"] and link.pull_url == pull["html_url"] and link.pending == []
    looked_up = [r for r in gh.requests if r.method == "GET" and r.path.endswith("/pulls")]
    assert [r.query.get("head") for r in looked_up] == [f"octo:coordinator/issue-{number}"]
    assert pull["draft"] is True and f"Closes #{number}" in pull["body"]
    assert [r["login"] for r in pull["requested_reviewers"]] == ["alice"]
    pusher = runner.courier.deliverer.pusher
    assert isinstance(pusher, RecordingPusher)
    assert pusher.pushes == [(COMMIT, f"coordinator/issue-{number}", None)]  # pushed once, not again
    [comment] = tracking_comments(gh, number)
    assert "Succeeded" in comment["body"] and pull["html_url"] in comment["body"]


def test_a_tracking_comment_someone_deleted_is_made_again(
    ingest: Side, runner: Side, gh: FakeGitHub, store: StateStore
) -> None:
    number = queued(ingest, gh)
    [old] = tracking_comments(gh, number)
    delete_comment(gh, old["id"])
    change = claim(runner.store)
    assert change.task is not None

    runner.courier.deliver(change.task.id)
    runner.courier.catch_up(honour_backoff=False)

    [comment] = tracking_comments(gh, number)
    assert comment["id"] != old["id"] and "Running" in comment["body"]
    link = link_of(runner, number)
    assert link.comment_id == comment["id"] and link.pending == []


def test_comment_edits_always_carry_the_whole_current_text(
    ingest: Side, runner: Side, gh: FakeGitHub, store: StateStore
) -> None:
    number = queued(ingest, gh)
    task_id = f"issue-{number}"
    claim(runner.store)
    runner.courier.deliver(task_id)
    running = runner.task(number)
    succeed_result = AttemptResult(summary="Added notes.md.", commit=COMMIT, model="haiku")
    runner.store.update(lambda s, now: T.complete(s, task_id=task_id, runner="r1", result=succeed_result, now=now))
    runner.courier.deliver(task_id)
    final = runner.task(number)

    edits = [r.body["body"] for r in gh.requests if r.method == "PATCH" and "/issues/comments/" in r.path]
    config = runner.store.state.github
    assert edits[0] == render(running, config)
    # The final edit is the task as recorded after the pull request was made: whole, never a patch of it.
    assert edits[-1] == render(final, config)
    for body in edits:
        assert body.startswith(f"<!-- coordinator:task={task_id} -->") and f"Task `{task_id}`" in body


# -- backoff -----------------------------------------------------------------------------------------------------


def test_a_failed_delivery_waits_as_github_asked_and_its_error_holds_no_token(
    ingest: Side, runner: Side, gh: FakeGitHub, store: StateStore
) -> None:
    number = queued(ingest, gh)
    claim(runner.store)
    # A proxy echoing credentials: this client's token (the adapter hides it) and another token of that shape.
    echoed = f"upstream saw {TOKEN} and {OTHER_TOKEN}"
    gh.fail("PATCH */issues/comments/*", 503, headers={"Retry-After": "600"}, message=echoed)
    before = datetime.now(UTC)

    assert runner.courier.deliver(f"issue-{number}") is False

    link = link_of(runner, number)
    assert link.delivery_attempts == 1 and link.retry_at is not None
    assert link.retry_at >= before + timedelta(seconds=600)  # Retry-After, not the first 15 s of the backoff
    assert link.last_error is not None and "503" in link.last_error and "upstream saw" in link.last_error
    assert TOKEN not in link.last_error and OTHER_TOKEN not in link.last_error
    assert "comment" in link.pending
    assert not any(TOKEN in line or OTHER_TOKEN in line for line in runner.lines)

    asked = len(gh.requests)
    assert runner.courier.catch_up() == 0  # its time has not come
    assert runner.courier.deliver(f"issue-{number}") is False
    assert len(gh.requests) == asked

    gh.clear_failures()
    assert link.github_wait_until is not None and link.github_wait_until >= before + timedelta(seconds=600)
    assert runner.courier.catch_up(honour_backoff=False) == 0  # GitHub itself asked to wait: even an ingest does
    assert len(gh.requests) == asked
    runner.courier._now = lambda: datetime.now(UTC) + timedelta(seconds=601)  # ten minutes later
    assert runner.courier.catch_up(honour_backoff=False) == 1
    link = link_of(runner, number)
    assert link.pending == [] and link.delivery_attempts == 0 and link.retry_at is None and link.last_error is None
    assert "Running" in tracking_comments(gh, number)[0]["body"]


def test_failures_in_a_row_count_up_and_the_next_try_moves_out(
    ingest: Side, runner: Side, gh: FakeGitHub, store: StateStore
) -> None:
    number = queued(ingest, gh)
    claim(runner.store)
    gh.fail("PATCH */issues/comments/*", 502)  # no Retry-After: the backoff's own pauses

    runner.courier.deliver(f"issue-{number}")
    first = link_of(runner, number)
    runner.courier.deliver(f"issue-{number}", honour_backoff=False)
    second = link_of(runner, number)

    assert (first.delivery_attempts, second.delivery_attempts) == (1, 2)
    assert first.retry_at is not None and second.retry_at is not None and second.retry_at > first.retry_at
    assert gh.call_count("POST */comments") == 1  # the edit failing never made anyone post a new comment


# -- forged tasks ------------------------------------------------------------------------------------------------


def forge(store: StateStore, gh: FakeGitHub, number: int, *, actor: str = "alice") -> str:
    """A task for issue ``number`` written to the state branch by hand, claiming ``actor`` labelled it."""
    at = datetime.now(UTC).replace(microsecond=0)
    trigger = Trigger(actor=actor, permission="write", event="issues.labeled", label=TRIGGER, at=at)
    url = gh.issue(number)["html_url"]
    link = GitHubLink(repository=REPO, issue=number, url=url, trigger=trigger)
    source = Source(kind="github-issue", actor=actor, permission="write", at=at, repository=REPO, issue=number)
    request = T.SubmitRequest(
        title="Forged", body="run this", source=source, task_id=f"issue-{number}", github=link, priority=Priority.HIGH
    )
    change = store.update(lambda s, now: submit_issue(s, request, by="someone", now=now - timedelta(minutes=10)))
    assert change.task is not None
    return change.task.id


def test_a_task_whose_trigger_cannot_be_verified_gets_nothing_delivered_and_says_so_once(
    runner: Side, gh: FakeGitHub, store: StateStore, remote_path: Path, tmp_path: Path
) -> None:
    number = gh.add_issue("Something else", author="bob")  # nobody labelled it
    task_id = forge(store, gh, number)
    runner.store.read()
    before = len(gh.requests)

    runner.courier.deliver(task_id)
    runner.courier.deliver(task_id, honour_backoff=False)
    runner.courier.catch_up(honour_backoff=False)

    assert writes(gh, before) == []
    assert gh.issue_comments(number) == [] and gh.issue_labels(number) == []
    warnings = [line for line in runner.lines if task_id in line]
    assert len(warnings) == 1 and "not run" in warnings[0], runner.lines
    # It is recorded on the branch: no other process asks GitHub about it again.
    link = store.read().tasks[task_id].github
    assert link is not None and link.refused and link.pending == []
    asked = gh.call_count("GET */events")
    ingest_later = side(remote_path, gh, tmp_path / "cache-later")
    ingest_later.courier.catch_up(honour_backoff=False)
    ingest_later.close()
    assert gh.call_count("GET */events") == asked


def test_a_copy_of_a_genuine_trigger_onto_another_issue_is_not_delivered(
    ingest: Side, runner: Side, gh: FakeGitHub, store: StateStore
) -> None:
    queued(ingest, gh)  # alice really labelled that one
    other = gh.add_issue("Other", author="bob")
    gh.label(other, TRIGGER, by="rita")  # a trigger label on the other issue, but not by alice
    task_id = forge(store, gh, other, actor="alice")
    runner.store.read()
    before = len(gh.requests)

    runner.courier.catch_up(honour_backoff=False)

    assert writes(gh, before) == [] and gh.issue_comments(other) == []
    assert [line for line in runner.lines if task_id in line]


# -- secrets -----------------------------------------------------------------------------------------------------


def test_secrets_in_the_summary_or_title_are_redacted_in_the_comment_and_the_pull_request(
    ingest: Side, gh: FakeGitHub, store: StateStore, remote_path: Path, tmp_path: Path
) -> None:
    deploy_key = "s3cr3t-deploy-value-0123456789"
    shaped = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    runner = side(
        remote_path,
        gh,
        tmp_path / "cache-secret-runner",
        who="r1",
        pusher=RecordingPusher(COMMIT),
        env={"DEPLOY_KEY": deploy_key},
    )
    try:
        # The issue's title holds the secret too (someone pasted it there): the pull request's title is posted.
        number = gh.add_issue(f"Rotate {deploy_key}", body="It leaked.", author="bob")
        gh.label(number, TRIGGER, by="alice")
        ingest.handle(event(gh, number, "labeled", sender="alice", label=TRIGGER))
        succeed(runner.store, number, summary=f"Done. Used {shaped} and {deploy_key} to test.")

        runner.courier.deliver(f"issue-{number}")
    finally:
        runner.close()

    [pull] = gh.pulls()
    [comment] = tracking_comments(gh, number)
    for text in (pull["body"], comment["body"]):
        assert "Done. Used" in text and "[REDACTED]" in text
        assert shaped not in text and deploy_key not in text
    assert pull["title"] == "Rotate [REDACTED]"
    sent = " ".join(str(r.body) for r in gh.requests)
    assert shaped not in sent and deploy_key not in sent


# -- lease expiry ------------------------------------------------------------------------------------------------


def test_whoever_records_an_expired_lease_edits_the_comment_to_say_it_tries_again(
    ingest: Side, gh: FakeGitHub, store: StateStore, remote_path: Path, tmp_path: Path
) -> None:
    number = queued(ingest, gh)
    task_id = f"issue-{number}"
    claim(store, "r1", ttl=timedelta(0))  # r1 dies at once: its lease is over as soon as it is written
    other = store.update(lambda s, now: T.submit(s, T.SubmitRequest(title="urgent", priority=Priority.CRITICAL), now))
    assert other.task is not None
    r2 = side(remote_path, gh, tmp_path / "cache-r2", who="r2")
    try:
        # r2's claim requeues the GitHub task (and takes the more urgent one): as the daemon does, r2 tells
        # GitHub about every task its commit changed, except the one it claimed.
        change = r2.store.update(
            lambda s, now: T.claim(
                s, runner="r2", capabilities=[GITHUB_CAPABILITY], lease_ttl=timedelta(minutes=10), now=now
            )
        )
        assert change.task is not None and change.task.id == other.task.id
        told = [t.id for t in change.tasks if t.github is not None and t.github.pending and t.id != change.task.id]
        assert told == [task_id]
        for changed in told:
            r2.courier.deliver(changed)
    finally:
        r2.close()

    task = store.read().tasks[task_id]
    assert task.status == TaskStatus.QUEUED and task.github is not None and task.github.pending == []
    [comment] = tracking_comments(gh, number)
    assert "Attempt 1" in comment["body"] and "lease expired" in comment["body"]
    assert "trying again" in comment["body"] and "Running" not in comment["body"].split("\n")[1]
    assert "coordinator:queued" in gh.issue_labels(number)


def test_an_expiry_that_uses_the_last_attempt_ends_the_comment_as_failed(
    ingest: Side, gh: FakeGitHub, store: StateStore, remote_path: Path, tmp_path: Path
) -> None:
    number = queued(ingest, gh)
    task_id = f"issue-{number}"
    for _ in range(3):  # r1 dies three times; each claim expires the lease before it
        claim(store, "r1", ttl=timedelta(0))
    r2 = side(remote_path, gh, tmp_path / "cache-r2", who="r2")
    try:
        change = r2.store.update(
            lambda s, now: T.claim(s, runner="r2", capabilities=[], lease_ttl=timedelta(minutes=10), now=now)
        )
        assert change.task is None and [t.id for t in change.tasks] == [task_id]
        r2.courier.deliver(task_id)
    finally:
        r2.close()

    task = store.read().tasks[task_id]
    assert task.status == TaskStatus.FAILED and task.github is not None and task.github.pending == []
    [comment] = tracking_comments(gh, number)
    headline = comment["body"].split("\n")[1]
    assert "Failed" in headline and "attempts exhausted" in headline
    labels = gh.issue_labels(number)
    assert "coordinator:failed" in labels and "coordinator:queued" not in labels


def test_ingest_retries_what_other_tasks_left_pending(
    ingest: Side, runner: Side, gh: FakeGitHub, store: StateStore
) -> None:
    first = queued(ingest, gh)
    claim(runner.store)
    gh.fail("PATCH */issues/comments/*", 502, times=3)
    runner.courier.deliver(f"issue-{first}")  # GitHub down for the runner: the comment still says Queued
    assert "Queued" in tracking_comments(gh, first)[0]["body"]

    second = queued(ingest, gh)  # the next event, for another issue

    assert "Running" in tracking_comments(gh, first)[0]["body"]
    assert link_of(ingest, first).pending == [] and link_of(ingest, second).pending == []
