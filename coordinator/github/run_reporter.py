"""Delivering pipeline runs' tracking comments: for each run report that is pending and due, the run's summary is
rendered whole (:mod:`coordinator.github.run_comment`), redacted, and written to its one comment on the issue;
what was done is recorded on the state branch by a compare-and-swap transition that clears ``pending`` only when
the posted text is still the current one.

Never a second comment: the comment is found by its id, else by its hidden marker among the issue's comments, and
only the process holding the run's creation window (taken by a compare-and-swap commit) may create one, after
looking for the marker. An edit is repeated after a short pause when GitHub answers with a transient error (it
is whole, so safe to repeat); a creation never is. A failure backs off (as GitHub asks, when it says) and stays
pending, so the update is never lost: any process with GitHub tries again later.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from coordinator.core.pipeline_runs import run_summary
from coordinator.core.run_reports import report_of, reports, text_digest
from coordinator.core.state import State
from coordinator.core.transitions.run_reports import RunDelivery, record_run_delivery, take_run_creation
from coordinator.errors import CoordinatorError, InvalidTransition
from coordinator.github.api import GitHubAPI, GitHubError
from coordinator.github.run_comment import is_run_comment, render_run
from coordinator.models import RunReport
from coordinator.store.store import StateStore

#: Runs tried per pass (a pass runs in a runner's loop: it must stay short).
RUNS_PER_PASS = 5
_EDIT_TRIES = 3
_LONGEST_PAUSE_SECONDS = 10.0
_NOT_FOUND = 404
T = TypeVar("T")


class RunReporter:
    """Delivers the tracking comments of pipeline runs on one repository, as ``who``, redacting every text."""

    def __init__(
        self,
        *,
        store: StateStore,
        api: GitHubAPI,
        who: str,
        repository: str,
        redact: Callable[[str], str],
        now: Callable[[], datetime],
        echo: Callable[[str], None],
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store, self.api, self.repository = store, api, repository
        #: Unique per process: a restarted process never takes a window its earlier life held.
        self.who = f"{who}#{secrets.token_hex(4)}"
        self._redact, self._now, self._echo, self._sleep = redact, now, echo, sleep
        #: Comments found by their marker in this pass, recorded even when the edit that followed failed.
        self._found: dict[str, int] = {}

    def text(self, state: State, report: RunReport) -> str | None:
        """The comment's whole text, redacted, as the run stands in ``state`` (None: none of its phases is left)."""
        summary = run_summary(state, report.run)
        if summary is None:
            return None
        return self._redact(render_run(summary, report, state.github))

    def deliver_due(self, *, limit: int = RUNS_PER_PASS, honour_backoff: bool = True) -> int:
        """Deliver up to ``limit`` pending run reports whose backoff ended (every pending one when
        ``honour_backoff`` is off), as the store last saw them; returns how many were tried."""
        now = self._now()
        due = [r.run for r in reports(self.store.state) if r.pending and (not honour_backoff or _due(r, now))]
        for run in due[:limit]:
            self.deliver(run, honour_backoff=honour_backoff)
        return min(limit, len(due))

    def deliver(self, run: str, *, honour_backoff: bool = True) -> bool:
        """Bring run ``run``'s tracking comment up to date; True when it is (or nothing was pending)."""
        state = self.store.state
        report = report_of(state, run)
        if report is None or not report.pending:
            return True
        if honour_backoff and not _due(report, self._now()):
            return False
        text = self.text(state, report)
        if text is None or (report.comment_id is not None and text_digest(text) == report.delivered_digest):
            return self._record(report, RunDelivery(by=self.who))  # GitHub shows it already: nothing to send
        try:
            comment_id = self._post(report, text)
        except GitHubError as exc:
            error = self._redact(f"{exc}")
            self._echo(f"warning: the tracking comment of {run} on #{report.issue} failed, retried later: {error}")
            found = self._found.pop(run, None)
            failed = RunDelivery(by=self.who, comment_id=found, error=error, retry_after=exc.retry_after)
            return self._record(report, failed)
        if comment_id is None:
            return False  # another process is creating it: it shows the newest text when it records
        return self._record(report, RunDelivery(by=self.who, comment_id=comment_id, digest=text_digest(text)))

    def _post(self, report: RunReport, text: str) -> int | None:
        """Write ``text`` to the run's comment: edit it, else find it by its marker, else create it (holding the
        creation window). Returns its id, or None when another process holds the window."""
        known = report.comment_id
        if known is not None:
            try:
                self._again(lambda: self.api.edit_comment(self.repository, known, text))
                return known
            except GitHubError as exc:
                if exc.status != _NOT_FOUND:
                    raise
        if not self._take_window(report.run, gone=known):
            return None
        listed = self._again(lambda: self.api.comments(self.repository, report.issue))
        found = next((c for c in listed if is_run_comment(c.body, report.run)), None)
        if found is not None:
            self._found[report.run] = found.id
            self._again(lambda: self.api.edit_comment(self.repository, found.id, text))
            self._found.pop(report.run, None)
            return found.id
        return self.api.create_comment(self.repository, report.issue, text).id

    def _take_window(self, run: str, *, gone: int | None) -> bool:
        """Take the run's creation window by a compare-and-swap commit; False when someone else holds it (or the
        comment became known meanwhile: the next pass edits it)."""
        try:
            self.store.update(lambda state, now: take_run_creation(state, run=run, by=self.who, now=now, gone=gone))
        except InvalidTransition:
            return False
        except CoordinatorError as exc:
            self._echo(f"warning: cannot create the tracking comment of {run} now: {exc}")
            return False
        return True

    def _record(self, report: RunReport, delivery: RunDelivery) -> bool:
        """Record ``delivery`` on the state branch; True when the comment is up to date."""
        try:
            change = self.store.update(
                lambda state, now: record_run_delivery(
                    state, run=report.run, delivery=delivery, current=self.text, now=now
                )
            )
        except CoordinatorError as exc:
            # Posted but not recorded: the next pass edits the same comment again (whole), which is harmless.
            self._echo(f"warning: could not record the tracking comment of {report.run}: {exc}")
            return False
        recorded = next((r for r in change.records if isinstance(r, RunReport)), None)
        return delivery.error is None and (recorded is None or not recorded.pending)

    def _again(self, call: Callable[[], T]) -> T:
        """``call()`` (safe to repeat), repeated after a short pause while GitHub answers a transient error."""
        for attempt in range(1, _EDIT_TRIES + 1):
            try:
                return call()
            except GitHubError as exc:
                pause = exc.retry_after if exc.retry_after is not None else float(2 ** (attempt - 1))
                if not exc.transient or attempt == _EDIT_TRIES or pause > _LONGEST_PAUSE_SECONDS:
                    raise  # a long wait is the backoff's job
                self._sleep(pause)
        raise AssertionError("unreachable")


def _due(report: RunReport, now: datetime) -> bool:
    return report.retry_at is None or report.retry_at <= now
