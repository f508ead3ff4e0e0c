"""Spend per UTC day and the daily cap: pure functions of ``(state, change or tasks, now)``.

Every commit that records a cost on an attempt (a result, a late result, a cut-short attempt's partial cost)
also rewrites that day's ``spend/<day>.json`` (:func:`with_spend`, applied by the store to every change, whoever
built it), so the day's total is one small file. A claim compares it with ``budget.max_daily_usd`` and refuses
once it is reached (:func:`budget_refusal`): runners then claim nothing until the next UTC day, while the tasks
already running finish. So the cap is overrun by at most what those running tasks spend after it was reached.

A cost counts on the UTC day its attempt finished (``finished_at``; the day it is recorded when unknown), so the
records can be rebuilt from the tasks' attempts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING

from coordinator.core.state import State
from coordinator.models import Attempt, DailySpend, Task, TaskStatus

if TYPE_CHECKING:  # the claim transition imports this module: no import of the transitions at run time
    from coordinator.core.transitions.change import Change

#: The collection directory of the day records (see coordinator.store.layout).
SPEND_COLLECTION = "spend"


def utc_day(at: datetime) -> str:
    """The UTC day of an instant, ``YYYY-MM-DD`` (the key of its spend record)."""
    return at.astimezone(UTC).strftime("%Y-%m-%d")


def next_utc_day(now: datetime) -> datetime:
    """When the UTC day after ``now``'s begins (claims resume then)."""
    today = now.astimezone(UTC).date()
    return datetime.combine(today + timedelta(days=1), time(0), tzinfo=UTC)


def spend_record(state: State, day: str) -> DailySpend:
    """The spend record of ``day`` on the branch (an empty one when none was written)."""
    found = state.records.get(SPEND_COLLECTION, {}).get(day)
    return found if isinstance(found, DailySpend) else DailySpend(day=day)


@dataclass(frozen=True)
class _Delta:
    cost: float = 0.0
    attempts: int = 0
    partial_attempts: int = 0
    partial_cost: float = 0.0

    def __add__(self, other: _Delta) -> _Delta:
        return _Delta(
            self.cost + other.cost,
            self.attempts + other.attempts,
            self.partial_attempts + other.partial_attempts,
            self.partial_cost + other.partial_cost,
        )


def _attempt_delta(before: Attempt | None, after: Attempt) -> _Delta | None:
    """What recording ``after`` (over ``before``, the same attempt as the branch has it) adds to the spend."""
    old = before.cost_usd if before is not None else None
    if after.cost_usd is None or after.cost_usd == old:
        return None
    new_record = old is None
    partial = bool(after.cost_partial)
    cost = after.cost_usd - (old or 0.0)
    return _Delta(
        cost=cost,
        attempts=1 if new_record else 0,
        partial_attempts=1 if partial and (new_record or not (before and before.cost_partial)) else 0,
        partial_cost=cost if partial else 0.0,
    )


def _deltas(state: State, tasks: Iterable[Task], now: datetime) -> dict[str, _Delta]:
    """What ``tasks`` (new versions of tasks of ``state``) add to each day's spend; only their attempts are read."""
    by_day: dict[str, _Delta] = {}
    for task in tasks:
        old_task = state.tasks.get(task.id)
        old = {a.number: a for a in old_task.attempts} if old_task is not None else {}
        for attempt in task.attempts:
            delta = _attempt_delta(old.get(attempt.number), attempt)
            if delta is not None:
                day = utc_day(attempt.finished_at or now)
                by_day[day] = by_day.get(day, _Delta()) + delta
    return by_day


