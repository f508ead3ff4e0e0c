"""``coordinator retry`` of a plan that failed or was cancelled after its planning: the plan re-opens rather than
planning again (``coordinator replan`` does that). Pure."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from coordinator.core.transitions.dependencies import revive_dependents
from coordinator.core.transitions.plan_verify import advance_plan
from coordinator.models import Task, TaskStatus

if TYPE_CHECKING:
    from coordinator.core.transitions.change import Draft


def retry_plan(draft: Draft, plan: Task, now: datetime, *, by: str) -> Task:
    """Re-open ``plan``: its children that did not succeed get a new round (subtasks, a failed fix, a verify that
    could not run; those cancelled because a dependency failed come back with it), it gets ``fix_cycles`` more
    fix cycles, and it waits again. A verification left red after the last cycle gets its next fix at once."""
    from coordinator.core.transitions.tasks import retried

    children = [draft.get(c) for c in plan.depends_on if c in draft.changed or c in draft.state.tasks]
    settings = plan.plan
    if settings is not None:
        fixes = sum(1 for c in children if c.kind == "fix")
        settings = settings.model_copy(update={"cycles_from": fixes, "report": None})
    waiting = plan.model_copy(
        update={
            "status": TaskStatus.BLOCKED,
            "status_reason": f"retried by {by}: waits for its children",
            "round": plan.round + 1,
            "plan": settings,
            "updated_at": now,
        }
    )
    draft.put(waiting)
    draft.lines.append(f"retry {plan.id} by {by}, round {waiting.round}")
    for child in children:
        if child.status == TaskStatus.SUCCEEDED or not child.is_terminal or _stays(child):
            continue
        draft.put(retried(draft.state, child, now, by=by))
        draft.lines.append(f"retry {child.id} by {by} (plan {plan.id} retried)")
        revive_dependents(draft, child.id, now)
    advance_plan(draft, draft.get(plan.id), now)
    return draft.get(plan.id)


def _stays(child: Task) -> bool:
    """A red verification (the next fix mends it) and a task cancelled for its dependency (it comes back with
    it) are not retried themselves."""
    found = child.attempts[-1].verification if child.attempts else None
    red = child.kind == "verify" and found is not None and not found.passed
    return red or (child.status_reason or "").startswith("dependency ")
