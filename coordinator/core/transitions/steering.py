"""Steering a task after it was made (``/retry``, ``/escalate``, ``/priority``, comments while it works): pure
transitions of ``(state, request, now)``."""

from __future__ import annotations

from datetime import datetime

from coordinator.core.state import State
from coordinator.core.transitions.change import Change, Draft, require_mode, short
from coordinator.core.transitions.feedback import MAX_FEEDBACK, MAX_FEEDBACK_CHARS, feedback_text, with_feedback
from coordinator.core.transitions.github import IssueSettings, retrigger
from coordinator.core.transitions.questions import last_session
from coordinator.errors import InvalidTransition
from coordinator.models import Feedback, Priority, Task, TaskStatus, Trigger

__all__ = [
    "MAX_FEEDBACK",
    "MAX_FEEDBACK_CHARS",
    "add_feedback",
    "escalate",
    "escalation_target",
    "feedback_text",
    "retry_with_feedback",
    "set_priority",
]

_ACTIVE = (TaskStatus.QUEUED, TaskStatus.BLOCKED, TaskStatus.RUNNING, TaskStatus.NEEDS_INPUT)


def add_feedback(state: State, *, task_id: str, feedback: Feedback, now: datetime) -> Change:
    """Keep what a person said to a task that waits or runs, for its next attempt's prompt."""
    draft = Draft(state)
    task = draft.get(task_id)
    if task.status not in _ACTIVE:
        raise InvalidTransition(task_id, f"is {task.status.value}; comments reach only a task that waits or runs")
    updated = task.model_copy(
        update={"feedback": with_feedback(task, feedback.model_copy(update={"round": task.round}))}
    )
    draft.put(updated)
    draft.lines.append(f"feedback for {task_id} by {feedback.author}")
    return draft.change(task=updated)


def retry_with_feedback(
    state: State,
    *,
    task_id: str,
    trigger: Trigger,
    title: str,
    body: str,
    settings: IssueSettings,
    feedback: Feedback | None,
    now: datetime,
    mode: str | None = None,
) -> Change:
    """A new round for an ended task of an issue (``/retry``, ``/escalate``): in ``mode``, else in the mode its
    last attempt ran in, with the person's feedback for the prompt; kept a while for the runner that can resume
    the last attempt's session."""
    task = Draft(state).get(task_id)
    if mode is not None:
        require_mode(state.modes, mode)
    change = retrigger(state, task_id=task_id, trigger=trigger, title=title, body=body, settings=settings, now=now)
    assert change.task is not None
    chosen = mode or (task.mode if task.mode in state.modes.modes else change.task.mode)
    round_feedback = feedback.model_copy(update={"round": change.task.round}) if feedback is not None else None
    why = f"/retry by {trigger.actor}" if mode is None else f"/escalate to {mode} by {trigger.actor}"
    updated = change.task.model_copy(
        update={
            "mode": chosen,
            "next_mode": None,
            "feedback": with_feedback(change.task, round_feedback),
            "status_reason": why,
            "question": None,
            # The last attempt's session, kept for its runner a while: it resumes with the feedback.
            "resume": last_session(task, now),
        }
    )
    tasks = tuple(updated if t.id == task_id else t for t in change.tasks)
    return Change(message=change.message, tasks=tasks, task=updated)


def escalate(state: State, *, task_id: str, by: str, now: datetime, mode: str | None = None) -> Change:
    """The next attempt of a task that waits or runs uses ``mode`` (default: its mode's ``escalate_to``)."""
    draft = Draft(state)
    task = draft.get(task_id)
    if task.status not in _ACTIVE:
        raise InvalidTransition(task_id, f"is {task.status.value}; /retry or /escalate starts a new round")
    target = escalation_target(state, task, mode)
    if task.status == TaskStatus.RUNNING:
        updated = task.model_copy(update={"next_mode": target, "updated_at": now})
    else:
        updated = task.model_copy(update={"mode": target, "next_mode": None, "updated_at": now})
    draft.put(updated)
    draft.lines.append(f"escalate {task_id} to {target} by {by}")
    return draft.change(task=updated)


def escalation_target(state: State, task: Task, mode: str | None) -> str:
    """The named mode, or the next stronger one of the task's current (or already chosen next) mode."""
    if mode is not None:
        return require_mode(state.modes, mode)
    current = task.next_mode or task.mode
    configured = state.modes.modes.get(current)
    if configured is None or configured.escalate_to is None:
        named = ", ".join(sorted(state.modes.modes))
        raise InvalidTransition(task.id, f"mode {current} has no stronger mode to escalate to: name one of {named}")
    return configured.escalate_to


def set_priority(state: State, *, task_id: str, priority: Priority, by: str, now: datetime) -> Change:
    """Change the priority of a task that has not ended."""
    draft = Draft(state)
    task = draft.get(task_id)
    if task.is_terminal:
        raise InvalidTransition(task_id, f"is {task.status.value}; its priority no longer matters")
    if task.priority == priority:
        return Change(message=f"{task_id} is {priority.value} already", task=task)
    updated = task.model_copy(update={"priority": priority, "updated_at": now})
    draft.put(updated)
    draft.lines.append(f"priority of {task_id} {task.priority.value} -> {priority.value} by {by}: {short(task.title)}")
    return draft.change(task=updated)
