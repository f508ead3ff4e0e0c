"""Steering a task after it was made (:mod:`coordinator.core.transitions.steering`): feedback for the next attempt,
a new round with feedback (``/retry``), escalation and priority, as pure transitions on a real issue task's life."""

from __future__ import annotations

from datetime import datetime

import pytest

from coordinator.core.state import State
from coordinator.core.transitions import Change
from coordinator.core.transitions.github import IssueSettings
from coordinator.core.transitions.steering import (
    MAX_FEEDBACK,
    MAX_FEEDBACK_CHARS,
    add_feedback,
    escalate,
    escalation_target,
    feedback_text,
    retry_with_feedback,
    set_priority,
)
from coordinator.errors import InvalidTransition, TaskNotFound, UsageError
from coordinator.models import Feedback, Priority, TaskStatus
from coordinator.modes import Mode, ModesConfig
from coordinator.runner.prompt import build_prompt
from tests.core_helpers import apply
from tests.github_tasks import IssueLife, later, trigger


def said(text: str, *, author: str = "alice", minute: float = 1) -> Feedback:
    return Feedback(author=author, at=later(minute), text=text, kind="comment")


def feedback(life: IssueLife, text: str) -> Change:
    change = add_feedback(life.state, task_id=life.id, feedback=said(text), now=life.now)
    apply(life.state, change)
    life.task = life.state.tasks[life.id]
    return change


def new_round(life: IssueLife, text: str | None, *, mode: str | None = None, minute: float = 30) -> Change:
    """``/retry [text]`` (or ``/escalate [mode]`` with ``mode``) by alice in comment 77."""
    at = later(minute)
    made = trigger(actor="alice", event="issue_comment.created", at=at, comment_id=77, delivery=f"d-{minute}")
    hint = Feedback(author="alice", at=at, text=text, kind="retry") if text is not None else None

    def transition(state: State, now: datetime) -> Change:
        return retry_with_feedback(
            state,
            task_id=life.id,
            trigger=made,
            title=life.task.title,
            body=life.task.body,
            settings=IssueSettings(),
            feedback=hint,
            now=now,
            mode=mode,
        )

    life.step(transition)
    return life.changes[-1]


def failed_life(fails: int = 3) -> IssueLife:
    """An issue task whose attempts all failed (simple, complex, expert: each failure escalates)."""
    life = IssueLife()
    for escalated in ("complex", "expert", None)[:fails]:
        life.claim()
        life.fail("tests fail", next_mode=escalated)
    return life


# -- add_feedback ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["queued", "running"])
def test_feedback_is_kept_for_the_next_attempt_of_a_task_that_waits_or_runs(status: str) -> None:
    life = IssueLife()
    if status == "running":
        life.claim()
    change = feedback(life, "  please also update the docs \n")
    assert life.task.status == TaskStatus(status)
    [kept] = life.task.feedback
    assert (kept.text, kept.author, kept.kind, kept.round) == ("please also update the docs", "alice", "comment", 0)
    assert change.message == "feedback for issue-1 by alice"
    prompt = build_prompt(life.task, branch="coordinator/issue-1", attempt=2)
    assert "## What people said since the task was made" in prompt
    assert "alice commented on 2019-05-15 15:21 UTC:" in prompt and "> please also update the docs" in prompt


def test_a_blocked_task_takes_feedback_too() -> None:
    life = IssueLife()
    blocked = life.task.model_copy(update={"status": TaskStatus.BLOCKED})
    life.state.put_task(blocked)
    feedback(life, "wait for the API change")
    assert [f.text for f in life.task.feedback] == ["wait for the API change"]


@pytest.mark.parametrize("end", ["succeed", "fail", "cancel"])
def test_an_ended_task_takes_no_feedback(end: str) -> None:
    life = IssueLife()
    if end == "cancel":
        life.cancel()
    else:
        life.claim()
        life.complete(summary="done") if end == "succeed" else life.fail("no", next_mode=None)
        if end == "fail":
            for _ in range(2):
                life.claim()
                life.fail("no", next_mode=None)
    assert life.task.is_terminal
    with pytest.raises(InvalidTransition, match="comments reach only a task that waits or runs"):
        add_feedback(life.state, task_id=life.id, feedback=said("too late"), now=life.now)


def test_feedback_for_a_task_that_does_not_exist_says_so() -> None:
    life = IssueLife()
    with pytest.raises(TaskNotFound):
        add_feedback(life.state, task_id="issue-9", feedback=said("hello"), now=life.now)


