"""A plan's planning result: its subtasks enqueued in the same commit as the result (children ``<plan-id>.<n>``,
with their dependencies), the plan waiting until they end, then ending as they did. Pure transitions."""

from __future__ import annotations

from datetime import datetime

from coordinator.core.state import State
from coordinator.core.transitions.change import Change, Draft, require_mode
from coordinator.core.transitions.results import complete
from coordinator.models import AttemptResult, PlanFile, Source, Subtask, Task, TaskStatus


def complete_plan(
    state: State, *, task_id: str, runner: str, result: AttemptResult, plan: PlanFile, now: datetime, attempt: int
) -> Change:
    """Record the planning attempt's success and enqueue its subtasks; the plan waits for them (``blocked`` on
    its children). A late report (the plan moved on) records the result only."""
    done = complete(state, task_id=task_id, runner=runner, result=result, now=now, attempt=attempt)
    planned = done.task
    if planned is None or planned.status != TaskStatus.SUCCEEDED:
        return done
    draft = Draft(state)
    for task in done.tasks:
        if task.id != task_id:
            draft.put(task)
    draft.lines.append(done.message.replace(f"complete {task_id}", f"plan {task_id}", 1))
    waiting = enqueue_subtasks(draft, planned, plan, now)
    return draft.change(task=waiting)


def enqueue_subtasks(draft: Draft, planned: Task, plan: PlanFile, now: datetime) -> Task:
    """Queue ``plan``'s subtasks as children of ``planned`` (``<plan-id>.<n>``, with their dependencies) in
    ``draft``; returns the plan as it now waits for them (``blocked``)."""
    ids = {s.key: f"{planned.id}.{n}" for n, s in enumerate(plan.subtasks, start=1)}
    children = [_child(draft.state, planned, subtask_id=ids[s.key], subtask=s, ids=ids, now=now) for s in plan.subtasks]
    waiting = planned.model_copy(
        update={
            "status": TaskStatus.BLOCKED,
            "status_reason": f"waits for its {len(children)} subtasks",
            "depends_on": [c.id for c in children],
            "updated_at": now,
        }
    )
    for task in (waiting, *children):
        draft.put(task)
    draft.lines.append(f"enqueue {len(children)} subtasks of {planned.id}: {', '.join(c.id for c in children)}")
    return waiting


def _child(state: State, plan: Task, *, subtask_id: str, subtask: Subtask, ids: dict[str, str], now: datetime) -> Task:
    mode = subtask.mode if subtask.mode in state.modes.modes else plan.mode
    require_mode(state.modes, mode)
    needs = [ids[d] for d in subtask.depends_on]
    return Task(
        id=subtask_id,
        title=subtask.title,
        body=subtask.body,
        source=Source(kind="plan", actor=plan.source.actor, at=now),
        priority=subtask.priority or plan.priority,
        created_at=now,
        updated_at=now,
        mode=mode,
        requested_mode=mode,
        requires=sorted(set(subtask.requires) | set(plan.requires)),
        depends_on=needs,
        max_attempts=plan.max_attempts,
        status=TaskStatus.BLOCKED if needs else TaskStatus.QUEUED,
        status_reason=f"waiting for {', '.join(needs)}" if needs else None,
        kind="task",
        parent=plan.id,
    )
