"""What every agent takes and returns: the runner speaks only this interface."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from coordinator.models import Denial, Tokens
from coordinator.modes import Mode


class AgentOutcome(StrEnum):
    """How one agent run ended, as far as scheduling cares."""

    SUCCEEDED = "succeeded"
    MAX_TURNS = "max_turns"  # ran out of turns: a stronger mode may fix it
    MAX_BUDGET = "max_budget"  # ran out of budget: a stronger mode may fix it
    EXECUTION_ERROR = "execution_error"  # error during execution / the agent's own verdict / non-zero exit
    TIMEOUT = "timeout"  # wall clock exceeded; the process tree was stopped
    API_ERROR = "api_error"  # 5xx, overloaded, unreachable, API-key 429: retry the same mode later
    AUTH_ERROR = "auth_error"  # 401, no key, not logged in: this runner is misconfigured
    USAGE_LIMIT = "usage_limit"  # subscription limit: this machine cools down until resets_at
    STOPPED = "stopped"  # we stopped it (lease lost, cancel, shutdown)
    NEEDS_INPUT = "needs_input"  # the agent's own verdict: it cannot go on without a person's answer
    # Judged by the runner after the run, never reported by an agent:
    PERMISSION_DENIED = "permission_denied"  # tool calls were denied and nothing changed
    MACHINE_FAULT = "machine_fault"  # this machine failed (worktree, git, disk): not the task's fault
    SECRET_FOUND = "secret_in_changes"  # noqa: S105 (a name, not a secret): the agent's changes hold a secret: nothing was committed
    POLICY_REFUSED = "refused_by_policy"  # the task's mode exceeds what this runner's owner allows


#: Outcomes a stronger mode can plausibly fix; the next attempt escalates.
ESCALATING_OUTCOMES = frozenset(
    {AgentOutcome.MAX_TURNS, AgentOutcome.MAX_BUDGET, AgentOutcome.EXECUTION_ERROR, AgentOutcome.TIMEOUT}
)


@dataclass(frozen=True)
class AgentRequest:
    """Everything an agent needs for one attempt."""

    task_id: str
    title: str
    prompt: str
    workdir: Path
    mode_name: str
    mode: Mode
    attempt: int
    log_path: Path
    env: Mapping[str, str] = field(default_factory=dict)
    #: The earlier Claude session to continue (``claude --resume``); ``prompt`` then says only what is new.
    resume_session: str | None = None


@dataclass(frozen=True)
class AgentResult:
    """What one attempt produced; every field but ``outcome`` may be unknown."""

    outcome: AgentOutcome
    duration_seconds: float
    exit_code: int | None = None
    model: str | None = None
    cost_usd: float | None = None
    tokens: Tokens = field(default_factory=Tokens)
    #: The run ended before the agent reported its total (timeout, stop, kill): ``cost_usd`` and ``tokens`` are
    #: what it showed so far.
    cost_partial: bool = False
    #: Tool calls the agent's permissions refused (tool and target).
    denials: tuple[Denial, ...] = ()
    turns: int | None = None
    session_id: str | None = None
    summary: str = ""
    error: str | None = None
    resets_at: datetime | None = None
    #: The session this run continued, or why it started fresh although one was to be resumed.
    resumed_session: str | None = None
    fresh_because: str | None = None


class Agent(Protocol):
    """An agent runs one attempt in a prepared work tree and returns its result.

    ``stop`` is set when the runner wants the run ended early (lease lost, task cancelled, shutdown); the agent
    must then stop its whole process tree promptly and return ``AgentOutcome.STOPPED``.
    """

    def command_line(self, request: AgentRequest) -> list[str]:
        """The exact command that ``run`` would execute (shown by ``--dry-run``)."""
        ...

    def run(self, request: AgentRequest, stop: threading.Event) -> AgentResult:
        """Run the attempt to completion, timeout or stop."""
        ...


#: The prompt asks the agent to end with this line when it could not do the task (its own verdict).
VERDICT_PREFIX = "COORDINATOR-VERDICT: failed"


#: The prompt asks the agent to end with this line when it cannot go on without a person's answer.
NEEDS_INPUT_PREFIX = "COORDINATOR-VERDICT: needs-input"


def _verdict(summary: str, prefix: str) -> str | None:
    """What follows ``prefix`` on one of the last three lines of ``summary``, or None when none starts with it."""
    for line in reversed([line.strip() for line in summary.strip().splitlines() if line.strip()][-3:]):
        if line.startswith(prefix):
            return line[len(prefix) :].lstrip(" :-")
    return None


def failed_verdict(summary: str) -> str | None:
    """The agent's own reason for failing, when its final text ends with the verdict line; else None."""
    reason = _verdict(summary, VERDICT_PREFIX)
    return None if reason is None else reason or "the agent reported failure"


def needs_input_verdict(summary: str) -> str | None:
    """The agent's question, when its final text ends with the needs-input verdict line; else None."""
    question = _verdict(summary, NEEDS_INPUT_PREFIX)
    return None if question is None else question or "(the agent asked for input without saying what)"