def test_only_the_latest_feedback_is_kept() -> None:
    life = IssueLife()
    for n in range(MAX_FEEDBACK + 5):
        feedback(life, f"comment {n}")
    texts = [f.text for f in life.task.feedback]
    assert len(texts) == MAX_FEEDBACK
    assert texts[0] == "comment 5" and texts[-1] == f"comment {MAX_FEEDBACK + 4}"


def test_long_feedback_is_cut_saying_so() -> None:
    life = IssueLife()
    feedback(life, "x" * (MAX_FEEDBACK_CHARS + 500))
    [kept] = life.task.feedback
    assert len(kept.text) == MAX_FEEDBACK_CHARS
    assert kept.text.endswith("[... 500 more characters not kept]")
    assert feedback_text("y" * MAX_FEEDBACK_CHARS) == "y" * MAX_FEEDBACK_CHARS


def test_empty_feedback_keeps_nothing() -> None:
    life = IssueLife()
    feedback(life, "   \n ")
    assert life.task.feedback == []


def test_feedback_is_tagged_with_the_round_it_was_given_in() -> None:
    life = failed_life()
    new_round(life, None)
    feedback(life, "round two note")
    assert [(f.text, f.round) for f in life.task.feedback] == [("round two note", 1)]


# -- retry_with_feedback --------------------------------------------------------------------------------------


def test_retry_after_a_failure_starts_a_new_round_with_the_feedback_in_its_prompt() -> None:
    life = failed_life()
    assert life.task.status == TaskStatus.FAILED and life.task.mode == "expert"
    change = new_round(life, "more tests please")
    task = life.task
    assert task.status == TaskStatus.QUEUED and task.round == 1
    assert task.attempts_left() == task.max_attempts  # a fresh budget
    assert task.mode == "expert"  # the mode its last attempt ran in
    assert task.status_reason == "/retry by alice"
    assert [(f.text, f.kind, f.round) for f in task.feedback] == [("more tests please", "retry", 1)]
    link = task.github
    assert link is not None and link.trigger.comment_id == 77 and link.trigger.event == "issue_comment.created"
    assert change.task == task and "retrigger issue-1 by alice, round 1" in change.message
    prompt = build_prompt(task, branch="coordinator/issue-1", attempt=4)
    assert "alice asked for a retry on 2019-05-15 15:50 UTC:\n> more tests please" in prompt


def test_retry_keeps_the_mode_of_the_last_attempt() -> None:
    life = IssueLife()
    life.claim()
    life.fail("flaky", next_mode="complex")
    life.cancel()
    assert life.task.mode == "complex"
    new_round(life, None)
    assert life.task.mode == "complex" and life.task.feedback == []


def test_retry_in_a_named_mode_and_a_pending_escalation_is_forgotten() -> None:
    life = IssueLife()
    life.claim()
    life.step(lambda s, now: escalate(s, task_id=life.id, by="alice", now=now))
    assert life.task.next_mode == "complex"
    life.complete(summary="done")
    new_round(life, "try harder", mode="expert")
    assert (life.task.mode, life.task.next_mode) == ("expert", None)
    assert life.task.status_reason == "/escalate to expert by alice"


def test_feedback_of_an_earlier_round_stays_out_of_the_new_rounds_prompt() -> None:
    life = IssueLife()
    feedback(life, "round zero note")
    life.cancel()
    new_round(life, "round one hint")
    assert [(f.text, f.round) for f in life.task.feedback] == [("round zero note", 0), ("round one hint", 1)]
    prompt = build_prompt(life.task, branch="b", attempt=1)
    assert "round one hint" in prompt and "round zero note" not in prompt


@pytest.mark.parametrize("status", ["queued", "running"])
def test_retry_of_a_task_that_has_not_ended_is_refused(status: str) -> None:
    life = IssueLife()
    if status == "running":
        life.claim()
    with pytest.raises(InvalidTransition, match="only an ended task of an issue starts again"):
        new_round(life, "again")


def test_retry_in_an_unknown_mode_is_refused_naming_the_modes() -> None:
    life = failed_life()
    with pytest.raises(UsageError, match="unknown mode 'wizard': use one of complex, expert, simple"):
        new_round(life, None, mode="wizard")


# -- escalate -------------------------------------------------------------------------------------------------


def test_escalating_a_queued_task_changes_its_mode() -> None:
    life = IssueLife()
    change = life.step(lambda s, now: escalate(s, task_id=life.id, by="alice", now=now))
    assert (change.mode, change.next_mode, change.status) == ("complex", None, TaskStatus.QUEUED)
    assert "escalate issue-1 to complex by alice" in life.changes[-1].message
    life.step(lambda s, now: escalate(s, task_id=life.id, by="alice", now=now))
    assert life.task.mode == "expert"


