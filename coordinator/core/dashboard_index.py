"""What STATUS.md needs, kept up to date as tasks come and go, so rendering it never scans every task.

``State.put_task``/``remove_task`` call :meth:`DashboardIndex.add`/:meth:`DashboardIndex.remove`: counts by status,
and ended tasks ordered by when they last changed (the latest results). Each update costs a bisect, whatever the
size of the branch. (Today's spend is not kept here: STATUS.md reads the day's spend record, the one budgets
read.)
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field

from coordinator.models import Task, TaskStatus


@dataclass
class DashboardIndex:
    """Counts and latest ended tasks of the tasks on the live tree."""

    counts: Counter[TaskStatus] = field(default_factory=Counter)
    #: Ended tasks as (updated_at timestamp, id), ascending: the latest results are at the end.
    _ended: list[tuple[float, str]] = field(default_factory=list)

    def add(self, task: Task) -> None:
        """Count a task that was put on the live tree."""
        self._apply(task, +1)

    def remove(self, task: Task) -> None:
        """Forget a task that left the live tree (or is about to be replaced)."""
        self._apply(task, -1)

    def _apply(self, task: Task, sign: int) -> None:
        self.counts[task.status] += sign
        if task.is_terminal:
            key = (task.updated_at.timestamp(), task.id)
            if sign > 0:
                bisect.insort(self._ended, key)
            else:
                index = bisect.bisect_left(self._ended, key)
                if index < len(self._ended) and self._ended[index] == key:
                    del self._ended[index]

    def latest_ended(self, count: int) -> list[str]:
        """Ids of the ``count`` ended tasks that changed last, newest first."""
        return [task_id for _, task_id in reversed(self._ended[-count:])] if count > 0 else []
