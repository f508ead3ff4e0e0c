"""What an attempt's outcome means: record it as success or failure, counted or not, escalate, pause, cool down,
or stop claiming. Pure: a function of the agent's result and the situation, tested as a table.

The rules, in short:

- a failure a stronger model may fix (turns, budget, execution error, timeout, the agent's own verdict, tool
  calls denied with nothing changed) is counted and the next attempt escalates; a denial with no stronger mode
  left fails the task (the same permissions would deny the same call again);
- trouble that is not the task's fault never burns its attempts: API errors (rate limits, overload, 5xx,
  unreachable), a usage limit, bad credentials, this machine's faults, a mode this runner's owner does not allow,
  and a shutdown hand the task back uncounted; only API trouble that has lasted longer than a long bound
  (``api_give_up_after``, hours) starts counting attempts again;
- a secret in the agent's changes fails the task for a person to look at.
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
    #: When the task's current run of API errors began (its first uncounted API-error attempt), if any.
    api_trouble_since: datetime | None = None
    #: How long API errors may keep a task waiting before its attempts count again.
    api_give_up_after: timedelta = timedelta(hours=6)


@dataclass(frozen=True)
class Decision:
    """How to record an attempt and what the runner does next."""

    record: Literal["complete", "fail", "ask"]
    message: str
    counted: bool = True
    retryable: bool = True
    reason: str | None = None
    next_mode: str | None = None
    #: Pause claiming after API trouble (how long: the runner's growing backoff, at least until ``retry_at``).
    api_pause: bool = False
    retry_at: datetime | None = None
    #: Claim nothing until then (a usage limit).
    cooldown_until: datetime | None = None
    #: Stop claiming for good: this runner cannot work as configured.
    misconfigured: str | None = None
    #: This machine failed (not the task): the runner backs off and, after repeated faults, stops claiming.
    fault: str | None = None

    @property
    def healthy(self) -> bool:
        """The attempt says nothing bad about this machine or the API (their failure streaks end here)."""
        return not (self.api_pause or self.fault or self.misconfigured or self.cooldown_until)


def decide(result: AgentResult, situation: Situation) -> Decision:
    """The decision for one finished attempt."""
    outcome = result.outcome
    if outcome == AgentOutcome.SUCCEEDED:
        cost = f", ${result.cost_usd:.4f}" if result.cost_usd is not None else ""
        return Decision("complete", f"succeeded in {situation.mode_name} ({result.duration_seconds:.1f}s{cost})")
    if outcome == AgentOutcome.STOPPED:
        return _stopped(situation)
    if outcome == AgentOutcome.NEEDS_INPUT:
        reason = f"the agent asked: {result.error or 'a question'}"
        return Decision("ask", f"{reason}; the task waits for an answer", counted=False, reason=reason)
    if outcome in ESCALATING_OUTCOMES or outcome == AgentOutcome.PERMISSION_DENIED:
        return _escalation(result, situation)
    if outcome == AgentOutcome.API_ERROR:
        return _api_trouble(result, situation)
    if outcome == AgentOutcome.USAGE_LIMIT:
        # A reset time already past (clock skew, a stale message) must not turn into claim-fail loops.
        until = max(result.resets_at or situation.now + DEFAULT_COOLDOWN, situation.now + MIN_COOLDOWN)
        reason = f"usage limit on runner {situation.runner} until {until.isoformat()}"
        message = f"usage limit reached; runner {situation.runner} cools down until {until.isoformat()}"
        return Decision("fail", message, counted=False, reason=reason, cooldown_until=until)
    return _not_the_tasks_fault(result, situation)


def _stopped(situation: Situation) -> Decision:
    if situation.shutting_down:
        reason = f"runner {situation.runner} shut down"
        return Decision("fail", f"stopped ({reason}); handed back", counted=False, reason=reason)
    reason = "stopped: the lease was lost (cancelled, or taken over after it expired)"
    return Decision("fail", f"stopped ({reason})", reason=reason)


def _escalation(result: AgentResult, situation: Situation) -> Decision:
    mode = situation.mode
    reason = f"{result.outcome.value}: {result.error or 'failed'}"
    if result.outcome == AgentOutcome.PERMISSION_DENIED and mode.escalate_to is None:
        message = f"failed in {situation.mode_name}: {reason}; no stronger mode to try, the task fails"
        return Decision("fail", message, reason=reason, retryable=False)
    then = f"; next attempt in {mode.escalate_to}" if mode.escalate_to else ""
    return Decision(
        "fail", f"failed in {situation.mode_name}: {reason}{then}", reason=reason, next_mode=mode.escalate_to
    )


def _api_trouble(result: AgentResult, situation: Situation) -> Decision:
    reason = f"API error: {result.error or result.summary or 'no details'}"
    since = situation.api_trouble_since
    if since is not None and situation.now - since >= situation.api_give_up_after:
        hours = situation.api_give_up_after.total_seconds() / 3600
        counted_reason = f"{reason} (API errors for over {hours:g} h: counting attempts again)"
        return Decision("fail", counted_reason, reason=counted_reason, api_pause=True, retry_at=result.resets_at)
    return Decision(
        "fail",
        f"{reason}; handed back, not counted",
        counted=False,
        reason=reason,
        api_pause=True,
        retry_at=result.resets_at,
    )


def _not_the_tasks_fault(result: AgentResult, situation: Situation) -> Decision:
    outcome, name = result.outcome, situation.runner
    detail = result.error or result.summary or outcome.value
    if outcome == AgentOutcome.AUTH_ERROR:
        reason = f"runner {name} cannot authenticate: {detail}"
        return Decision("fail", reason, counted=False, reason=reason, misconfigured=reason)
    if outcome == AgentOutcome.MACHINE_FAULT:
        reason = f"machine fault on runner {name}: {detail}"
        return Decision("fail", f"{reason}; handed back, not counted", counted=False, reason=reason, fault=reason)
    if outcome == AgentOutcome.POLICY_REFUSED:
        reason = f"runner {name} refuses this mode: {detail}"
        return Decision("fail", f"{reason}; handed back for a runner that allows it", counted=False, reason=reason)
    if outcome == AgentOutcome.SECRET_FOUND:
        reason = f"{detail}; nothing was committed: a person must look (then 'coordinator retry')"
        return Decision("fail", reason, reason=reason, retryable=False)
    reason = f"{outcome.value}: {detail}"
    return Decision("fail", reason, reason=reason)
