"""The tasks that history is read from: one function, so that every report sees the same tasks.

``all_tasks`` is the live tasks of a state; the commands read ``StateStore.all_tasks()``, which adds the tasks
``coordinator gc`` archived (kept in packs on the branch, not in the state every claim reads).
"""

from __future__ import annotations

from datetime import datetime

from coordinator.core.state import State
from coordinator.models import Attempt, AttemptOutcome, Task


def all_tasks(state: State) -> list[Task]:
    """Every task the branch knows, ordered by id: the live ones (the archived ones once the archive exists)."""
    return [state.tasks[task_id] for task_id in sorted(state.tasks)]


def ended_at(task: Task) -> datetime | None:
    """When an ended task ended: its last attempt's finish, else its last change (cancelled before it ran); None
    while it has not ended."""
    if not task.is_terminal:
        return None
    finished = [a.finished_at for a in task.attempts if a.finished_at is not None]
    return max(finished) if finished else task.updated_at


def attempt_time(attempt: Attempt) -> datetime | None:
    """When an attempt ended (or started, for an attempt that recorded no end): the day its spend belongs to."""
    return attempt.finished_at or attempt.started_at


def finished_attempts(task: Task) -> list[Attempt]:
    """The attempts of a task that have ended, in order."""
    return [a for a in task.attempts if a.outcome != AttemptOutcome.RUNNING]
