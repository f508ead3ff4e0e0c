"""Whether this runner may claim now: not while its credentials are wrong, while a usage limit cools it down, or
during a pause after API trouble. Decisions of finished attempts feed it; the heartbeat reports it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from coordinator.runner.policy import Decision


@dataclass
class Health:
    """The runner's claiming state. Times: ``now`` is wall-clock UTC, ``mono`` a monotonic clock reading."""

    pause_seconds: float
    misconfigured: str | None = None
    cooldown_until: datetime | None = None
    pause_until: float = 0.0

    def apply(self, decision: Decision, *, mono: float) -> None:
        """Take what a finished attempt means for the runner into account."""
        if decision.misconfigured is not None:
            self.misconfigured = decision.misconfigured
        if decision.cooldown_until is not None:
            self.cooldown_until = decision.cooldown_until
        if decision.pause:
            self.pause_until = max(self.pause_until, mono + self.pause_seconds)

    def cooldown_over(self, now: datetime) -> bool:
        """True (once) when a usage-limit cooldown has just ended."""
        if self.cooldown_until is not None and now >= self.cooldown_until:
            self.cooldown_until = None
            return True
        return False

    def may_claim(self, now: datetime, mono: float) -> bool:
        """Whether claiming is allowed at this moment."""
        if self.misconfigured is not None:
            return False
        if self.cooldown_until is not None and now < self.cooldown_until:
            return False
        return mono >= self.pause_until
