"""Recording results: each goes to the outbox on disk first, then onto the state branch, retried with backoff
until it lands (or the branch says it can never apply). A result is never lost."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from coordinator.core import transitions
from coordinator.core.state import State
from coordinator.core.transitions import Change
from coordinator.core.transitions.github import refuse
from coordinator.core.transitions.leases import ExpiryJudge
from coordinator.core.transitions.plans import complete_plan
from coordinator.core.transitions.questions import ask
from coordinator.errors import ContentionError, CoordinatorError, InvalidTransition, RemoteError, TaskNotFound
from coordinator.models import Runner, Task
from coordinator.runner.clock import Clock
from coordinator.runner.outbox import Outbox, Report
from coordinator.runner.trouble import RemoteTrouble
from coordinator.store.store import StateStore


@dataclass(frozen=True)
class ClaimSpec:
    """How this runner claims: its name, capabilities and lease length."""

    runner: str
    capabilities: tuple[str, ...]
    lease_ttl: timedelta
    max_permission_mode: str | None = None
    expired: ExpiryJudge | None = None

    def claim(self, state: State, now: datetime, *, heartbeat: Runner | None, after: Change | None = None) -> Change:
        """Requeue expired leases and lease the best task to this runner (after ``after``, in one commit)."""
        return transitions.claim(
            state,
            runner=self.runner,
            capabilities=self.capabilities,
            lease_ttl=self.lease_ttl,
            now=now,
            heartbeat=heartbeat,
            after=after,
            max_permission_mode=self.max_permission_mode,
            expired=self.expired,
        )


def report_change(report: Report, state: State, now: datetime) -> Change:
    """The transition a report asks for: ``complete`` or ``fail`` (``counted=False`` hands the task back)."""
    if report.kind == "complete" and report.plan is not None:
        return complete_plan(
            state,
            task_id=report.task_id,
            runner=report.runner,
            result=report.result,
            plan=report.plan,
            now=now,
            attempt=report.attempt,
        )
    if report.kind == "complete":
        return transitions.complete(
            state, task_id=report.task_id, runner=report.runner, result=report.result, now=now, attempt=report.attempt
        )
    if report.kind == "ask":
        return ask(
            state,
            task_id=report.task_id,
            runner=report.runner,
            question=report.question or "",
            result=report.result,
            now=now,
            attempt=report.attempt,
        )
    if report.refuse:
        return refuse(
            state,
            task_id=report.task_id,
            runner=report.runner,
            attempt=report.attempt,
            reason=report.reason,
            now=now,
            result=report.result,
        )
    return transitions.fail(
        state,
        task_id=report.task_id,
        runner=report.runner,
        reason=report.reason or "failed",
        result=report.result,
        retryable=report.retryable,
        counted=report.counted,
        next_mode=report.next_mode if report.next_mode in state.modes.modes else None,
        now=now,
        attempt=report.attempt,
    )


class Delivery:
    """Puts reports in the outbox and onto the branch."""

    def __init__(
        self,
        *,
        store: StateStore,
        outbox: Outbox,
        clock: Clock,
        echo: Callable[[str], None],
        give_up: threading.Event,
        trouble: RemoteTrouble,
    ) -> None:
        self._store = store
        self.outbox = outbox
        self._clock = clock
        self._echo = echo
        self._give_up = give_up
        self._trouble = trouble

    def record(
        self, report: Report, *, heartbeat: Callable[[], Runner], claim: Callable[[], ClaimSpec | None]
    ) -> Task | None:
        """Persist ``report``, then deliver it with retries until it lands; returns the task claimed in the same
        commit (``claim()`` says whether and how to claim one), if any. When ``give_up`` is set (a forced
        shutdown, or ``--once`` giving up on the branch), a report that cannot be delivered stays in the outbox
        for the running daemon's next retry or the next start."""
        self.outbox.put(report)
        while True:
            try:
                claimed = self.deliver(report, heartbeat=heartbeat(), claim=claim())
            except (RemoteError, ContentionError) as exc:
                if self._give_up.is_set():
                    self._echo(f"warning: result of {report.task_id} kept in {self.outbox.folder}: {exc}")
                    return None
                pause = self._trouble.failed(self._clock.monotonic())
                self._echo(f"warning: could not record {report.task_id} (retrying in {pause:.0f}s): {exc}")
                self._clock.wait(self._give_up, pause)
                continue
            self._trouble.ok()
            return claimed

    def deliver(self, report: Report, *, heartbeat: Runner, claim: ClaimSpec | None = None) -> Task | None:
        """One try: commit the report (with this runner's heartbeat, and a claim when ``claim`` is given).

        A report the branch refuses for good (the task is gone, or the attempt was already reported) is
        dropped with a note. Raises ``RemoteError``/``ContentionError`` when the branch cannot be written now.
        """
        refused: list[CoordinatorError] = []

        def apply(state: State, now: datetime) -> Change:
            change: Change | None = None
            try:
                change = report_change(report, state, now)
            except (InvalidTransition, TaskNotFound) as exc:
                if claim is None:
                    raise
                refused[:] = [exc]
            beat = heartbeat.model_copy(update={"last_heartbeat": now})
            if claim is not None:
                return claim.claim(state, now, heartbeat=beat, after=change)
            assert change is not None
            return transitions.with_heartbeat(change, beat, now)

        claimed: Task | None = None
        try:
            change = self._store.update(apply)
            claimed = change.task if claim is not None else None
        except (InvalidTransition, TaskNotFound) as exc:
            refused[:] = [exc]
        if refused:
            self._echo(f"note: result of {report.task_id} attempt {report.attempt} not recorded: {refused[0]}")
        self.outbox.remove(report)
        return claimed

    def deliver_pending(self, heartbeat: Callable[[], Runner]) -> int:
        """Deliver what waits in the outbox (left by an earlier run, or kept when delivery gave up): one try
        each, stopping at the first refusal; returns how many still wait."""
        for path, report in self.outbox.pending():
            if report is None:
                path.rename(path.with_suffix(".unreadable"))
                self._echo(f"warning: set aside unreadable pending result {path}")
                continue
            self._echo(f"delivering a waiting result: {report.task_id} attempt {report.attempt}")
            try:
                self.deliver(report, heartbeat=heartbeat())
            except (RemoteError, ContentionError) as exc:
                pause = self._trouble.failed(self._clock.monotonic())
                self._echo(f"warning: still cannot deliver {path.name} (next try in {pause:.0f}s): {exc}")
                break
            self._trouble.ok()
        return sum(1 for _ in self.outbox.pending())
