"""Pending GitHub deliveries on a task (:mod:`coordinator.core.deliveries`) and the transitions of issue tasks
(:mod:`coordinator.core.transitions.github`), through the real transitions on one state: what every transition
marks pending, what a delivery pass's record clears, backoff, the creation window of the tracking comment, new
rounds, updates from the issue and refusal."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from coordinator.core import transitions as tr
from coordinator.core.deliveries import (
    CREATE_WINDOW,
    creation_free,
    due,
    due_for_others,
    holds_creation,
    next_try,
    status_label,
    status_labels,
    wanted,
)
from coordinator.core.state import State
from coordinator.core.transitions.github import (
    DeliveryRecord,
    IssueSettings,
    record_delivery,
    refuse,
    take_creation,
    update_issue_task,
)
from coordinator.errors import InvalidTransition
from coordinator.models import AttemptResult, BranchConfig, GitHubConfig, GitHubLink, Priority, TaskStatus
from tests.core_helpers import NOW, TTL, apply
from tests.github_tasks import INGEST, IssueLife, issue_task, later, link, submitted

COMMIT = "0123456789abcdef0123456789abcdef01234567"
OTHER = "runner-b#1234"


def github(life: IssueLife) -> GitHubLink:
    assert life.task.github is not None
    return life.task.github


def delivered(life: IssueLife, **record: Any) -> GitHubLink:
    """Everything pending delivered at the current revision (the comment created as 1001)."""
    record.setdefault("done", tuple(github(life).pending))
    record.setdefault("comment_id", 1001)
    record.setdefault("status_label", status_label(life.task, GitHubConfig()))
    life.record(**record)
    return github(life)


def recorded_by_other(life: IssueLife, **record: Any) -> tr.Change:
    """The change recording a pass by another process (not applied)."""
    record.setdefault("revision", github(life).revision)
    return record_delivery(life.state, task_id=life.id, by=OTHER, record=DeliveryRecord(**record), now=life.now)


# -- what each transition marks pending ----------------------------------------------------------------------------


def test_a_new_issue_task_needs_its_comment_and_label() -> None:
    life = IssueLife()
    link_now = github(life)
    assert (link_now.pending, link_now.revision) == (["comment", "labels"], 1)
    assert (link_now.creating_by, link_now.creating_until) == (INGEST, NOW + CREATE_WINDOW)


@pytest.mark.parametrize(
    ("steps", "pending"),
    [
        (["claim"], ["comment", "labels"]),
        (["claim", "fail_escalate"], ["comment", "labels"]),
        (["claim", "release"], ["comment", "labels"]),
        (["claim", "expire"], ["comment", "labels"]),
        (["claim", "complete_commit"], ["push", "pull", "comment", "labels"]),
        (["claim", "complete"], ["comment", "labels"]),
        (["claim", "fail_final_commit"], ["push", "comment", "labels"]),
        (["claim", "fail_final"], ["comment", "labels"]),
        (["claim", "cancel"], ["comment", "labels"]),
        (["cancel"], ["comment", "labels"]),
    ],
)
def test_every_transition_marks_what_github_must_be_told(steps: list[str], pending: list[str]) -> None:
    life = IssueLife()
    do = {
        "claim": life.claim,
        "fail_escalate": lambda: life.fail("boom", next_mode="complex"),
        "release": life.release,
        "expire": life.expire,
        "complete_commit": lambda: life.complete(commit=COMMIT),
        "complete": life.complete,
        "fail_final_commit": lambda: life.fail("boom", retryable=False, result=AttemptResult(commit=COMMIT)),
        "fail_final": lambda: life.fail("boom", retryable=False),
        "cancel": life.cancel,
    }
    for step in steps:
        delivered(life)
        before = github(life).revision
        do[step]()
        assert github(life).revision == before + 1, step
    assert github(life).pending == pending
    assert (github(life).delivery_attempts, github(life).retry_at) == (0, None)


@pytest.mark.parametrize(
    ("policy", "pending"),
    [
        ("draft", ["push", "pull", "comment", "labels"]),
        ("ready", ["push", "pull", "comment", "labels"]),
        ("link", ["push", "comment", "labels"]),
        ("none", ["push", "comment", "labels"]),
    ],
)
def test_a_pull_request_is_wanted_only_for_a_success_with_draft_or_ready(policy: str, pending: list[str]) -> None:
    life = IssueLife(github=link(pr_policy=policy))
    life.claim()
    delivered(life)
    life.complete(commit=COMMIT)
    assert github(life).pending == pending


def test_what_is_done_is_not_wanted_again() -> None:
    life = IssueLife()
    life.claim()
    life.complete(commit=COMMIT)
    done = delivered(life, pushed=COMMIT, pull_number=7, pull_url="https://github.com/o/r/pull/7")
    assert done.pending == []
    assert wanted(life.task, done, GitHubConfig()) == []


def test_a_renewed_lease_tells_github_nothing() -> None:
    life = IssueLife()
    life.claim()
    before = delivered(life)
    life.step(lambda s, now: tr.renew(s, task_id=life.id, runner="runner-a", lease_ttl=TTL, now=now))
    assert github(life) == before


def test_a_change_the_comment_does_not_show_asks_nothing() -> None:
    life = IssueLife()
    before = delivered(life)
    life.step(
        lambda s, now: update_issue_task(s, task_id=life.id, by="alice", now=now, title="New title", body="New body")
    )
    assert life.task.title == "New title"
    assert github(life) == before


def test_a_new_priority_from_a_label_is_shown() -> None:
    # The queued comment shows the priority: a priority label added while queued must update it.
    life = IssueLife()
    delivered(life)
    life.step(
        lambda s, now: update_issue_task(
            s, task_id=life.id, by="alice", now=now, settings=IssueSettings(priority=Priority.HIGH)
        )
    )
    assert life.task.priority == Priority.HIGH
    assert github(life).pending == ["comment"]


def test_a_late_result_of_an_attempt_that_lost_its_lease_updates_the_comment() -> None:
    life = IssueLife()
    life.claim("runner-a")
    life.expire()
    life.claim("runner-b")
    delivered(life)
    life.complete("runner-a", summary="I had finished after all", cost_usd=0.5)  # recorded late
    assert life.task.status == TaskStatus.RUNNING and life.task.attempts[0].summary == "I had finished after all"
    assert github(life).pending == ["comment"]


def test_a_blocked_task_carries_the_queued_label() -> None:
    task = issue_task(status=TaskStatus.BLOCKED)
    assert status_label(task, GitHubConfig()) == "coordinator:queued"
    assert status_labels(GitHubConfig(status_label_prefix="bot/")) == {
        "bot/queued",
        "bot/running",
        "bot/needs-input",
        "bot/succeeded",
        "bot/failed",
        "bot/cancelled",
    }


def test_without_status_labels_no_label_is_ever_pending() -> None:
    state = State.build()
    state.config = BranchConfig(github=GitHubConfig(status_labels=False))
    state, task = submitted(state)
    assert task.github is not None and task.github.pending == ["comment"]
    change = apply(state, tr.claim(state, runner="r", capabilities=["github"], lease_ttl=TTL, now=NOW))
    assert change.task is not None and change.task.github is not None
    assert change.task.github.pending == ["comment"]


def test_a_task_not_from_an_issue_has_no_deliveries() -> None:
    state = State.build()
    change = tr.submit(state, tr.SubmitRequest(title="local work"), NOW)
    assert change.task is not None and change.task.github is None


# -- refusal -----------------------------------------------------------------------------------------------------------


def refused(life: IssueLife, reason: str = "the trigger was not found on GitHub") -> None:
    life.step(
        lambda s, now: refuse(
            s, task_id=life.id, runner="runner-a", attempt=1, reason=reason, now=now, result=AttemptResult()
        )
    )


def test_a_refused_task_fails_for_good_and_never_gets_deliveries() -> None:
    life = IssueLife()
    life.claim()
    refused(life)
    assert life.task.status == TaskStatus.FAILED and life.task.attempts_left() == 2  # not retried
    assert life.task.status_reason == "the trigger was not found on GitHub"
    assert (github(life).refused, github(life).pending, github(life).creating_by) == (
        "the trigger was not found on GitHub",
        [],
        None,
    )
    assert not due(life.task, life.now + timedelta(days=1))
    life.step(lambda s, now: tr.retry(s, task_id=life.id, now=now, by="someone"))
    life.claim()
    life.complete("runner-a", commit=COMMIT)
    assert github(life).pending == []


# -- recording a delivery pass ---------------------------------------------------------------------------------------


def test_a_record_at_the_same_revision_clears_what_it_did() -> None:
    life = IssueLife()
    life.record(done=("comment",), comment_id=1001)
    assert (github(life).pending, github(life).comment_id) == (["labels"], 1001)
    assert (github(life).creating_by, github(life).creating_until) == (None, None)  # INGEST's window is over
    life.record(done=("labels",), status_label="coordinator:queued")
    assert (github(life).pending, github(life).status_label) == ([], "coordinator:queued")


def test_a_record_from_an_older_revision_clears_only_push_and_pull() -> None:
    life = IssueLife()
    life.claim()
    life.complete(commit=COMMIT)
    read_at = github(life).revision
    # The runner pushed (the comment must show the branch now: a newer revision) ...
    life.record(revision=read_at, done=("push",), pushed=COMMIT)
    assert github(life).revision == read_at + 1
    # ... while a deliverer that read the task before opened the pull request and wrote comment and label.
    life.record(
        revision=read_at,
        done=("pull", "comment", "labels"),
        pull_number=7,
        pull_url="https://github.com/o/r/pull/7",
        status_label="coordinator:succeeded",
    )
    assert github(life).pending == ["comment", "labels"]
    assert (github(life).pushed, github(life).pull_number, github(life).status_label) == (
        COMMIT,
        7,
        "coordinator:succeeded",
    )


def test_a_comment_written_from_an_older_revision_is_written_again() -> None:
    # Two deliverers: the fresh one wrote the final text and recorded it; the stale one wrote the "running"
    # text after it and records now. GitHub shows the older text: it must be written again.
    life = IssueLife()
    life.claim()
    stale = delivered(life, done=()).revision
    life.complete()
    delivered(life)
    assert github(life).pending == []
    life.record(revision=stale, done=("comment",))
    assert github(life).pending == ["comment"]


def test_a_new_branch_or_pull_request_makes_earlier_comment_writes_stale() -> None:
    life = IssueLife()
    life.claim()
    life.complete(commit=COMMIT)
    revision = github(life).revision
    # One deliverer pushed and opened the pull request, and showed it in the comment.
    life.record(
        revision=revision,
        done=("push", "pull", "comment"),
        pushed=COMMIT,
        pull_number=7,
        pull_url="https://github.com/o/r/pull/7",
    )
    assert github(life).pending == ["labels"] and github(life).revision == revision + 1
    # Another, which could not push, wrote the comment from the same revision, without the pull request.
    life.record(revision=revision, done=("comment", "labels"), status_label="coordinator:succeeded")
    assert github(life).pending == ["comment", "labels"]


def test_a_new_branch_without_the_comment_leaves_the_comment_pending() -> None:
    life = IssueLife()
    life.claim()
    life.complete(commit=COMMIT)
    life.record(done=("push",), pushed=COMMIT, skipped=("pull",))
    assert github(life).pending == ["pull", "comment", "labels"]


def test_a_failed_pass_backs_off_longer_each_time() -> None:
    life = IssueLife()
    waits = []
    for _ in range(4):
        life.record(done=(), error="comment: GitHub answered 502")
        waits.append(github(life).retry_at - life.now if github(life).retry_at else None)
    assert waits == [timedelta(seconds=s) for s in (15, 30, 60, 120)]
    assert (github(life).delivery_attempts, github(life).last_error) == (4, "comment: GitHub answered 502")
    assert github(life).pending == ["comment", "labels"]


def test_github_asking_to_wait_longer_is_honoured() -> None:
    life = IssueLife()
    life.record(done=(), error="rate limited", retry_after=900.0)
    assert github(life).retry_at == life.now + timedelta(seconds=900)


def test_success_after_failures_ends_the_backoff() -> None:
    life = IssueLife()
    life.record(done=(), error="502")
    life.record(done=("comment", "labels"), comment_id=5, status_label="coordinator:queued")
    link_now = github(life)
    assert (link_now.delivery_attempts, link_now.retry_at, link_now.last_error, link_now.pending) == (0, None, None, [])


def test_a_change_with_nothing_new_to_tell_keeps_the_backoff() -> None:
    life = IssueLife()
    life.record(done=(), error="502", retry_after=600.0)
    backoff = (github(life).delivery_attempts, github(life).retry_at)
    life.step(lambda s, now: update_issue_task(s, task_id=life.id, by="alice", now=now, body="edited"))
    assert (github(life).delivery_attempts, github(life).retry_at) == backoff
    life.claim()  # something new to show: try at once
    assert (github(life).delivery_attempts, github(life).retry_at) == (0, None)


def test_a_record_that_changes_nothing_commits_nothing() -> None:
    life = IssueLife()
    delivered(life)
    change = recorded_by_other(life, done=())
    assert change.empty and "unchanged" in change.message


def test_a_task_not_from_an_issue_cannot_record_deliveries() -> None:
    state = State.build()
    apply(state, tr.submit(state, tr.SubmitRequest(title="local", task_id="local-1"), NOW))
    with pytest.raises(InvalidTransition, match="does not come from a GitHub issue"):
        record_delivery(state, task_id="local-1", by=OTHER, record=DeliveryRecord(revision=0), now=NOW)


@pytest.mark.parametrize(
    ("failures", "retry_after", "seconds"),
    [
        (0, None, 15),
        (1, None, 15),
        (2, None, 30),
        (3, None, 60),
        (8, None, 1920),
        (9, None, 3600),
        (40, None, 3600),
        (1, 120.0, 120),
        (5, 10.0, 240),
        (12, 7200.0, 7200),
    ],
)
def test_next_try(failures: int, retry_after: float | None, seconds: float) -> None:
    assert next_try(failures, NOW, retry_after) == NOW + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("fields", "now", "is_due", "for_others"),
    [
        ({"pending": []}, NOW, False, False),
        ({"pending": ["comment"]}, NOW, True, False),  # its writer delivers at once; others wait
        ({"pending": ["comment"]}, NOW + timedelta(minutes=2), True, True),
        ({"pending": ["comment"], "retry_at": NOW + timedelta(seconds=30)}, NOW, False, False),
        ({"pending": ["comment"], "retry_at": NOW + timedelta(seconds=30)}, NOW + timedelta(seconds=30), True, True),
        ({"pending": ["comment"], "refused": "forged"}, NOW + timedelta(days=1), False, False),
    ],
)
def test_due(fields: dict[str, Any], now: datetime, is_due: bool, for_others: bool) -> None:
    task = issue_task(github=link(**fields), updated_at=NOW)
    assert (due(task, now), due_for_others(task, now)) == (is_due, for_others)


# -- the creation window of the tracking comment ----------------------------------------------------------------------


def test_the_process_that_made_the_task_holds_the_window_for_a_while() -> None:
    life = IssueLife()
    held = github(life)
    assert holds_creation(held, INGEST, NOW) and holds_creation(held, INGEST, NOW + CREATE_WINDOW - timedelta(1))
    assert not holds_creation(held, OTHER, NOW)
    assert not creation_free(held, NOW)
    assert not holds_creation(held, INGEST, NOW + CREATE_WINDOW)
    assert creation_free(held, NOW + CREATE_WINDOW)


def test_nobody_else_takes_the_window_while_it_is_held() -> None:
    life = IssueLife()
    with pytest.raises(InvalidTransition, match=f"{INGEST} may be creating its tracking comment"):
        take_creation(life.state, task_id=life.id, by=OTHER, now=NOW + timedelta(minutes=1))
    again = take_creation(life.state, task_id=life.id, by=INGEST, now=NOW + timedelta(minutes=1))
    assert again.task is not None and again.task.github is not None
    assert again.task.github.creating_until == NOW + timedelta(minutes=1) + CREATE_WINDOW  # its holder extends it


def test_exactly_one_of_two_racing_processes_gets_a_lapsed_window() -> None:
    life = IssueLife()
    lapsed = NOW + CREATE_WINDOW + timedelta(seconds=1)
    first = take_creation(life.state, task_id=life.id, by=OTHER, now=lapsed)
    second = take_creation(life.state, task_id=life.id, by="runner-c#5678", now=lapsed)
    assert first.task is not None and second.task is not None  # each alone on the same state would win...
    apply(life.state, first)  # ...but the first commit wins the compare-and-swap, and the store reruns the second:
    with pytest.raises(InvalidTransition):
        take_creation(life.state, task_id=life.id, by="runner-c#5678", now=lapsed)
    link_now = life.state.tasks[life.id].github
    assert link_now is not None and holds_creation(link_now, OTHER, lapsed)
    assert not holds_creation(link_now, INGEST, lapsed)


def test_a_task_with_its_comment_needs_no_window() -> None:
    life = IssueLife()
    delivered(life)
    change = take_creation(life.state, task_id=life.id, by=OTHER, now=NOW + timedelta(hours=1))
    assert change.empty and "has its tracking comment" in change.message


def test_only_a_pass_of_the_holder_frees_the_window() -> None:
    life = IssueLife()
    life.step(
        lambda s, now: record_delivery(
            s, task_id=life.id, by=OTHER, now=now, record=DeliveryRecord(revision=1, error="x")
        )
    )
    assert github(life).creating_by == INGEST  # not its window to free
    life.record(done=(), error="comment: no answer")  # INGEST, the holder, failed: others may try
    assert creation_free(github(life), life.now)


# -- new rounds and updates from the issue -----------------------------------------------------------------------------


def test_a_new_round_takes_the_new_trigger_text_and_labels() -> None:
    life = IssueLife()
    life.claim()
    life.complete(commit=COMMIT)
    delivered(life, pushed=COMMIT, pull_number=7, pull_url="https://github.com/o/r/pull/7")
    life.retrigger(later(60), priority=Priority.HIGH, mode="complex", requires=("gpu",), pr_policy="ready")
    task, link_now = life.task, github(life)
    assert (task.status, task.round, task.mode, task.priority, task.requires) == (
        TaskStatus.QUEUED,
        1,
        "complex",
        Priority.HIGH,
        ["gpu"],
    )
    assert task.status_reason == "triggered again by Codertocat (issues.labeled)"
    assert (link_now.trigger.at, link_now.pr_policy, link_now.comment_id, link_now.pushed) == (
        later(60),
        "ready",
        1001,
        COMMIT,
    )
    # The last round's pull request may be merged or closed: the new round finds or opens its own.
    assert (link_now.pull_number, link_now.pull_url) == (None, None)
    assert link_now.pending == ["comment", "labels"]


def test_only_an_ended_task_starts_a_new_round() -> None:
    life = IssueLife()
    with pytest.raises(InvalidTransition, match="only an ended task of an issue starts again"):
        life.retrigger(later(60))


def test_a_mode_label_naming_no_mode_keeps_the_requested_mode() -> None:
    life = IssueLife()
    life.cancel()
    assert life.retrigger(later(60), mode="no-such-mode").mode == "simple"


def test_a_refused_task_triggered_for_real_starts_over_with_nothing_of_its_old_link() -> None:
    forged = link(comment_id=424242, pull_number=9, pushed=COMMIT, status_label="coordinator:failed")
    life = IssueLife(github=forged)
    life.claim()
    refused(life)
    life.retrigger(later(60))
    fresh = github(life)
    assert fresh.refused is None and fresh.trigger.at == later(60)
    assert (fresh.comment_id, fresh.pull_number, fresh.pushed, fresh.status_label) == (None, None, None, None)
    assert (fresh.repository, fresh.issue) == (forged.repository, forged.issue)
    assert fresh.pending == ["comment", "labels"]


def test_an_edit_while_waiting_takes_the_new_text() -> None:
    life = IssueLife()
    task = life.step(
        lambda s, now: update_issue_task(s, task_id=life.id, by="alice", now=now, title="Better title", body="More")
    )
    assert (task.title, task.body) == ("Better title", "More")


def test_new_labels_while_waiting_take_the_new_settings() -> None:
    life = IssueLife()
    settings = IssueSettings(Priority.LOW, "expert", ("gpu", "gpu", "arm64"), "none")
    task = life.step(lambda s, now: update_issue_task(s, task_id=life.id, by="alice", now=now, settings=settings))
    assert (task.priority, task.mode, task.requested_mode, task.requires) == (
        Priority.LOW,
        "expert",
        "expert",
        ["arm64", "gpu"],
    )
    assert github(life).pr_policy == "none"


def test_the_mode_of_a_task_that_has_run_is_not_changed_by_a_label() -> None:
    life = IssueLife()
    life.claim()
    life.fail("boom", next_mode="complex")
    settings = IssueSettings(mode="simple")
    task = life.step(lambda s, now: update_issue_task(s, task_id=life.id, by="alice", now=now, settings=settings))
    assert task.mode == "complex"


def test_a_running_task_takes_no_changes_from_the_issue() -> None:
    life = IssueLife()
    life.claim()
    with pytest.raises(InvalidTransition, match="only a waiting task takes the issue's changes"):
        update_issue_task(life.state, task_id=life.id, by="alice", now=life.now, body="sneaky")


def test_an_update_that_changes_nothing_commits_nothing() -> None:
    life = IssueLife()
    change = update_issue_task(life.state, task_id=life.id, by="alice", now=life.now, title=life.task.title)
    assert change.empty and change.message == "issue-1 unchanged"