def test_escalating_a_running_task_sets_the_mode_of_its_next_attempt() -> None:
    life = IssueLife()
    life.claim()
    life.step(lambda s, now: escalate(s, task_id=life.id, by="alice", now=now))
    assert (life.task.mode, life.task.next_mode) == ("simple", "complex")
    # twice: the next stronger of the one already chosen
    life.step(lambda s, now: escalate(s, task_id=life.id, by="alice", now=now))
    assert life.task.next_mode == "expert"
    # the person's choice wins over the runner's, and is used once
    life.fail("tests fail", next_mode="complex")
    assert (life.task.status, life.task.mode, life.task.next_mode) == (TaskStatus.QUEUED, "expert", None)
    assert life.claim().attempts[-1].mode == "expert"


def test_a_running_tasks_escalation_survives_its_lease_expiring() -> None:
    life = IssueLife()
    life.claim()
    life.step(lambda s, now: escalate(s, task_id=life.id, by="alice", now=now, mode="expert"))
    life.expire()
    assert (life.task.status, life.task.mode, life.task.next_mode) == (TaskStatus.QUEUED, "expert", None)


def test_escalating_to_a_named_mode() -> None:
    life = IssueLife()
    life.step(lambda s, now: escalate(s, task_id=life.id, by="alice", now=now, mode="expert"))
    assert life.task.mode == "expert"
    with pytest.raises(UsageError, match="unknown mode 'wizard'"):
        escalate(life.state, task_id=life.id, by="alice", now=life.now, mode="wizard")


def test_no_stronger_mode_is_a_clear_error_naming_the_modes() -> None:
    life = IssueLife()
    life.step(lambda s, now: escalate(s, task_id=life.id, by="alice", now=now, mode="expert"))
    with pytest.raises(InvalidTransition) as raised:
        escalate(life.state, task_id=life.id, by="alice", now=life.now)
    message = str(raised.value)
    assert "mode expert has no stronger mode to escalate to" in message
    assert "complex, expert, simple" in message  # what the person can name instead
    assert life.task.mode == "expert"


def test_escalating_an_ended_task_is_refused_it_takes_a_new_round() -> None:
    life = failed_life()
    with pytest.raises(InvalidTransition, match="/retry or /escalate starts a new round"):
        escalate(life.state, task_id=life.id, by="alice", now=life.now)


def test_the_escalation_target_follows_the_branchs_modes() -> None:
    life = IssueLife()
    modes = ModesConfig(
        default_mode="simple",
        modes={"simple": Mode(model="haiku", escalate_to="big"), "big": Mode(model="opus")},
    )
    life.state.config = life.state.config.model_copy(update={"modes": modes})
    assert escalation_target(life.state, life.task, None) == "big"
    assert escalation_target(life.state, life.task, "simple") == "simple"


# -- set_priority ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["queued", "running"])
def test_the_priority_of_a_task_that_has_not_ended_changes(status: str) -> None:
    life = IssueLife()
    if status == "running":
        life.claim()
    life.step(lambda s, now: set_priority(s, task_id=life.id, priority=Priority.CRITICAL, by="alice", now=now))
    assert life.task.priority == Priority.CRITICAL
    assert "priority of issue-1 medium -> critical by alice" in life.changes[-1].message


def test_the_same_priority_again_changes_nothing() -> None:
    life = IssueLife()
    change = set_priority(life.state, task_id=life.id, priority=Priority.MEDIUM, by="alice", now=life.now)
    assert change.tasks == () and change.message == "issue-1 is medium already"


def test_the_priority_of_an_ended_task_is_refused() -> None:
    life = IssueLife()
    life.cancel()
    with pytest.raises(InvalidTransition, match="its priority no longer matters"):
        set_priority(life.state, task_id=life.id, priority=Priority.HIGH, by="alice", now=life.now)


def test_a_next_mode_asked_for_does_not_outlive_its_round() -> None:
    life = IssueLife()
    life.claim()
    life.step(lambda s, now: escalate(s, task_id=life.id, by="alice", now=now))
    assert life.task.next_mode == "complex"
    done = life.complete()
    assert done.status == TaskStatus.SUCCEEDED and done.next_mode is None
    # The same through a cancel and a new round by the label: the old wish is gone.
    again = IssueLife()
    again.claim()
    again.step(lambda s, now: escalate(s, task_id=again.id, by="alice", now=now))
    again.cancel()
    assert again.retrigger(later(60)).next_mode is None
