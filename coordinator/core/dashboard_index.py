"""What STATUS.md needs, kept up to date as tasks come and go, so rendering it never scans every task.

``State.put_task``/``remove_task`` call :meth:`DashboardIndex.add`/:meth:`DashboardIndex.remove`: counts by status,
ended tasks ordered by when they last changed (the latest results), and spend by UTC day from the attempts'
recorded costs. Each update costs O(attempts of one task) plus a bisect, whatever the size of the branch.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date

from coordinator.models import Attempt, Task, TaskStatus


def attempt_day(attempt: Attempt) -> date | None:
    """The UTC day an attempt's cost counts on: the day it finished (started, while it has not)."""
    when = attempt.finished_at or attempt.started_at
    return when.date() if when is not None else None


def spend_by_day(task: Task) -> dict[date, tuple[float, int]]:
    """A task's recorded spend by UTC day: (dollars, attempts with a cost)."""
    days: dict[date, tuple[float, int]] = {}
    for attempt in task.attempts:
        day = attempt_day(attempt)
        if attempt.cost_usd is None or day is None:
            continue
        usd, count = days.get(day, (0.0, 0))
        days[day] = (usd + attempt.cost_usd, count + 1)
    return days


@dataclass
class DashboardIndex:
    """Counts, latest ended tasks and daily spend of the tasks on the live tree."""

    counts: Counter[TaskStatus] = field(default_factory=Counter)
    #: Ended tasks as (updated_at timestamp, id), ascending: the latest results are at the end.
    _ended: list[tuple[float, str]] = field(default_factory=list)
    _spend: defaultdict[date, list[float]] = field(default_factory=lambda: defaultdict(lambda: [0.0, 0.0]))

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
        if task.attempts:
            for day, (usd, count) in spend_by_day(task).items():
                totals = self._spend[day]
                totals[0] += sign * usd
                totals[1] += sign * count

    def latest_ended(self, count: int) -> list[str]:
        """Ids of the ``count`` ended tasks that changed last, newest first."""
        return [task_id for _, task_id in reversed(self._ended[-count:])] if count > 0 else []

    def spend_on(self, day: date) -> tuple[float, int]:
        """Recorded spend on ``day`` (UTC): dollars and the number of attempts that cost something."""
        totals = self._spend.get(day)
        if totals is None:
            return 0.0, 0
        # Sums of many additions and subtractions drift by tiny amounts: never show "-0.00".
        return max(0.0, totals[0]), max(0, round(totals[1]))
