"""The runner's share of ``coordinator tick``: while it polls, at most once a minute, it enqueues the schedules'
due occurrences, so recurring tasks come on time wherever a runner is alive (the workflow's timer is the fallback).

It decides on the state the runner already holds (no fetch, no commit when nothing is due); a write goes through
the same compare-and-swap as ``coordinator tick``, so any number of runners ticking at once make each task once.
"""

from __future__ import annotations

from collections.abc import Callable

from coordinator.core.transitions.schedules import tick, tick_outcome
from coordinator.errors import CoordinatorError
from coordinator.runner.clock import Clock
from coordinator.store.store import StateStore
from coordinator.text import terminal_safe

#: Cron has one-minute resolution: ticking more often finds nothing new.
TICK_EVERY_SECONDS = 60.0


class Ticker:
    """Calls :func:`tick` now and then; says in the log what it enqueued and (once each) what it had to skip."""

    def __init__(
        self, store: StateStore, clock: Clock, echo: Callable[[str], None], every: float = TICK_EVERY_SECONDS
    ) -> None:
        self.store, self.clock, self.echo, self.every = store, clock, echo, every
        self._last: float | None = None
        self._told: set[str] = set()

    def tick_if_due(self) -> bool:
        """Tick when a minute has passed since the last one; True when it enqueued a task (claim now)."""
        mono = self.clock.monotonic()
        if self._last is not None and mono - self._last < self.every:
            return False
        self._last = mono
        now = self.clock.now()
        outcome = tick_outcome(self.store.state, now)
        for skipped in outcome.skipped:
            line = f"warning: schedule {skipped.schedule} skipped: {skipped.reason}"
            if line not in self._told:
                self._told.add(line)
                self.echo(terminal_safe(line))
        if not outcome.tasks and not outcome.schedules:
            return False
        try:
            change = self.store.update(lambda state, _: tick(state, now))
        except CoordinatorError as exc:
            self.echo(f"warning: could not tick the schedules (next try in a minute): {exc}")
            return False
        for task in change.tasks:
            self.echo(terminal_safe(f"tick: enqueued {task.id}: {task.title}"))
        return bool(change.tasks)
