"""STATUS.md: the queue at a glance, rewritten inside every commit that changes the branch (never a commit of its own).

``dashboard(state, now, ...)`` gathers the facts of the state *after* a change (the state before it, with the
change's tasks and runners laid over it), from the incremental indexes of the state (see
:mod:`coordinator.core.dashboard_index`): it costs the same at 200 and at 10,000 tasks. ``status_markdown`` turns
the facts into the file; ``coordinator status --watch`` renders the same facts in the terminal. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from coordinator.core.spend import spend_record, utc_day
from coordinator.core.state import State
from coordinator.models import DailySpend, Runner, StateModel, Task, TaskStatus
from coordinator.timeutil import format_duration

#: The file on the state branch (at its root, beside README.md).
STATUS_PATH = "STATUS.md"
#: How many of the latest results STATUS.md lists.
LATEST_RESULTS = 10


@dataclass(frozen=True)
class Dashboard:
    """Everything STATUS.md and ``status --watch`` show, as of ``now``."""

    now: datetime
    counts: dict[TaskStatus, int]
    archived: int
    running: list[Task]
    runners: list[Runner]
    latest: list[Task]
    spent_today_usd: float
    paid_attempts_today: int
    #: The daily budget's line (see :func:`budget_line`), None when no budget is set.
    budget: str | None


def budget_line(state: State, spent_today_usd: float, now: datetime) -> str | None:
    """The line STATUS.md shows under today's spend (e.g. "$3.10 of the $20.00 daily budget"), or None when no
    daily budget is configured."""
    cap = state.config.budget.max_daily_usd
    if cap is None:
        return None
    if spent_today_usd >= cap:
        return f"${spent_today_usd:.2f} of the ${cap:.2f} daily budget: spent; runners claim nothing until 00:00 UTC"
    return f"${spent_today_usd:.2f} of the ${cap:.2f} daily budget (${cap - spent_today_usd:.2f} left)"


def dashboard(
    state: State,
    now: datetime,
    *,
    tasks: Iterable[Task] = (),
    runners: Iterable[Runner] = (),
    deleted: Iterable[str] = (),
    records: Iterable[StateModel] = (),
) -> Dashboard:
    """The facts of ``state`` with ``tasks``, ``runners`` and ``records`` written and the tasks ``deleted`` gone.
    Today's spend is the day's spend record (``spend/<day>.json``, the one budgets read), as the change leaves it."""
    changed = {t.id: t for t in tasks}
    gone = set(deleted) - set(changed)
    counts = {status: state.dashboard.counts[status] for status in TaskStatus}
    for task_id in [*changed, *gone]:
        before = state.tasks.get(task_id)
        after = changed.get(task_id)
        for task, sign in ((before, -1), (after, +1)):
            if task is not None:
                counts[task.status] += sign
    day = utc_day(now)
    written = [r for r in records if isinstance(r, DailySpend) and r.day == day]
    spend = written[-1] if written else spend_record(state, day)
    running_ids = ({t.id for t in state.running_tasks()} | set(changed)) - gone
    running = [t for t in (changed.get(i) or state.tasks.get(i) for i in running_ids) if t and _is_running(t)]
    merged = {r.name: r for r in state.runners.values()} | {r.name: r for r in runners}
    return Dashboard(
        now=now,
        counts=counts,
        archived=len(state.archived) + len(gone),
        running=sorted(running, key=lambda t: t.id),
        runners=sorted(merged.values(), key=lambda r: r.name),
        latest=_latest(state, changed, gone),
        spent_today_usd=spend.cost_usd,
        paid_attempts_today=spend.attempts,
        budget=budget_line(state, spend.cost_usd, now),
    )


def _is_running(task: Task) -> bool:
    return task.status == TaskStatus.RUNNING


def _latest(state: State, changed: dict[str, Task], gone: set[str]) -> list[Task]:
    """The latest ended tasks: the index's, corrected by what the change ends, revives or removes."""
    ids = state.dashboard.latest_ended(LATEST_RESULTS + len(changed) + len(gone))
    pool = {i: state.tasks[i] for i in ids if i not in gone and i in state.tasks}
    pool.update(changed)
    ended = [t for t in pool.values() if t.is_terminal]
    ended.sort(key=lambda t: (t.updated_at, t.id), reverse=True)
    return ended[:LATEST_RESULTS]


def task_cost(task: Task) -> float | None:
    """What a task's attempts cost in all (None when none recorded a cost)."""
    costs = [a.cost_usd for a in task.attempts if a.cost_usd is not None]
    return sum(costs) if costs else None


def elapsed(task: Task, now: datetime) -> str:
    """How long the running attempt has been going."""
    attempt = task.current_attempt()
    started = (attempt.started_at if attempt else None) or (task.lease.acquired_at if task.lease else None)
    return format_duration((now - started).total_seconds()) if started else "-"


def ago(when: datetime | None, now: datetime) -> str:
    """``3m05s ago`` (``in 2m00s`` for a time ahead of ``now``: another machine's clock)."""
    if when is None:
        return "-"
    seconds = (now - when).total_seconds()
    return f"{format_duration(seconds)} ago" if seconds >= 0 else f"in {format_duration(-seconds)}"


def money(usd: float | None) -> str:
    """Dollars as STATUS.md and the terminal show them."""
    if usd is None:
        return "-"
    return f"${usd:.2f}" if usd >= 0.1 or usd == 0 else f"${usd:.4f}"
