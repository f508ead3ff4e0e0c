"""A result that arrives after its lease expired: work is never lost when nobody else took the task."""

from __future__ import annotations

from datetime import timedelta

import pytest
from core_helpers import NOW, TTL, apply, claim, complete, minutes, submit

from coordinator.core import transitions as tr
from coordinator.core.state import State
from coordinator.errors import NotLeaseHolder
from coordinator.models import AttemptOutcome, TaskStatus


@pytest.fixture
def state() -> State:
    return State.build()


def test_a_late_success_completes_a_task_its_own_expiry_failed(state: State) -> None:
    # issue 7: submit --max-attempts 1; the lease expires and the next claim fails the task (budget spent);
    # then the first runner's success arrives. Nobody else worked on it: the task succeeds, dependents run.
    submit(state, "only one try", max_attempts=1)
    submit(state, "child", depends_on=("task-1",))
    claim(state, "runner-a")
    after_expiry = NOW + TTL + timedelta(seconds=1)
    apply(state, tr.claim(state, runner="runner-b", capabilities=[], lease_ttl=TTL, now=after_expiry))
    assert state.tasks["task-1"].status == TaskStatus.FAILED
    change = complete(state, "task-1", "runner-a", now=NOW + TTL + minutes(1), summary="done after all")
    assert change.message == "complete task-1 by runner-a, attempt 1; unblock task-2"
    task = state.tasks["task-1"]
    assert task.status == TaskStatus.SUCCEEDED and task.status_reason is None
    assert task.attempts[0].outcome == AttemptOutcome.SUCCEEDED
    assert state.tasks["task-2"].status == TaskStatus.QUEUED


def test_a_late_success_does_not_revive_a_task_failed_or_cancelled_otherwise(state: State) -> None:
    submit(state, "cancelled meanwhile")
    claim(state, "runner-a")
    apply(state, tr.cancel(state, task_id="task-1", now=NOW + minutes(1), by="alice"))
    with pytest.raises(NotLeaseHolder, match="ended: cancelled"):
        complete(state, "task-1", "runner-a", now=NOW + minutes(2))
    assert state.tasks["task-1"].status == TaskStatus.CANCELLED

    submit(state, "failed by a later attempt", max_attempts=2)
    claim(state, "runner-a")
    apply(state, tr.claim(state, runner="runner-b", capabilities=[], lease_ttl=TTL, now=NOW + TTL + minutes(1)))
    failed = tr.fail(
        state, task_id="task-2", runner="runner-b", reason="broken", now=NOW + TTL + minutes(2), retryable=False
    )
    apply(state, failed)
    complete(state, "task-2", "runner-a", now=NOW + TTL + minutes(3))
    assert state.tasks["task-2"].status == TaskStatus.FAILED  # runner-b's attempt came after: its verdict stands
    assert state.tasks["task-2"].attempts[0].outcome == AttemptOutcome.SUCCEEDED  # a's work is still recorded


def test_setting_modes_keeps_the_other_settings_and_says_what_changed(state: State) -> None:
    from coordinator.models import Limits

    state.limits = Limits(max_body_bytes=1000)
    modes = state.modes.model_copy(deep=True)
    modes.modes["simple"].max_turns = 7
    change = tr.set_modes(state, modes=modes, by="alice")
    assert change.message == "set modes by alice: simple.max_turns 20 -> 7"
    assert change.config is not None and change.config.limits.max_body_bytes == 1000
    assert tr.set_modes(state, modes=state.modes, by="alice").empty  # nothing changed: nothing to commit