def with_spend(state: State, change: Change, now: datetime) -> Change:
    """``change`` with the spend records of the days its recorded costs belong to (unchanged when it records
    none). Pure; the store applies it to every change before committing, so no writer can forget it."""
    deltas = _deltas(state, change.tasks, now)
    if not deltas:
        return change
    records = []
    for day, delta in sorted(deltas.items()):
        old = spend_record(state, day)
        records.append(
            old.model_copy(
                update={
                    "cost_usd": round(max(0.0, old.cost_usd + delta.cost), 6),
                    "attempts": old.attempts + delta.attempts,
                    "partial_attempts": old.partial_attempts + delta.partial_attempts,
                    "partial_cost_usd": round(max(0.0, old.partial_cost_usd + delta.partial_cost), 6),
                    "updated_at": now,
                }
            )
        )
    others = tuple(r for r in change.records if not isinstance(r, DailySpend) or r.day not in deltas)
    return replace(change, records=(*others, *records))


@dataclass(frozen=True)
class BudgetStatus:
    """Today's spend against the daily cap."""

    day: str
    spent_usd: float
    cap_usd: float | None
    #: When claims resume if the cap is reached: the start of the next UTC day.
    resumes_at: datetime

    @property
    def reached(self) -> bool:
        """True once today's spend is at or over the cap."""
        return self.cap_usd is not None and self.spent_usd >= self.cap_usd

    @property
    def left_usd(self) -> float | None:
        """What may still be spent today (None: no cap)."""
        return None if self.cap_usd is None else max(0.0, self.cap_usd - self.spent_usd)

    def reason(self) -> str:
        """Why nothing is claimed (meaningful when ``reached``): one line that says what to do."""
        return (
            f"the daily budget is spent: ${self.spent_usd:.2f} of ${self.cap_usd or 0:.2f} on {self.day} (UTC); "
            f"claims resume at {self.resumes_at:%Y-%m-%d %H:%M} UTC, or raise the cap with "
            "'coordinator budget --daily USD'"
        )


def budget_status(state: State, now: datetime, pending: Iterable[Task] = ()) -> BudgetStatus:
    """Today's spend (with what ``pending``, tasks about to be committed, adds) against the cap."""
    today = utc_day(now)
    spent = spend_record(state, today).cost_usd + _deltas(state, pending, now).get(today, _Delta()).cost
    return BudgetStatus(
        day=today, spent_usd=round(spent, 6), cap_usd=state.config.budget.max_daily_usd, resumes_at=next_utc_day(now)
    )


def budget_refusal(state: State, now: datetime, pending: Iterable[Task] = ()) -> str | None:
    """Why no task may be claimed now (today's spend reached the daily cap), or None. Reads one record."""
    if state.config.budget.max_daily_usd is None:
        return None
    status = budget_status(state, now, pending)
    return status.reason() if status.reached else None


def waiting_reason(state: State, task: Task, now: datetime) -> str | None:
    """Why a queued ``task`` waits for the budget (for ``status``, ``show`` and the tracking comment), or None."""
    if task.status != TaskStatus.QUEUED:
        return None
    return budget_refusal(state, now)


#: How a queued task of an issue says it waits for the budget (its tracking comment shows it).
BUDGET_WAIT = "waits for the daily budget"


def budget_notes(state: State, now: datetime, *, held: bool) -> list[Task]:
    """Queued tasks of issues whose ``status_reason`` must change so their tracking comment tells people why
    they wait: noted while the budget holds claims back (``held``), the note taken off once it does not. Only
    with a daily cap set; the queue is read from its index, never every task."""
    if state.config.budget.max_daily_usd is None and not held:
        return []
    note = f"{BUDGET_WAIT}: claims resume at {next_utc_day(now):%Y-%m-%d %H:%M} UTC"
    changed: list[Task] = []
    for _, task in [*state.queued_without_deadline(), *state.queued_with_deadline()]:
        if task.github is None:
            continue
        noted = (task.status_reason or "").startswith(BUDGET_WAIT)
        if held and task.status_reason != note:
            changed.append(task.model_copy(update={"status_reason": note, "updated_at": now}))
        elif not held and noted:
            changed.append(task.model_copy(update={"status_reason": None, "updated_at": now}))
    return changed
