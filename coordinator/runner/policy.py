"""What an attempt's outcome means: record it as success or failure, counted or not, escalate, pause, cool down,
or stop claiming. Pure: a function of the agent's result and the situation, tested as a table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from coordinator.agents.base import ESCALATING_OUTCOMES, AgentOutcome, AgentResult
from coordinator.modes import Mode

#: A usage limit whose reset time is missing or already past still cools the machine down this long.
MIN_COOLDOWN = timedelta(minutes=1)
#: A usage limit that names no reset time cools the machine down this long.
DEFAULT_COOLDOWN = timedelta(hours=1)


@dataclass(frozen=True)
class Situation:
    """What the runner knows besides the agent's result."""

    runner: str
    mode_name: str
    mode: Mode
    now: datetime
    #: The runner is shutting down (SIGTERM / Ctrl-C): a stopped agent is handed back, not failed.
    shutting_down: bool = False
    #: The lease was lost (cancelled, or taken over) before the result came.
    late: bool = False


@dataclass(frozen=True)
class Decision:
    """How to record an attempt and what the runner does next."""

    record: Literal["complete", "fail"]
    message: str
    counted: bool = True
    retryable: bool = True
    reason: str | None = None
    next_mode: str | None = None
    #: Pause claiming for a while (API trouble); how long is the runner's setting.
    pause: bool = False
    #: Claim nothing until then (a usage limit).
    cooldown_until: datetime | None = None
    #: Stop claiming for good: this runner cannot work as configured.
    misconfigured: str | None = None


def decide(result: AgentResult, situation: Situation) -> Decision:
    """The decision for one finished attempt."""
    outcome, mode, name = result.outcome, situation.mode, situation.runner
    cost = f", ${result.cost_usd:.4f}" if result.cost_usd is not None else ""
    if outcome == AgentOutcome.SUCCEEDED:
        return Decision("complete", f"succeeded in {situation.mode_name} ({result.duration_seconds:.1f}s{cost})")
    if outcome == AgentOutcome.STOPPED:
        if situation.shutting_down:
            reason = f"runner {name} shut down"
            return Decision("fail", f"stopped ({reason})", counted=False, reason=reason)
        reason = "stopped: the lease was lost"
        return Decision("fail", f"stopped ({reason})", reason=reason)
    if outcome in ESCALATING_OUTCOMES:
        reason = f"{outcome.value}: {result.error or 'failed'}"
        then = f"; next attempt in {mode.escalate_to}" if mode.escalate_to else ""
        return Decision(
            "fail", f"failed in {situation.mode_name}: {reason}{then}", reason=reason, next_mode=mode.escalate_to
        )
    if outcome == AgentOutcome.API_ERROR:
        reason = f"API error: {result.error or result.summary}"
        return Decision("fail", f"{reason}; pausing claims", reason=reason, pause=True)
    if outcome == AgentOutcome.AUTH_ERROR:
        reason = f"runner {name} cannot authenticate: {result.error or result.summary}"
        return Decision("fail", reason, counted=False, reason=reason, misconfigured=reason)
    if outcome == AgentOutcome.USAGE_LIMIT:
        # A reset time already past (clock skew, a stale message) must not turn into claim-fail loops.
        until = max(result.resets_at or situation.now + DEFAULT_COOLDOWN, situation.now + MIN_COOLDOWN)
        reason = f"usage limit on runner {name} until {until.isoformat()}"
        message = f"usage limit reached; runner {name} cools down until {until.isoformat()}"
        return Decision("fail", message, counted=False, reason=reason, cooldown_until=until)
    reason = f"{outcome.value}: {result.error or ''}"
    return Decision("fail", reason, reason=reason)
