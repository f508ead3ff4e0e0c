"""Whether this runner may claim now, and what its heartbeat says about it.

Not while its credentials are wrong or this machine has failed repeatedly (both stop claiming until a person
fixes them and restarts the runner), while a usage limit cools it down, or during a growing pause after API
trouble or a machine fault. Decisions of finished attempts feed it; a healthy attempt ends a failure streak.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from coordinator.models import RunnerState
from coordinator.runner.policy import Decision


@dataclass(frozen=True)
class Backoff:
    """Pauses that double with each failure in a row: ``first``, ``2*first``, ... up to ``longest`` seconds."""

    first: float
    longest: float

    def pause(self, failures_in_a_row: int) -> float:
        """The pause after the ``failures_in_a_row``-th failure (1 = the first)."""
        if failures_in_a_row <= 0 or self.first <= 0:
            return 0.0
        return float(min(self.longest, self.first * 2 ** min(failures_in_a_row - 1, 30)))


@dataclass
class Health:
    """The runner's claiming state. Times: ``now`` is wall-clock UTC, ``mono`` a monotonic clock reading."""

    api_backoff: Backoff
    fault_backoff: Backoff
    #: Machine faults in a row after which the runner stops claiming.
    fault_limit: int = 3
    misconfigured: str | None = None
    faulty: str | None = None
    cooldown_until: datetime | None = None
    pause_until: float = 0.0
    pause_reason: str | None = None
    api_errors_in_a_row: int = 0
    faults_in_a_row: int = 0

    def apply(self, decision: Decision, *, now: datetime, mono: float) -> float:
        """Take what a finished attempt means for the runner into account; returns the pause it starts (s)."""
        if decision.misconfigured is not None:
            self.misconfigured = decision.misconfigured
        if decision.cooldown_until is not None:
            self.cooldown_until = decision.cooldown_until
        pause = 0.0
        if decision.api_pause:
            self.api_errors_in_a_row += 1
            pause = self.api_backoff.pause(self.api_errors_in_a_row)
            if decision.retry_at is not None:
                pause = max(pause, (decision.retry_at - now).total_seconds())
            self._pause(mono, pause, f"API errors ({self.api_errors_in_a_row} in a row)")
        if decision.fault is not None:
            self.faults_in_a_row += 1
            if self.faults_in_a_row >= self.fault_limit:
                self.faulty = f"{self.faults_in_a_row} machine faults in a row, the last: {decision.fault}"
            pause = self.fault_backoff.pause(self.faults_in_a_row)
            self._pause(mono, pause, f"machine faults ({self.faults_in_a_row} in a row)")
        if decision.healthy:
            self.api_errors_in_a_row = self.faults_in_a_row = 0
        return pause

    def _pause(self, mono: float, seconds: float, why: str) -> None:
        if mono + seconds > self.pause_until:
            self.pause_until = mono + seconds
            self.pause_reason = why

    def cooldown_over(self, now: datetime) -> bool:
        """True (once) when a usage-limit cooldown has just ended."""
        if self.cooldown_until is not None and now >= self.cooldown_until:
            self.cooldown_until = None
            return True
        return False

    @property
    def stopped_claiming(self) -> str | None:
        """Why this runner claims nothing until it is fixed and restarted, if it does not."""
        return self.misconfigured or self.faulty

    def may_claim(self, now: datetime, mono: float) -> bool:
        """Whether claiming is allowed at this moment."""
        if self.stopped_claiming is not None:
            return False
        if self.cooldown_until is not None and now < self.cooldown_until:
            return False
        return mono >= self.pause_until

    def state(self, *, mono: float, busy: bool) -> tuple[RunnerState, str | None]:
        """What the heartbeat reports: the state and, when it is not plain idle/busy, why."""
        if self.misconfigured is not None:
            return RunnerState.MISCONFIGURED, self.misconfigured
        if self.faulty is not None:
            return RunnerState.FAULTY, self.faulty
        if self.cooldown_until is not None:
            return RunnerState.COOLING_DOWN, None
        if mono < self.pause_until:
            return RunnerState.PAUSED, f"paused {self.pause_until - mono:.0f}s more after {self.pause_reason}"
        return (RunnerState.BUSY if busy else RunnerState.IDLE), None
