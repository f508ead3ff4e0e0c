"""Transitions a person asks for: submit, cancel, retry (and unblocking dependents when a task succeeds)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from coordinator.core.state import State
from coordinator.core.transitions.attempts import finish_attempt
from coordinator.core.transitions.change import Change, Draft, require_mode, short, validated
from coordinator.errors import InvalidTransition, UsageError
from coordinator.ids import check_name
from coordinator.models import AttemptOutcome, Priority, Source, Task, TaskStatus


@dataclass(frozen=True)
class SubmitRequest:
    """What a person (or the GitHub integration) asks for."""

    title: str
    body: str = ""
    priority: Priority = Priority.MEDIUM
    mode: str | None = None
    requires: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    deadline: datetime | None = None
    max_attempts: int = 3
    source: Source = field(default_factory=Source)
    group: str | None = None
    task_id: str | None = None


def submit(state: State, request: SubmitRequest, now: datetime) -> Change:
    """Add a task: queued, or blocked while any dependency has not succeeded."""
    title = request.title.strip()
    if not title:
        raise UsageError("the task title is empty: give a short title, e.g. coordinator submit 'Fix the login bug'")
    mode = request.mode or state.modes.default_mode
    require_mode(state.modes, mode)
    if not 1 <= request.max_attempts <= 100:
        raise UsageError(f"--max-attempts must be between 1 and 100, not {request.max_attempts}")
    for cap in request.requires:
        validated(partial(check_name, "capability", cap))
    missing = [dep for dep in request.depends_on if dep not in state.tasks]
    if missing:
        raise UsageError(f"unknown dependency {', '.join(missing)}: run 'coordinator list' to see the task ids")

    meta = state.meta
    if request.task_id is not None:
        task_id = validated(lambda: check_name("task id", request.task_id or ""))
        if task_id in state.tasks or state.problem_for("tasks", task_id) is not None:
            raise UsageError(f"task '{task_id}' exists already: run 'coordinator show {task_id}'")
        new_meta = None
    else:
        number = meta.next_task_number
        while f"task-{number}" in state.tasks or state.problem_for("tasks", f"task-{number}") is not None:
            number += 1
        task_id = f"task-{number}"
        new_meta = meta.model_copy(update={"next_task_number": number + 1})

    waiting = [dep for dep in dict.fromkeys(request.depends_on) if state.tasks[dep].status != TaskStatus.SUCCEEDED]
    source = request.source if request.source.at is not None else request.source.model_copy(update={"at": now})
    task = Task(
        id=task_id,
        title=title,
        body=request.body,
        source=source,
        group=request.group,
        priority=request.priority,
        deadline=request.deadline,
        created_at=now,
        updated_at=now,
        mode=mode,
        requested_mode=mode,
        requires=sorted(set(request.requires)),
        depends_on=list(dict.fromkeys(request.depends_on)),
        max_attempts=request.max_attempts,
        status=TaskStatus.BLOCKED if waiting else TaskStatus.QUEUED,
        status_reason=f"waiting for {', '.join(waiting)}" if waiting else None,
    )
    draft = Draft(state)
    draft.put(task)
    draft.lines.append(f"submit {task_id}: {short(title)}")
    return draft.change(task=task, meta=new_meta)


def unblock_dependents(draft: Draft, now: datetime) -> None:
    for blocked in draft.state.blocked_tasks():
        task = draft.get(blocked.id)
        if task.status != TaskStatus.BLOCKED:
            continue
        if all(
            draft.changed.get(d, draft.state.tasks.get(d)) is not None and draft.get(d).status == TaskStatus.SUCCEEDED
            for d in task.depends_on
        ):
            draft.put(task.model_copy(update={"status": TaskStatus.QUEUED, "status_reason": None, "updated_at": now}))
            draft.lines.append(f"unblock {task.id}")


def cancel(state: State, *, task_id: str, now: datetime, by: str = "unknown", reason: str | None = None) -> Change:
    """Cancel a task that has not ended; a running agent is stopped when its runner next renews the lease."""
    draft = Draft(state)
    task = draft.get(task_id)
    if task.is_terminal:
        raise InvalidTransition(task_id, f"is {task.status.value} already; nothing to cancel")
    attempts = list(task.attempts)
    if task.status == TaskStatus.RUNNING and task.lease is not None:
        attempts = finish_attempt(
            task,
            task.lease.attempt,
            now,
            outcome=AttemptOutcome.CANCELLED,
            counted=True,
            reason=f"cancelled by {by}",
        )
    why = f"cancelled by {by}" + (f": {reason}" if reason else "")
    updated = task.model_copy(
        update={
            "status": TaskStatus.CANCELLED,
            "lease": None,
            "attempts": attempts,
            "status_reason": why,
            "updated_at": now,
        }
    )
    draft.put(updated)
    draft.lines.append(f"cancel {task_id} by {by}")
    return draft.change(task=updated)


def retry(state: State, *, task_id: str, now: datetime, by: str = "unknown", mode: str | None = None) -> Change:
    """Give a failed or cancelled task a new round of attempts (in ``mode`` if given, else its last mode)."""
    if mode is not None:
        require_mode(state.modes, mode)
    draft = Draft(state)
    task = draft.get(task_id)
    if task.status == TaskStatus.SUCCEEDED:
        raise InvalidTransition(task_id, "succeeded; submit a new task to do more work")
    if not task.is_terminal:
        raise InvalidTransition(task_id, f"is {task.status.value}; only failed or cancelled tasks can be retried")
    waiting = [d for d in task.depends_on if d not in state.tasks or state.tasks[d].status != TaskStatus.SUCCEEDED]
    updated = task.model_copy(
        update={
            "round": task.round + 1,
            "mode": mode or task.mode,
            "status": TaskStatus.BLOCKED if waiting else TaskStatus.QUEUED,
            "status_reason": f"retried by {by}" + (f"; waiting for {', '.join(waiting)}" if waiting else ""),
            "lease": None,
            "updated_at": now,
        }
    )
    draft.put(updated)
    draft.lines.append(f"retry {task_id} by {by}, round {updated.round}")
    return draft.change(task=updated)
