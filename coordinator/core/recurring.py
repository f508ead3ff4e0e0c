"""Which occurrences of the schedules are due: a pure function of the schedules and ``now``.

A schedule is due when its latest occurrence at or before ``now`` (its *slot*) came after the schedule was added
and was not enqueued yet. Only the latest slot is ever due: slots missed while nothing ticked are not made up
one by one (a nightly job that was down for three nights runs once, not three times).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from coordinator.core.state import State
from coordinator.cron import latest_occurrence, next_occurrence, slot_key, zone
from coordinator.models import Schedule, schedule_task_id

#: The collection directory of schedules on the branch (the store's layout says the same).
SCHEDULES = "schedules"


@dataclass(frozen=True)
class Occurrence:
    """One slot of one schedule: the UTC instant it fell on, and the task that stands for it."""

    schedule: Schedule
    slot: datetime

    @property
    def task_id(self) -> str:
        """``sched-<name>-<YYYYMMDDtHHMM>``: the idempotency key, so concurrent ticks make one task."""
        return schedule_task_id(self.schedule.name, slot_key(self.slot))


@dataclass(frozen=True)
class Skipped:
    """A schedule that could not be looked at or enqueued now, and why (what to fix)."""

    schedule: str
    reason: str


@dataclass(frozen=True)
class DuePlan:
    """The occurrences due now, and the schedules that could not be evaluated."""

    due: tuple[Occurrence, ...] = ()
    skipped: tuple[Skipped, ...] = ()


def schedules_of(state: State) -> dict[str, Schedule]:
    """The schedules on the branch, by name."""
    found: Mapping[str, object] = state.records.get(SCHEDULES, {})
    return {name: s for name, s in found.items() if isinstance(s, Schedule)}


def due_occurrences(schedules: Iterable[Schedule], now: datetime) -> DuePlan:
    """The latest occurrence of each schedule that is due at ``now``, in name order."""
    due: list[Occurrence] = []
    skipped: list[Skipped] = []
    for schedule in sorted(schedules, key=lambda s: s.name):
        try:
            slot = latest_occurrence(schedule.cron, zone(schedule.timezone), now)
        except ValueError as exc:
            skipped.append(Skipped(schedule.name, str(exc)))
            continue
        if slot is not None and slot >= schedule.created_at and not schedule.remembers(slot):
            due.append(Occurrence(schedule, slot))
    return DuePlan(due=tuple(due), skipped=tuple(skipped))


def next_slot(schedule: Schedule, now: datetime) -> datetime | None:
    """When the schedule next comes due after ``now``, skipping slots enqueued already (by a tick run as of a later
    time); None when it never does, or its zone is unknown here."""
    try:
        tz = zone(schedule.timezone)
    except ValueError:
        return None
    slot: datetime | None = max(now, schedule.created_at)
    for _ in range(len(schedule.enqueued) + 1):
        slot = next_occurrence(schedule.cron, tz, slot) if slot is not None else None
        if slot is None or not schedule.remembers(slot):
            return slot
    return None


def last_slot(schedule: Schedule) -> datetime | None:
    """The latest slot enqueued for the schedule, if any."""
    return max(schedule.enqueued, default=None)
