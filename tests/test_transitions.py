"""Unit tests of the pure transitions: submit, claim, renew, complete, fail/release, cancel, retry.

Each transition is called on a ``State`` and its ``Change`` applied with ``core_helpers.apply``; the commit
messages are checked too (they are the branch's history).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from core_helpers import NOW, TTL, apply, claim, complete, fail, make_runner, minutes, submit

from coordinator.core import transitions as tr
from coordinator.core.state import Problem, State
from coordinator.errors import InvalidTransition, NotLeaseHolder, TaskNotFound, UsageError
from coordinator.models import (
    AttemptOutcome,
    AttemptResult,
    Limits,
    Meta,
    Priority,
    Source,
    TaskStatus,
    Tokens,
)


@pytest.fixture
def state() -> State:
    return State()


#: Long enough for a fresh lease to have expired.
PAST_TTL = TTL + timedelta(minutes=1)


def expire(state: State, after: timedelta = PAST_TTL) -> tr.Change:
    return apply(state, tr.requeue_expired(state, NOW + after))


# --------------------------------------------------------------------------------------------------- submit


def test_submit_numbers_tasks_and_bumps_the_counter(state: State) -> None:
    first = submit(state, "First")
    second = submit(state, "Second")
    assert (first.id, second.id) == ("task-1", "task-2")
    assert state.meta.next_task_number == 3
    assert first.status == TaskStatus.QUEUED
    assert first.status_reason is None
    assert first.created_at == first.updated_at == NOW
    assert first.mode == first.requested_mode == "simple"
    assert first.source.at == NOW  # stamped when the request has no time
    assert first.attempts == []
    assert first.lease is None


def test_submit_change_contents_and_message(state: State) -> None:
    change = tr.submit(state, tr.SubmitRequest(title="  Fix   the login bug  "), NOW)
    assert change.message == "submit task-1: Fix the login bug"
    assert change.meta == Meta(next_task_number=2)
    assert change.task is not None
    assert [t.id for t in change.tasks] == ["task-1"]
    assert change.task.title == "Fix   the login bug"
    assert state.tasks == {}  # transitions never mutate the state


def test_submit_message_shortens_long_titles(state: State) -> None:
    change = tr.submit(state, tr.SubmitRequest(title="x" * 200), NOW)
    assert change.message == "submit task-1: " + "x" * 59 + "…"


def test_submit_keeps_request_fields(state: State) -> None:
    source = Source(kind="github-issue", actor="octocat", at=NOW - minutes(5), issue=7)
    task = submit(
        state,
        "Title",
        body="Body",
        priority=Priority.CRITICAL,
        mode="expert",
        requires=("linux", "gpu", "gpu"),
        deadline=NOW + minutes(90),
        max_attempts=5,
        source=source,
        group="issue-7",
    )
    assert task.body == "Body"
    assert task.priority == Priority.CRITICAL
    assert task.mode == task.requested_mode == "expert"
    assert task.requires == ["gpu", "linux"]
    assert task.deadline == NOW + minutes(90)
    assert task.max_attempts == 5
    assert task.source == source  # its own time is kept
    assert task.group == "issue-7"


def test_submit_skips_numbers_already_taken(state: State) -> None:
    submit(state, "explicit", task_id="task-1")
    assert state.meta.next_task_number == 1  # an explicit id does not use the counter
    assert submit(state, "auto").id == "task-2"
    assert state.meta.next_task_number == 3


def test_submit_explicit_id(state: State) -> None:
    change = tr.submit(state, tr.SubmitRequest(title="t", task_id="fix-login"), NOW)
    assert change.task is not None
    assert change.task.id == "fix-login"
    assert change.meta is None
    assert change.message == "submit fix-login: t"


def test_submit_duplicate_id(state: State) -> None:
    submit(state, "t", task_id="fix-login")
    with pytest.raises(UsageError, match="exists already"):
        tr.submit(state, tr.SubmitRequest(title="t", task_id="fix-login"), NOW)
    submit(state, "auto")  # task-1
    with pytest.raises(UsageError, match="exists already"):
        tr.submit(state, tr.SubmitRequest(title="t", task_id="task-1"), NOW)


@pytest.mark.parametrize(
    ("request_fields", "match"),
    [
        ({"title": "   "}, "title is empty"),
        ({"title": "t", "mode": "turbo"}, "unknown mode 'turbo'"),
        ({"title": "t", "depends_on": ("task-9",)}, "unknown dependency task-9"),
        ({"title": "t", "task_id": "Bad Id"}, "invalid task id"),
        ({"title": "t", "task_id": "../escape"}, "invalid task id"),
        ({"title": "t", "requires": ("GPU",)}, "invalid capability"),
        ({"title": "t", "max_attempts": 0}, "max-attempts"),
        ({"title": "t", "max_attempts": 101}, "max-attempts"),
    ],
)
def test_submit_usage_errors(state: State, request_fields: dict[str, object], match: str) -> None:
    with pytest.raises(UsageError, match=match):
        tr.submit(state, tr.SubmitRequest(**request_fields), NOW)  # type: ignore[arg-type]


def test_submit_blocked_until_dependencies_succeed(state: State) -> None:
    dep1 = submit(state, "dep1")
    dep2 = submit(state, "dep2")
    child = submit(state, "child", depends_on=(dep1.id, dep2.id, dep1.id))
    assert child.status == TaskStatus.BLOCKED
    assert child.depends_on == ["task-1", "task-2"]
    assert child.status_reason == "waiting for task-1, task-2"


def test_submit_queued_when_dependencies_already_succeeded(state: State) -> None:
    dep = submit(state, "dep")
    claim(state)
    complete(state, dep.id)
    child = submit(state, "child", depends_on=(dep.id,))
    assert child.status == TaskStatus.QUEUED


@pytest.mark.parametrize(
    ("title", "shown"),
    [
        ("two\nlines", "\\n at position 4"),
        ("\x1b[2J clear", "\\x1b at position 1"),
        ("evil\u202etxt.exe", "\\u202e at position 5"),
        ("zero\u200bwidth", "\\u200b at position 5"),
        ("tab\there", "\\t at position 4"),
    ],
)
def test_submit_refuses_control_and_invisible_characters_in_titles(state: State, title: str, shown: str) -> None:
    with pytest.raises(UsageError, match=f"control or invisible formatting character \\({re.escape(shown)}\\)"):
        tr.submit(state, tr.SubmitRequest(title=title), NOW)


def test_submit_says_when_a_title_holds_bytes_that_are_not_utf8(state: State) -> None:
    with pytest.raises(UsageError, match=r"title holds a byte that is not UTF-8 \(\\xff at position 2\)"):
        tr.submit(state, tr.SubmitRequest(title="a\udcffb"), NOW)


def test_submit_bounds_the_title_by_the_branch_limit(state: State) -> None:
    assert submit(state, "x" * Limits().max_title_chars).title == "x" * 256
    says = r"title is 257 characters long, over the limit of 256 \(see 'coordinator limits'\)"
    with pytest.raises(UsageError, match=says):
        tr.submit(state, tr.SubmitRequest(title="x" * 257), NOW)
    with pytest.raises(UsageError, match="over the limit"):
        tr.submit(state, tr.SubmitRequest(title="x" * 501), NOW)  # the model's own bound is never reached


def test_submit_bounds_the_body_in_bytes_and_says_where_big_inputs_go(state: State) -> None:
    limit = Limits().max_body_bytes
    assert len(submit(state, "fits", body="x" * limit).body) == limit
    with pytest.raises(UsageError) as err:
        tr.submit(state, tr.SubmitRequest(title="big", body="é" * (limit // 2 + 1)), NOW)  # 2 bytes each
    message = str(err.value)
    assert f"the body is {limit + 2} bytes, over the limit of {limit} bytes" in message
    assert "see 'coordinator limits'" in message
    assert "commit big inputs to the repository" in message


def test_submit_uses_the_limits_the_state_carries(state: State) -> None:
    # The store gives the state the limits of config.json (State.limits); the transition reads them from there.
    state.limits = Limits(max_body_bytes=10, max_title_chars=5)
    with pytest.raises(UsageError, match="over the limit of 10 bytes"):
        tr.submit(state, tr.SubmitRequest(title="t", body="x" * 11), NOW)
    with pytest.raises(UsageError, match="over the limit of 5 "):
        tr.submit(state, tr.SubmitRequest(title="sixsix"), NOW)
    assert submit(state, "five5", body="x" * 10).id == "task-1"


def test_submit_refuses_a_body_that_is_not_text(state: State) -> None:
    with pytest.raises(UsageError, match=r"body is not valid text .*position 3.*save it as UTF-8"):
        tr.submit(state, tr.SubmitRequest(title="t", body="ab\udcff"), NOW)


@pytest.mark.parametrize("ending", ["failed", "cancelled"])
def test_submit_refuses_a_dependency_that_ended_without_success(state: State, ending: str) -> None:
    dep = submit(state, "dep", max_attempts=1)
    if ending == "failed":
        claim(state)
        fail(state, dep.id)
    else:
        apply(state, tr.cancel(state, task_id=dep.id, now=NOW))
    assert state.tasks[dep.id].status.value == ending
    with pytest.raises(UsageError) as err:
        tr.submit(state, tr.SubmitRequest(title="child", depends_on=(dep.id,)), NOW)
    message = str(err.value)
    assert f"dependency task-1 is {ending}" in message
    assert "'coordinator retry task-1'" in message and "--allow-failed-dependency" in message
    child = submit(state, "child", depends_on=(dep.id,), allow_failed_dependency=True)
    assert child.status == TaskStatus.BLOCKED
    assert child.status_reason == f"waiting for task-1 ({ending}: retry it)"
    apply(state, tr.retry(state, task_id=dep.id, now=NOW))
    claim(state)
    apply(state, tr.complete(state, task_id=dep.id, runner="runner-a", result=AttemptResult(), now=NOW))
    assert state.tasks[child.id].status == TaskStatus.QUEUED  # a retry that succeeds unblocks it


def test_an_unreadable_meta_json_is_repaired_by_submit_without_reusing_an_id(state: State) -> None:
    submit(state, "one")
    submit(state, "two")
    state.problems["tasks/00/task-7.json"] = Problem("tasks/00/task-7.json", "bad", collection="tasks", key="task-7")
    state.problems["meta.json"] = Problem("meta.json", "invalid next_task_number: Input should be less than 1e9")
    change = tr.submit(state, tr.SubmitRequest(title="t"), NOW)
    assert change.task is not None and change.task.id == "task-8"  # past every task on the branch, readable or not
    assert change.meta is not None and change.meta.next_task_number == 9
    assert "repair meta.json (it was unreadable: invalid next_task_number" in change.message


# ---------------------------------------------------------------------------------------------------- claim


def test_claim_leases_the_best_task(state: State) -> None:
    submit(state, "low", priority=Priority.LOW)
    submit(state, "high", priority=Priority.HIGH)
    change = tr.claim(state, runner="runner-a", capabilities=[], lease_ttl=TTL, now=NOW)
    assert change.message == "claim task-2 by runner-a, attempt 1 (simple)"
    task = change.task
    assert task is not None
    assert task.id == "task-2"
    assert task.status == TaskStatus.RUNNING
    assert task.lease is not None
    assert task.lease.runner == "runner-a"
    assert task.lease.attempt == 1
    assert task.lease.acquired_at == NOW
    assert task.lease.expires_at == NOW + TTL
    [attempt] = task.attempts
    assert (attempt.number, attempt.round, attempt.runner, attempt.mode) == (1, 0, "runner-a", "simple")
    assert attempt.outcome == AttemptOutcome.RUNNING
    assert attempt.started_at == NOW
    assert task.current_attempt() == attempt


def test_claim_records_the_mode(state: State) -> None:
    submit(state, "t", mode="complex")
    change = tr.claim(state, runner="runner-a", capabilities=[], lease_ttl=TTL, now=NOW)
    assert change.message == "claim task-1 by runner-a, attempt 1 (complex)"
    assert change.task is not None
    assert change.task.attempts[0].mode == "complex"


def test_claim_with_nothing_to_do(state: State) -> None:
    submit(state, "gpu only", requires=("gpu",))
    change = tr.claim(state, runner="runner-a", capabilities=["linux"], lease_ttl=TTL, now=NOW)
    assert change.task is None
    assert change.empty
    assert change.message == ""


def test_claim_requeues_expired_leases_first_and_counts_them(state: State) -> None:
    submit(state, "t")
    claim(state, "runner-a")
    later = NOW + TTL + minutes(1)
    change = tr.claim(state, runner="runner-b", capabilities=[], lease_ttl=TTL, now=later)
    assert change.message == "claim task-1 by runner-b, attempt 2 (simple); requeue task-1 (lease of runner-a expired)"
    assert len(change.tasks) == 1  # the requeue and the claim are one file write
    task = change.task
    assert task is not None
    first, second = task.attempts
    assert first.outcome == AttemptOutcome.LEASE_EXPIRED
    assert first.counted
    assert first.finished_at == later
    assert first.reason is not None
    assert "runner-a" in first.reason
    assert second.runner == "runner-b"
    assert second.outcome == AttemptOutcome.RUNNING
    assert task.lease is not None
    assert task.lease.runner == "runner-b"
    assert task.lease.attempt == 2
    assert task.attempts_left() == 1


def test_claim_requeues_even_when_it_claims_another_task(state: State) -> None:
    submit(state, "gpu", requires=("gpu",), priority=Priority.CRITICAL)
    submit(state, "plain", priority=Priority.LOW)
    claim(state, "runner-gpu", ["gpu"])
    later = NOW + TTL
    change = apply(state, tr.claim(state, runner="runner-b", capabilities=[], lease_ttl=TTL, now=later))
    assert (
        change.message == "claim task-2 by runner-b, attempt 1 (simple); requeue task-1 (lease of runner-gpu expired)"
    )
    assert state.tasks["task-1"].status == TaskStatus.QUEUED
    assert state.tasks["task-1"].lease is None
    assert state.tasks["task-1"].status_reason == "requeued: lease of runner-gpu expired"


def test_claim_fails_an_expired_task_without_attempts_left(state: State) -> None:
    submit(state, "t", max_attempts=1)
    claim(state, "runner-a")
    change = apply(state, tr.claim(state, runner="runner-b", capabilities=[], lease_ttl=TTL, now=NOW + TTL))
    assert change.task is None
    assert change.message == "fail task-1 (lease of runner-a expired, no attempts left)"
    task = state.tasks["task-1"]
    assert task.status == TaskStatus.FAILED
    assert task.lease is None
    assert task.status_reason == "attempts exhausted: lease of runner-a expired"


def test_claim_does_not_touch_live_leases(state: State) -> None:
    submit(state, "t")
    claim(state, "runner-a")
    change = tr.claim(state, runner="runner-b", capabilities=[], lease_ttl=TTL, now=NOW + TTL - minutes(1))
    assert change.empty


def test_requeue_expired_alone(state: State) -> None:
    submit(state, "t")
    claim(state, "runner-a")
    assert tr.requeue_expired(state, NOW + minutes(1)).empty
    change = expire(state)
    assert change.message == "requeue task-1 (lease of runner-a expired)"
    assert change.task is None
    assert state.tasks["task-1"].status == TaskStatus.QUEUED


def test_claim_writes_the_heartbeat_file(state: State) -> None:
    submit(state, "t")
    runner = make_runner("runner-a", ["linux"], running=["other-task"])
    change = tr.claim(state, runner="runner-a", capabilities=["linux"], lease_ttl=TTL, now=NOW, heartbeat=runner)
    [written] = change.runners
    assert written.name == "runner-a"
    assert written.last_heartbeat == NOW
    assert written.running == ["other-task", "task-1"]
    assert written.capabilities == ["linux"]


def test_claim_with_nothing_to_do_writes_no_heartbeat(state: State) -> None:
    change = tr.claim(state, runner="runner-a", capabilities=[], lease_ttl=TTL, now=NOW, heartbeat=make_runner())
    assert change.runners == ()
    assert change.empty


def test_heartbeat(state: State) -> None:
    runner = make_runner("runner-a")
    change = tr.heartbeat(state, runner=runner, now=NOW)
    assert change.message == "heartbeat runner-a (idle)"
    assert change.runners[0].last_heartbeat == NOW
    assert change.tasks == ()


def test_claim_respects_groups(state: State) -> None:
    submit(state, "one", group="issue-1")
    submit(state, "two", group="issue-1")
    submit(state, "three", group="issue-2", priority=Priority.LOW)
    assert claim(state, "runner-a").id == "task-1"  # type: ignore[union-attr]
    assert claim(state, "runner-b").id == "task-3"  # type: ignore[union-attr]
    assert claim(state, "runner-c") is None


# ---------------------------------------------------------------------------------------------------- renew


def test_renew_extends_the_lease(state: State) -> None:
    submit(state, "t")
    claim(state, "runner-a")
    later = NOW + minutes(8)
    change = apply(state, tr.renew(state, task_id="task-1", runner="runner-a", lease_ttl=TTL, now=later))
    assert change.message == "renew task-1 lease of runner-a"
    lease = state.tasks["task-1"].lease
    assert lease is not None
    assert lease.expires_at == later + TTL
    assert lease.renewed_at == later
    assert lease.acquired_at == NOW
    # The renewed lease is no longer expired where the old one would have been.
    assert tr.requeue_expired(state, NOW + TTL + minutes(1)).empty


def test_renew_after_cancel(state: State) -> None:
    submit(state, "t")
    claim(state, "runner-a")
    apply(state, tr.cancel(state, task_id="task-1", now=NOW, by="alice"))
    with pytest.raises(NotLeaseHolder, match="not leased to runner-a any more \\(cancelled\\)"):
        tr.renew(state, task_id="task-1", runner="runner-a", lease_ttl=TTL, now=NOW)


def test_renew_after_reclaim(state: State) -> None:
    submit(state, "t")
    claim(state, "runner-a")
    claim(state, "runner-b", now=NOW + TTL)
    with pytest.raises(NotLeaseHolder):
        tr.renew(state, task_id="task-1", runner="runner-a", lease_ttl=TTL, now=NOW + TTL)
    # The new holder can renew.
    apply(state, tr.renew(state, task_id="task-1", runner="runner-b", lease_ttl=TTL, now=NOW + TTL))


def test_renew_by_a_stranger_or_on_a_queued_task(state: State) -> None:
    submit(state, "t")
    with pytest.raises(NotLeaseHolder):
        tr.renew(state, task_id="task-1", runner="runner-a", lease_ttl=TTL, now=NOW)
    claim(state, "runner-a")
    with pytest.raises(NotLeaseHolder):
        tr.renew(state, task_id="task-1", runner="runner-b", lease_ttl=TTL, now=NOW)
    with pytest.raises(TaskNotFound):
        tr.renew(state, task_id="task-9", runner="runner-a", lease_ttl=TTL, now=NOW)


# ------------------------------------------------------------------------------------------------- complete


def test_complete_records_the_result(state: State) -> None:
    submit(state, "t")
    claim(state, "runner-a")
    done = NOW + minutes(3)
    change = complete(
        state,
        "task-1",
        "runner-a",
        now=done,
        summary="fixed",
        cost_usd=0.5,
        tokens=Tokens(input=10, output=20),
        branch="fix/login",
    )
    assert change.message == "complete task-1 by runner-a, attempt 1"
    task = state.tasks["task-1"]
    assert task.status == TaskStatus.SUCCEEDED
    assert task.lease is None
    [attempt] = task.attempts
    assert attempt.outcome == AttemptOutcome.SUCCEEDED
    assert attempt.counted
    assert (attempt.summary, attempt.cost_usd, attempt.branch) == ("fixed", 0.5, "fix/login")
    assert attempt.tokens == Tokens(input=10, output=20)
    assert attempt.finished_at == done
    assert attempt.duration_seconds == 180
    assert (attempt.number, attempt.runner, attempt.mode) == (1, "runner-a", "simple")


def test_complete_unblocks_dependents(state: State) -> None:
    submit(state, "a")
    submit(state, "b")
    submit(state, "needs a", depends_on=("task-1",))
    submit(state, "needs a and b", depends_on=("task-1", "task-2"))
    claim(state, "runner-a")
    change = complete(state, "task-1", "runner-a")
    assert change.message == "complete task-1 by runner-a, attempt 1; unblock task-3"
    assert state.tasks["task-3"].status == TaskStatus.QUEUED
    assert state.tasks["task-3"].status_reason is None
    assert state.tasks["task-4"].status == TaskStatus.BLOCKED
    assert claim(state, "runner-a").id == "task-2"  # type: ignore[union-attr]
    change = complete(state, "task-2", "runner-a")
    assert change.message == "complete task-2 by runner-a, attempt 1; unblock task-4"
    assert state.tasks["task-4"].status == TaskStatus.QUEUED


def test_late_result_after_lease_expiry_is_accepted(state: State) -> None:
    submit(state, "t")
    submit(state, "child", depends_on=("task-1",))
    claim(state, "runner-a")
    expire(state)
    assert state.tasks["task-1"].status == TaskStatus.QUEUED
    change = complete(state, "task-1", "runner-a", now=NOW + TTL + minutes(2), summary="late but done")
    assert change.message == "complete task-1 by runner-a, attempt 1; unblock task-2"
    task = state.tasks["task-1"]
    assert task.status == TaskStatus.SUCCEEDED
    assert task.attempts[0].outcome == AttemptOutcome.SUCCEEDED
    assert task.attempts[0].summary == "late but done"
    assert state.tasks["task-2"].status == TaskStatus.QUEUED


def test_result_after_expiry_but_before_anyone_noticed(state: State) -> None:
    submit(state, "t")
    claim(state, "runner-a")
    complete(state, "task-1", "runner-a", now=NOW + TTL + minutes(5))
    assert state.tasks["task-1"].status == TaskStatus.SUCCEEDED


def test_late_result_while_another_runner_holds_the_task(state: State) -> None:
    submit(state, "t")
    claim(state, "runner-a")
    claim(state, "runner-b", now=NOW + TTL)
    change = complete(state, "task-1", "runner-a", now=NOW + TTL + minutes(1), summary="a's work")
    assert change.message == "record late result of task-1 attempt 1 by runner-a (task running)"
    task = state.tasks["task-1"]
    assert task.status == TaskStatus.RUNNING
    assert task.lease is not None
    assert task.lease.runner == "runner-b"
    assert task.attempts[0].outcome == AttemptOutcome.SUCCEEDED
    assert task.attempts[0].summary == "a's work"
    assert task.attempts[1].outcome == AttemptOutcome.RUNNING
    # runner-b still finishes normally.
    complete(state, "task-1", "runner-b", now=NOW + TTL + minutes(2))
    assert state.tasks["task-1"].status == TaskStatus.SUCCEEDED


def test_late_result_on_a_cancelled_task_is_recorded_only(state: State) -> None:
    submit(state, "t")
    claim(state, "runner-a")
    expire(state)
    apply(state, tr.cancel(state, task_id="task-1", now=NOW + TTL + minutes(2), by="alice"))
    change = complete(state, "task-1", "runner-a", now=NOW + TTL + minutes(3))
    assert change.message == "record late result of task-1 attempt 1 by runner-a (task cancelled)"
    assert state.tasks["task-1"].status == TaskStatus.CANCELLED


def test_complete_by_a_runner_without_an_attempt(state: State) -> None:
    submit(state, "t")
    with pytest.raises(NotLeaseHolder):
        tr.complete(state, task_id="task-1", runner="runner-a", result=AttemptResult(), now=NOW)
    claim(state, "runner-a")
    with pytest.raises(NotLeaseHolder, match="no attempt by runner-b"):
        tr.complete(state, task_id="task-1", runner="runner-b", result=AttemptResult(), now=NOW)
    with pytest.raises(TaskNotFound):
        tr.complete(state, task_id="task-9", runner="runner-a", result=AttemptResult(), now=NOW)


def test_complete_twice(state: State) -> None:
    submit(state, "t")
    claim(state, "runner-a")
    complete(state, "task-1", "runner-a")
    with pytest.raises(NotLeaseHolder):
        tr.complete(state, task_id="task-1", runner="runner-a", result=AttemptResult(), now=NOW)


# ----------------------------------------------------------------------------------------------------- fail


def test_fail_requeues_and_escalates(state: State) -> None:
    submit(state, "t")
    claim(state, "runner-a")
    change = fail(state, "task-1", "runner-a", "max turns", next_mode="complex", now=NOW + minutes(2))
    assert change.message == "fail task-1 attempt 1 by runner-a, requeue, escalate simple -> complex: max turns"
    task = state.tasks["task-1"]
    assert task.status == TaskStatus.QUEUED
    assert task.lease is None
    assert task.mode == "complex"
    assert task.requested_mode == "simple"
    assert task.status_reason == "attempt 1 failed: max turns"
    [attempt] = task.attempts
    assert attempt.outcome == AttemptOutcome.FAILED
    assert attempt.counted
    assert attempt.mode == "simple"
    assert attempt.reason == "max turns"
    assert task.attempts_left() == 2
    claimed = claim(state, "runner-b", now=NOW + minutes(3))
    assert claimed is not None
    assert claimed.attempts[-1].mode == "complex"


def test_fail_without_escalation_keeps_the_mode(state: State) -> None:
    submit(state, "t", mode="complex")
    claim(state, "runner-a")
    change = fail(state, "task-1", "runner-a", "flaky test")
    assert change.message == "fail task-1 attempt 1 by runner-a, requeue: flaky test"
    assert state.tasks["task-1"].mode == "complex"


def test_fail_with_unknown_next_mode(state: State) -> None:
    submit(state, "t")
    claim(state, "runner-a")
    with pytest.raises(UsageError, match="unknown mode 'turbo'"):
        tr.fail(state, task_id="task-1", runner="runner-a", reason="x", now=NOW, next_mode="turbo")


def test_fail_is_final_when_attempts_are_exhausted(state: State) -> None:
    submit(state, "t", max_attempts=2)
    for attempt in (1, 2):
        claim(state, "runner-a", now=NOW + minutes(attempt))
        change = fail(state, "task-1", "runner-a", f"boom {attempt}", now=NOW + minutes(attempt))
    assert change.message == "fail task-1 attempt 2 by runner-a, task failed: boom 2"
    task = state.tasks["task-1"]
    assert task.status == TaskStatus.FAILED
    assert task.status_reason == "attempts exhausted: boom 2"
    assert task.lease is None
    assert task.attempts_left() == 0
    assert claim(state, "runner-a", now=NOW + minutes(5)) is None


def test_non_retryable_failure_is_final(state: State) -> None:
    submit(state, "t")
    claim(state, "runner-a")
    change = fail(state, "task-1", "runner-a", "the issue is invalid", retryable=False)
    assert change.message == "fail task-1 attempt 1 by runner-a, task failed: the issue is invalid"
    task = state.tasks["task-1"]
    assert task.status == TaskStatus.FAILED
    assert task.status_reason == "the issue is invalid"
    assert task.attempts_left() == 2


def test_release_keeps_the_budget(state: State) -> None:
    submit(state, "t", max_attempts=1)
    claim(state, "runner-a")
    change = apply(state, tr.release(state, task_id="task-1", runner="runner-a", reason="shutting down", now=NOW))
    assert change.message == "release task-1 attempt 1 by runner-a, requeue: shutting down"
    task = state.tasks["task-1"]
    assert task.status == TaskStatus.QUEUED
    assert task.status_reason == "attempt 1 released: shutting down"
    assert task.attempts[0].outcome == AttemptOutcome.RELEASED
    assert not task.attempts[0].counted
    assert task.attempts_left() == 1
    claimed = claim(state, "runner-b")
    assert claimed is not None
    assert claimed.attempts[-1].number == 2


def test_fail_by_a_runner_that_does_not_hold_the_task(state: State) -> None:
    submit(state, "t")
    claim(state, "runner-a")
    with pytest.raises(NotLeaseHolder):
        tr.fail(state, task_id="task-1", runner="runner-b", reason="x", now=NOW)


def test_late_failure_does_not_disturb_the_new_holder(state: State) -> None:
    submit(state, "t")
    claim(state, "runner-a")
    claim(state, "runner-b", now=NOW + TTL)
    change = fail(state, "task-1", "runner-a", "crashed", now=NOW + TTL + minutes(1), retryable=False)
    assert change.message == "record late failure of task-1 attempt 1 by runner-a"
    task = state.tasks["task-1"]
    assert task.status == TaskStatus.RUNNING
    assert task.lease is not None
    assert task.lease.runner == "runner-b"
    assert task.attempts[0].outcome == AttemptOutcome.FAILED


# --------------------------------------------------------------------------------------------------- cancel


def test_cancel_a_queued_task(state: State) -> None:
    submit(state, "t")
    change = apply(state, tr.cancel(state, task_id="task-1", now=NOW, by="alice", reason="not needed"))
    assert change.message == "cancel task-1 by alice"
    task = state.tasks["task-1"]
    assert task.status == TaskStatus.CANCELLED
    assert task.status_reason == "cancelled by alice: not needed"
    assert task.attempts == []


def test_cancel_a_running_task_ends_its_attempt(state: State) -> None:
    submit(state, "t")
    claim(state, "runner-a")
    apply(state, tr.cancel(state, task_id="task-1", now=NOW + minutes(1), by="alice"))
    task = state.tasks["task-1"]
    assert task.status == TaskStatus.CANCELLED
    assert task.lease is None
    assert task.attempts[0].outcome == AttemptOutcome.CANCELLED
    assert task.attempts[0].finished_at == NOW + minutes(1)


def test_cancel_a_blocked_task(state: State) -> None:
    submit(state, "dep")
    submit(state, "child", depends_on=("task-1",))
    apply(state, tr.cancel(state, task_id="task-2", now=NOW))
    assert state.tasks["task-2"].status == TaskStatus.CANCELLED
    assert state.blocked_tasks() == []


@pytest.mark.parametrize("end", ["complete", "fail", "cancel"])
def test_cancel_a_terminal_task(state: State, end: str) -> None:
    submit(state, "t")
    claim(state, "runner-a")
    if end == "complete":
        complete(state, "task-1", "runner-a")
    elif end == "fail":
        fail(state, "task-1", "runner-a", retryable=False)
    else:
        apply(state, tr.cancel(state, task_id="task-1", now=NOW))
    with pytest.raises(InvalidTransition, match="nothing to cancel"):
        tr.cancel(state, task_id="task-1", now=NOW)
    with pytest.raises(TaskNotFound):
        tr.cancel(state, task_id="task-9", now=NOW)


# ---------------------------------------------------------------------------------------------------- retry


def test_retry_a_failed_task_gives_a_fresh_budget(state: State) -> None:
    submit(state, "t", max_attempts=1)
    claim(state, "runner-a")
    fail(state, "task-1", "runner-a", next_mode="complex")
    assert state.tasks["task-1"].status == TaskStatus.FAILED
    change = apply(state, tr.retry(state, task_id="task-1", now=NOW + minutes(1), by="alice"))
    assert change.message == "retry task-1 by alice, round 1"
    task = state.tasks["task-1"]
    assert task.status == TaskStatus.QUEUED
    assert task.round == 1
    assert task.status_reason == "retried by alice"
    assert task.attempts_left() == 1
    assert task.mode == "simple"  # exhausted: the escalation was not applied; retry keeps the last mode
    claimed = claim(state, "runner-b", now=NOW + minutes(2))
    assert claimed is not None
    assert (claimed.attempts[-1].number, claimed.attempts[-1].round) == (2, 1)


def test_retry_in_another_mode(state: State) -> None:
    submit(state, "t")
    apply(state, tr.cancel(state, task_id="task-1", now=NOW))
    apply(state, tr.retry(state, task_id="task-1", now=NOW, mode="expert"))
    assert state.tasks["task-1"].mode == "expert"
    assert state.tasks["task-1"].status == TaskStatus.QUEUED
    with pytest.raises(UsageError, match="unknown mode"):
        tr.retry(state, task_id="task-1", now=NOW, mode="turbo")


def test_retry_a_cancelled_task_waits_for_its_dependencies(state: State) -> None:
    submit(state, "dep")
    submit(state, "child", depends_on=("task-1",))
    apply(state, tr.cancel(state, task_id="task-2", now=NOW))
    apply(state, tr.retry(state, task_id="task-2", now=NOW, by="bob"))
    task = state.tasks["task-2"]
    assert task.status == TaskStatus.BLOCKED
    assert task.status_reason == "retried by bob; waiting for task-1"
    claim(state, "runner-a")
    complete(state, "task-1", "runner-a")
    assert state.tasks["task-2"].status == TaskStatus.QUEUED


def test_retry_a_succeeded_task(state: State) -> None:
    submit(state, "t")
    claim(state, "runner-a")
    complete(state, "task-1", "runner-a")
    with pytest.raises(InvalidTransition, match="submit a new task"):
        tr.retry(state, task_id="task-1", now=NOW)


def test_retry_a_task_that_has_not_ended(state: State) -> None:
    submit(state, "t")
    submit(state, "child", depends_on=("task-1",))
    with pytest.raises(InvalidTransition, match="is queued"):
        tr.retry(state, task_id="task-1", now=NOW)
    with pytest.raises(InvalidTransition, match="is blocked"):
        tr.retry(state, task_id="task-2", now=NOW)
    claim(state, "runner-a")
    with pytest.raises(InvalidTransition, match="is running"):
        tr.retry(state, task_id="task-1", now=NOW)
    with pytest.raises(TaskNotFound):
        tr.retry(state, task_id="task-9", now=NOW)


# ------------------------------------------------------------ reports never rewrite another attempt (regressions)


def test_result_fields_cannot_rewrite_the_attempt_identity(state: State) -> None:
    submit(state, "t", max_attempts=1)
    claim(state, "runner-a")
    # e.g. a result file made by copying an attempt out of `coordinator show --json`
    result = AttemptResult.model_validate(
        {"summary": "done?", "number": 7, "runner": "someone-else", "mode": "expert", "round": 4}
    )
    apply(state, tr.fail(state, task_id="task-1", runner="runner-a", reason="x", now=NOW, result=result))
    task = state.tasks["task-1"]
    [attempt] = task.attempts
    assert (attempt.number, attempt.runner, attempt.mode, attempt.round) == (1, "runner-a", "simple", 0)
    # The failure used the only attempt (today: round 4 does not count, the task is requeued with 1 left).
    assert task.status == TaskStatus.FAILED


def test_duplicate_complete_is_not_recorded_on_an_older_expired_attempt(state: State) -> None:
    submit(state, "t")
    claim(state, "runner-a")  # attempt 1
    expire(state)  # attempt 1: lease_expired
    claim(state, "runner-a", now=NOW + TTL + minutes(2))  # attempt 2, same runner
    complete(state, "task-1", "runner-a", now=NOW + TTL + minutes(3), cost_usd=1.0)
    # The runner retries its report (e.g. it did not see the push succeed): attempt 2 is already recorded.
    with pytest.raises(NotLeaseHolder):
        tr.complete(
            state, task_id="task-1", runner="runner-a", result=AttemptResult(cost_usd=1.0), now=NOW + TTL + minutes(4)
        )


def test_result_of_a_cancelled_attempt_is_not_moved_to_an_older_attempt(state: State) -> None:
    submit(state, "t")
    claim(state, "runner-a")
    expire(state)
    claim(state, "runner-a", now=NOW + TTL + minutes(2))
    apply(state, tr.cancel(state, task_id="task-1", now=NOW + TTL + minutes(3), by="alice"))
    with pytest.raises(NotLeaseHolder, match="its attempt 2 ended: cancelled"):
        complete(state, "task-1", "runner-a", now=NOW + TTL + minutes(4), summary="work of attempt 2")
    first = state.tasks["task-1"].attempts[0]
    assert first.outcome == AttemptOutcome.LEASE_EXPIRED
    assert first.summary is None


def test_report_naming_its_attempt(state: State) -> None:
    submit(state, "t")
    claim(state, "runner-a")
    change = apply(
        state, tr.complete(state, task_id="task-1", runner="runner-a", result=AttemptResult(), now=NOW, attempt=1)
    )
    assert change.message == "complete task-1 by runner-a, attempt 1"
    assert state.tasks["task-1"].status == TaskStatus.SUCCEEDED


@pytest.mark.parametrize("attempt", [2, 0])
def test_report_naming_an_attempt_that_is_not_the_runners(state: State, attempt: int) -> None:
    submit(state, "t")
    claim(state, "runner-a")
    with pytest.raises(NotLeaseHolder, match=f"has no attempt {attempt} by runner-a"):
        tr.complete(state, task_id="task-1", runner="runner-a", result=AttemptResult(), now=NOW, attempt=attempt)
    claim(state, "runner-b", now=NOW + TTL)  # attempt 2 is runner-b's
    with pytest.raises(NotLeaseHolder):
        tr.fail(state, task_id="task-1", runner="runner-a", reason="x", now=NOW + TTL, attempt=2)


def test_named_late_report_of_an_older_expired_attempt(state: State) -> None:
    # runner-a's attempt 1 expired; runner-b ran attempt 2 and gave it back; runner-a then ran attempt 3, which
    # failed. The result of attempt 1 that arrives now names its attempt and is taken (the task is queued).
    submit(state, "t", max_attempts=5)
    claim(state, "runner-a")
    claim(state, "runner-b", now=NOW + TTL)
    apply(state, tr.release(state, task_id="task-1", runner="runner-b", reason="shutdown", now=NOW + TTL))
    claim(state, "runner-a", now=NOW + TTL + minutes(1))
    fail(state, "task-1", "runner-a", "boom", now=NOW + TTL + minutes(2))
    assert state.tasks["task-1"].status == TaskStatus.QUEUED
    with pytest.raises(NotLeaseHolder, match="its attempt 3 ended: failed"):
        tr.complete(state, task_id="task-1", runner="runner-a", result=AttemptResult(), now=NOW + TTL + minutes(3))
    change = apply(
        state,
        tr.complete(
            state,
            task_id="task-1",
            runner="runner-a",
            result=AttemptResult(summary="from attempt 1"),
            now=NOW + TTL + minutes(3),
            attempt=1,
        ),
    )
    assert change.message == "complete task-1 by runner-a, attempt 1"
    task = state.tasks["task-1"]
    assert task.status == TaskStatus.SUCCEEDED
    assert task.attempts[0].outcome == AttemptOutcome.SUCCEEDED
    assert task.attempts[0].summary == "from attempt 1"
    assert task.attempts[2].outcome == AttemptOutcome.FAILED


@pytest.mark.parametrize("how", ["complete", "fail", "release"])
def test_report_on_an_older_attempt_while_holding_a_newer_lease(state: State, how: str) -> None:
    # E.g. a runner with two slots: slot 1's lease on attempt 1 expired (network trouble), slot 2 claimed the
    # task again (attempt 2); then slot 1's agent finishes and reports attempt 1 by number.
    submit(state, "t")
    claim(state, "runner-a")
    claim(state, "runner-a", now=NOW + TTL)
    later = NOW + TTL + minutes(1)
    if how == "complete":
        change = tr.complete(state, task_id="task-1", runner="runner-a", result=AttemptResult(), now=later, attempt=1)
    else:
        change = tr.fail(
            state, task_id="task-1", runner="runner-a", reason="x", now=later, attempt=1, counted=how == "fail"
        )
    apply(state, change)
    task = state.tasks["task-1"]
    # Attempt 1 is recorded as a late result; attempt 2 keeps running under its lease.
    assert task.attempts[1].outcome == AttemptOutcome.RUNNING
    assert task.status == TaskStatus.RUNNING
    assert task.lease is not None
    assert task.lease.attempt == 2
