"""Reading the plan a planning attempt wrote (``.coordinator/plan.json`` in its worktree): validated, bounded, and
every problem said in one line the next attempt (and a person) can act on."""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path

from pydantic import ValidationError

from coordinator.models import PLAN_FILE, PlanFile, Task

#: A plan file larger than this is refused unread.
MAX_PLAN_BYTES = 512 * 1024


def read_plan(worktree: Path, task: Task, *, capabilities: Collection[str] = ()) -> tuple[PlanFile | None, str | None]:
    """The plan the attempt left, or (None, why it cannot be used). Subtasks may require only ``capabilities``
    (the repository's ``subtask_capabilities``) besides the plan's own."""
    path = worktree / PLAN_FILE
    if any(p.is_symlink() for p in (path, path.parent)):  # never read what a link points at outside the worktree
        return None, f"{PLAN_FILE} must be a file in the worktree, not a link"
    if not path.is_file():
        return None, f"no plan: the planning attempt must write {PLAN_FILE} (see state/schemas/plan.schema.json)"
    if path.stat().st_size > MAX_PLAN_BYTES:
        return None, f"{PLAN_FILE} is over {MAX_PLAN_BYTES // 1024} KiB: keep the subtasks' bodies short"
    try:
        plan = PlanFile.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, ValidationError):
            from coordinator.store.snapshot import describe_error

            return None, f"{PLAN_FILE} is not a valid plan: {describe_error(exc)}"
        return None, f"{PLAN_FILE} is not JSON: {exc}"
    bound = task.max_subtasks or 50
    if len(plan.subtasks) > bound:
        return None, f"{PLAN_FILE} has {len(plan.subtasks)} subtasks; this plan allows at most {bound}"
    allowed = set(capabilities) | set(task.requires)
    for subtask in plan.subtasks:
        refused = sorted(set(subtask.requires) - allowed)
        if refused:
            return None, (
                f"{PLAN_FILE}: subtask {subtask.key!r} requires {', '.join(refused)}, which plans may not ask for "
                f"(a person allows it: coordinator plans --set subtask_capabilities={','.join(refused)})"
            )
    return plan, None
