"""A person's word on a plan: ``approve`` queues the subtasks a plan proposed (it asked for approval), ``replan``
sends the plan back to its planning attempt with what to change. Pure transitions of ``(state, request, now)``."""

from __future__ import annotations

from datetime import datetime

from coordinator.core.state import State
from coordinator.core.transitions.attempts import cancelled
from coordinator.core.transitions.change import Change, Draft
from coordinator.core.transitions.feedback import with_feedback
from coordinator.core.transitions.plans import awaits_approval, enqueue_subtasks
from coordinator.errors import UsageError
from coordinator.models import Feedback, Task, TaskStatus

#: What a plan may be in for ``replan``, besides waiting for approval: it ended without success.
_REPLANNABLE = (TaskStatus.FAILED, TaskStatus.CANCELLED)


def approve_plan(state: State, *, task_id: str, by: str, now: datetime) -> Change:
    """Queue the subtasks the plan ``task_id`` proposed, in this one commit; the plan records who approved it and
    waits for them. Only a plan whose proposal waits for approval can be approved."""
    draft = Draft(state)
    task = draft.get(task_id)
    if not awaits_approval(task):
        raise UsageError(_not_awaiting(task))
    assert task.plan is not None and task.plan.proposal is not None
    proposal = task.plan.proposal
    record = task.plan.model_copy(update={"proposal": None, "approved_by": by, "approved_at": now})
    draft.lines.append(f"approve plan {task_id} by {by}")
    waiting = enqueue_subtasks(draft, task.model_copy(update={"plan": record}), proposal, now)
    return draft.change(task=waiting)


def replan(state: State, *, task_id: str, feedback: Feedback, now: datetime) -> Change:
    """Send the plan ``task_id`` (waiting for approval, or ended without success) back to a new planning attempt,
    in a new round, with ``feedback`` for its prompt; its proposal is dropped, and subtasks of an earlier plan that
    have not ended are cancelled (they were the plan being replaced)."""
    draft = Draft(state)
    task = draft.get(task_id)
    if not (awaits_approval(task) or (task.kind == "plan" and task.status in _REPLANNABLE)):
        raise UsageError(_not_replannable(task))
    assert task.plan is not None
    new_round = task.round + 1
    said = feedback.model_copy(update={"round": new_round, "kind": "retry"})
    reset = {"proposal": None, "approved_by": None, "approved_at": None, "report": None}
    record = task.plan.model_copy(update={**reset, "rejected": task.plan.proposal or task.plan.rejected})
    updated = task.model_copy(
        update={
            "round": new_round,
            "status": TaskStatus.QUEUED,
            "status_reason": f"replanned by {feedback.author}",
            "depends_on": [],
            "plan": record,
            "feedback": with_feedback(task, said),
            "lease": None,
            "next_mode": None,
            "question": None,
            "resume": None,
            "updated_at": now,
        }
    )
    draft.put(updated)
    draft.lines.append(f"replan {task_id} by {feedback.author}, round {new_round}")
    why = f"its plan {task_id} was replanned by {feedback.author}"
    for child in sorted((t for t in state.tasks.values() if t.parent == task_id), key=lambda t: t.id):
        if not child.is_terminal:
            draft.put(cancelled(child, why=why, attempt_reason=why, now=now))
            draft.lines.append(f"cancel {child.id} (its plan {task_id} was replanned)")
    return draft.change(task=updated)


def _not_awaiting(task: Task) -> str:
    """Why ``task`` cannot be approved, and what to do instead."""
    if task.kind != "plan":
        return f"{task.id} is a {task.kind}, not a plan: only a plan's proposed subtasks wait for approval"
    if task.plan is not None and task.plan.approved_by is not None:
        return f"plan {task.id} was approved by {task.plan.approved_by} already: see 'coordinator show {task.id}'"
    if task.status in (TaskStatus.QUEUED, TaskStatus.RUNNING, TaskStatus.NEEDS_INPUT):
        return (
            f"plan {task.id} has not proposed its subtasks yet (it is {task.status.value}): approve it once "
            f"'coordinator show {task.id}' lists them"
        )
    if task.is_terminal:
        return (
            f"plan {task.id} is {task.status.value}: nothing waits for approval; start a new plan with "
            f"'coordinator replan {task.id} \"FEEDBACK\"'"
        )
    return f"plan {task.id} does not wait for approval: its subtasks are queued (see 'coordinator show {task.id}')"


def _not_replannable(task: Task) -> str:
    """Why ``task`` cannot be replanned, and what to do instead."""
    if task.kind != "plan":
        return f"{task.id} is a {task.kind}, not a plan: use 'coordinator retry {task.id}' for a new round of it"
    if task.status == TaskStatus.SUCCEEDED:
        return f"plan {task.id} succeeded: submit a new plan ('coordinator plan TITLE') to do more work"
    return (
        f"plan {task.id} is {task.status.value} (its subtasks run or are about to): only a plan waiting for approval "
        f"or one that failed can be replanned; cancel it first with 'coordinator cancel {task.id}'"
    )
