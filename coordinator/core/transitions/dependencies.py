"""What a task's end means for the tasks that depend on it, for ``--depends-on`` and pipelines alike:

- a dependency that succeeded, or that ended without success but is not critical (``critical: false``, e.g. a
  pipeline's optional phase), lets its dependents go on once all their dependencies are done;
- a critical dependency that failed for good or was cancelled cancels its waiting dependents, and theirs, with
  the reason: nothing waits forever for a task that will not succeed on its own;
- a retry of that dependency brings the dependents it cancelled back (waiting for it again).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from coordinator.core.transitions.attempts import cancelled
from coordinator.core.transitions.plan_verify import advance_plan
from coordinator.models import Task, TaskStatus

if TYPE_CHECKING:
    from coordinator.core.transitions.change import Draft


def settle_dependents(draft: Draft, now: datetime) -> None:
    """Unblock the waiting tasks whose dependencies are all done, and cancel those a critical dependency will
    never let run (repeated, so a cancellation reaches the dependents of the dependents); a critical phase of a
    pipeline run that ended badly ends the whole run."""
    for ended in [t for t in draft.changed.values() if t.run is not None and t.stops_dependents]:
        _end_run(draft, ended, now)
    for task in list(draft.changed.values()):  # a late success of a task that had failed: its dependents go on
        before = draft.state.tasks.get(task.id)
        if task.frees_dependents and before is not None and before.stops_dependents:
            revive_dependents(draft, task.id, now, say=False)  # "unblock" follows at once
    changed = True
    while changed:
        changed = False
        waiting = {t.id for t in draft.state.blocked_tasks()} | {
            t.id for t in draft.changed.values() if t.status == TaskStatus.BLOCKED
        }
        for task_id in sorted(waiting):
            task = draft.get(task_id)
            if task.status != TaskStatus.BLOCKED:
                continue
            deps = [draft.changed.get(d) or draft.state.tasks.get(d) for d in task.depends_on]
            if task.kind == "plan":
                changed |= advance_plan(draft, task, now)
                continue
            stopper = next((d for d in deps if d is not None and d.stops_dependents), None)
            if stopper is not None:
                why = f"dependency {stopper.id} {stopper.status.value}: retry it with 'coordinator retry {stopper.id}'"
                draft.put(cancelled(task, why=why, attempt_reason=why, now=now))
                draft.lines.append(f"cancel {task.id} (dependency {stopper.id} {stopper.status.value})")
                changed = True
            elif all(d is not None and d.frees_dependents for d in deps):
                draft.put(
                    task.model_copy(update={"status": TaskStatus.QUEUED, "status_reason": None, "updated_at": now})
                )
                draft.lines.append(f"unblock {task.id}")
                changed = True


def _end_run(draft: Draft, failed: Task, now: datetime) -> None:
    """Cancel every phase of ``failed``'s run that has not ended, running ones included (their agents stop)."""
    why = f"phase {failed.id} {failed.status.value} (critical): the run stops; a person must look"
    for task in [draft.get(t.id) for t in draft.state.tasks.values() if t.run == failed.run and t.id != failed.id]:
        if task.is_terminal:
            continue
        draft.put(cancelled(task, why=why, attempt_reason=why, now=now))
        draft.lines.append(f"cancel {task.id} (run {failed.run} stops: {failed.id} {failed.status.value})")


def reopen_plan(draft: Draft, child_id: str, now: datetime) -> None:
    """A retried subtask re-opens its plan, which ended failed because of it: the plan waits again."""
    child = draft.get(child_id)
    plan = draft.changed.get(child.parent) or draft.state.tasks.get(child.parent) if child.parent else None
    if plan is not None and plan.kind == "plan" and plan.status == TaskStatus.FAILED:
        update = {"status": TaskStatus.BLOCKED, "status_reason": f"waits for its subtasks ({child_id} retried)"}
        draft.put(plan.model_copy(update={**update, "updated_at": now}))
        draft.lines.append(f"reopen plan {plan.id} ({child_id} retried)")


def revive_dependents(draft: Draft, task_id: str, now: datetime, *, say: bool = True) -> None:
    """The tasks that were cancelled because ``task_id`` ended badly wait for it again (it was retried); and
    theirs, in turn."""
    queue = [task_id]
    while queue:
        current = queue.pop()
        mark = f"dependency {current} "
        for task in list(draft.state.tasks.values()):
            task = draft.get(task.id)
            if task.status == TaskStatus.CANCELLED and (task.status_reason or "").startswith(mark):
                reason = f"waiting for {current} (retried)"
                draft.put(
                    task.model_copy(update={"status": TaskStatus.BLOCKED, "status_reason": reason, "updated_at": now})
                )
                if say:
                    draft.lines.append(f"wait again {task.id} (dependency {current} retried)")
                queue.append(task.id)
