"""Which pipeline runs must tell GitHub something: a run that reports to an issue (``runs/<run-id>.json``) is marked
pending in the very commit that changes what its tracking comment shows of a phase (status, reason, attempts,
duration, cost, runner), whoever built that commit (the store applies :func:`with_run_reports` to every change,
as it does the day's spend). Pure and cheap: only the runs of the tasks a change writes are looked at.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import TYPE_CHECKING

from coordinator.core.state import State
from coordinator.models import RunReport, StateModel, Task

if TYPE_CHECKING:  # the transitions import this module: no import of them at run time
    from coordinator.core.transitions.change import Change

#: The collection directory of run reports (see coordinator.store.layout).
RUNS = "runs"


def report_of(state: State, run: str) -> RunReport | None:
    """The report record of run ``run`` (e.g. ``pipe-daily-3``), or None when the run reports nowhere."""
    found = state.records.get(RUNS, {}).get(run)
    return found if isinstance(found, RunReport) else None


def reports(state: State) -> list[RunReport]:
    """Every run report on the branch, by run id."""
    found = [r for r in state.records.get(RUNS, {}).values() if isinstance(r, RunReport)]
    return sorted(found, key=lambda r: r.run)


def shown(task: Task) -> tuple[object, ...]:
    """What a run's tracking comment shows of one phase task: when it changes, the comment must be updated (a
    lease renewal changes none of it, so it costs GitHub nothing)."""
    figures = tuple((a.outcome, a.cost_usd, a.duration_seconds) for a in task.attempts)
    runner = task.lease.runner if task.lease is not None else None
    return (task.status, task.status_reason, task.critical, runner, figures)


def text_digest(text: str) -> str:
    """The SHA-256 of a comment's text (what the record keeps of the text last posted)."""
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def with_run_reports(state: State, change: Change) -> Change:
    """``change`` with the report of every run whose phases it visibly changes marked pending (in the same
    commit). Something new to show restarts the backoff: a failed try is not waited out for a newer text."""
    touched = {t.run for t in change.tasks if t.run and _visibly_changed(state.tasks.get(t.id), t)}
    if not touched:
        return change
    written = {r.run: r for r in change.records if isinstance(r, RunReport)}
    marked: dict[str, RunReport] = {}
    for run in sorted(r for r in touched if r is not None):
        report = written.get(run) or report_of(state, run)
        if report is None:
            continue
        due = report.model_copy(update={"pending": True, "attempts": 0, "retry_at": None})
        if due != report:
            marked[run] = due
    if not marked:
        return change
    kept: list[StateModel] = [r for r in change.records if not (isinstance(r, RunReport) and r.run in marked)]
    return replace(change, records=(*kept, *marked.values()))


def _visibly_changed(before: Task | None, after: Task) -> bool:
    return before is None or shown(before) != shown(after)
