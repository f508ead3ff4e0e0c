"""A pipeline run's tracking comment as pure transitions: taking the window in which one process may create it
(so two reporters never both create one), and recording what a delivery did, clearing ``pending`` only when the
text posted is still the text the run calls for (compare-and-swap: re-judged on whatever state the commit lands
on)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from coordinator.core.deliveries import CREATE_WINDOW, next_try
from coordinator.core.run_reports import report_of, text_digest
from coordinator.core.state import State
from coordinator.core.transitions.change import Change
from coordinator.errors import InvalidTransition
from coordinator.models import RunReport

#: The comment's whole text as the run stands in a state (None: nothing to show, e.g. its phases were archived).
CurrentText = Callable[[State, RunReport], str | None]

_ERROR_CHARS = 500


@dataclass(frozen=True)
class RunDelivery:
    """What one try at a run's tracking comment did: the comment it wrote (``comment_id``) and the SHA-256 of the
    text posted (``digest``), or why it failed (``error``, already redacted) and how long GitHub asked to wait."""

    by: str
    comment_id: int | None = None
    digest: str | None = None
    error: str | None = None
    retry_after: float | None = None


def _report(state: State, run: str) -> RunReport:
    report = report_of(state, run)
    if report is None:
        raise InvalidTransition(run, "this pipeline run keeps no tracking comment on GitHub")
    return report


def take_run_creation(state: State, *, run: str, by: str, now: datetime, gone: int | None = None) -> Change:
    """Let ``by`` alone create run ``run``'s tracking comment for a while: refused (``InvalidTransition``) when the
    comment is known or another process holds the window, so at most one process ever creates it. ``gone``: the
    comment ``by`` found deleted, forgotten in the same commit (unless someone made a new one meanwhile)."""
    report = _report(state, run)
    if gone is not None and report.comment_id == gone:
        report = report.model_copy(update={"comment_id": None, "delivered_digest": None})
    if report.comment_id is not None:
        raise InvalidTransition(run, f"the run has its tracking comment already ({report.comment_id})")
    held = report.creating_until is not None and report.creating_until > now
    if held and report.creating_by != by:
        raise InvalidTransition(run, f"{report.creating_by} is creating the run's tracking comment")
    taken = report.model_copy(update={"creating_by": by, "creating_until": now + CREATE_WINDOW, "updated_at": now})
    return Change(message=f"run {run}: {by} creates its tracking comment on #{report.issue}", records=(taken,))


def record_run_delivery(
    state: State, *, run: str, delivery: RunDelivery, current: CurrentText, now: datetime
) -> Change:
    """Record a try at run ``run``'s comment. A success clears ``pending`` only when the text it posted is still
    the one the run calls for now (a phase that moved meanwhile leaves it pending, for the next pass); a failure
    keeps it pending and backs off. Either way the creation window held by ``delivery.by`` is let go."""
    report = _report(state, run)
    window: dict[str, object] = {}
    if report.creating_by == delivery.by:
        window = {"creating_by": None, "creating_until": None}
    comment_id = delivery.comment_id if delivery.comment_id is not None else report.comment_id
    if delivery.error is not None:
        tries = report.attempts + 1
        error = delivery.error if len(delivery.error) <= _ERROR_CHARS else delivery.error[: _ERROR_CHARS - 1] + "…"
        update = {"attempts": tries, "retry_at": next_try(tries, now, delivery.retry_after), "last_error": error}
        failed = report.model_copy(update={**update, **window, "comment_id": comment_id, "updated_at": now})
        return Change(message=f"run {run}: tracking comment on #{report.issue} failed (try {tries})", records=(failed,))
    text = current(state, report.model_copy(update={"comment_id": comment_id}))
    posted = delivery.digest or report.delivered_digest
    up_to_date = text is None or text_digest(text) == posted
    done = report.model_copy(
        update={
            **window,
            "comment_id": comment_id,
            "delivered_digest": posted,
            "pending": not up_to_date,
            "attempts": 0,
            "retry_at": None,
            "last_error": None,
            "updated_at": now,
        }
    )
    if done == report.model_copy(update={"updated_at": now}):
        return Change(message=f"run {run}: tracking comment unchanged")
    what = "up to date" if up_to_date else "updated; the run moved on meanwhile"
    return Change(message=f"run {run}: tracking comment on #{report.issue} {what}", records=(done,))
