"""The outcome policy as a table: every agent outcome by (has a next mode, shutting down, late)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from coordinator.agents.base import AgentOutcome, AgentResult
from coordinator.modes import Mode
from coordinator.runner.policy import MIN_COOLDOWN, Situation, decide

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Row:
    """What the policy must decide: how the attempt is recorded and what the runner does next."""

    record: str = "fail"
    counted: bool = True
    escalates: bool = False  # next_mode is the mode's escalate_to
    retryable: bool = True
    effect: str | None = None  # api_pause | cooldown | misconfigured | fault


def expected(outcome: AgentOutcome, *, has_next: bool, shutting_down: bool, late: bool) -> Row:
    """The table. ``late`` (the lease was lost before the result) never changes the decision: the branch
    itself decides whether a late report still applies."""
    del late
    table = {
        AgentOutcome.SUCCEEDED: Row(record="complete"),
        AgentOutcome.MAX_TURNS: Row(escalates=True),
        AgentOutcome.MAX_BUDGET: Row(escalates=True),
        AgentOutcome.EXECUTION_ERROR: Row(escalates=True),
        AgentOutcome.TIMEOUT: Row(escalates=True),
        # A stronger mode may allow the call (or avoid it); with none left the same call would be denied again.
        AgentOutcome.PERMISSION_DENIED: Row(escalates=True) if has_next else Row(retryable=False),
        AgentOutcome.API_ERROR: Row(counted=False, effect="api_pause"),
        AgentOutcome.AUTH_ERROR: Row(counted=False, effect="misconfigured"),
        AgentOutcome.USAGE_LIMIT: Row(counted=False, effect="cooldown"),
        AgentOutcome.STOPPED: Row(counted=False) if shutting_down else Row(),
        AgentOutcome.MACHINE_FAULT: Row(counted=False, effect="fault"),
        AgentOutcome.SECRET_FOUND: Row(retryable=False),
        AgentOutcome.POLICY_REFUSED: Row(counted=False),
        # The agent's question: the task waits for an answer, the attempt uses none of the budget.
        AgentOutcome.NEEDS_INPUT: Row(record="ask", counted=False),
    }
    assert set(table) == set(AgentOutcome), "a new outcome needs a row in this table"
    return table[outcome]


CASES = list(itertools.product(AgentOutcome, [True, False], [True, False], [True, False]))


@pytest.mark.parametrize(("outcome", "has_next", "shutting_down", "late"), CASES)
def test_every_outcome_in_every_situation(
    outcome: AgentOutcome, has_next: bool, shutting_down: bool, late: bool
) -> None:
    mode = Mode(model="haiku", escalate_to="complex" if has_next else None)
    result = AgentResult(outcome, 12.5, error="what went wrong", resets_at=NOW + timedelta(hours=2))
    situation = Situation(
        runner="box-1", mode_name="simple", mode=mode, now=NOW, shutting_down=shutting_down, late=late
    )
    decision = decide(result, situation)
    want = expected(outcome, has_next=has_next, shutting_down=shutting_down, late=late)
    assert decision.record == want.record
    assert decision.counted == want.counted
    assert decision.retryable == want.retryable
    assert decision.next_mode == ("complex" if want.escalates and has_next else None)
    effects = {
        "api_pause": decision.api_pause,
        "cooldown": decision.cooldown_until is not None,
        "misconfigured": decision.misconfigured is not None,
        "fault": decision.fault is not None,
    }
    assert {name for name, on in effects.items() if on} == ({want.effect} if want.effect else set())
    assert decision.healthy == (want.effect is None)
    if decision.record == "fail":
        assert decision.reason, "every failure says why"
    assert "\n" not in decision.message


def test_api_errors_count_again_only_after_the_long_bound() -> None:
    mode = Mode(model="haiku")
    result = AgentResult(AgentOutcome.API_ERROR, 3.0, error="API Error: 529 overloaded")

    def decision(since: datetime | None) -> bool:
        situation = Situation(
            runner="r",
            mode_name="simple",
            mode=mode,
            now=NOW,
            api_trouble_since=since,
            api_give_up_after=timedelta(hours=6),
        )
        return decide(result, situation).counted

    assert decision(None) is False
    assert decision(NOW - timedelta(hours=5, minutes=59)) is False
    assert decision(NOW - timedelta(hours=6)) is True


def test_a_usage_limit_reset_in_the_past_still_cools_down_a_minute() -> None:
    result = AgentResult(AgentOutcome.USAGE_LIMIT, 1.0, resets_at=NOW - timedelta(hours=3))
    decision = decide(result, Situation(runner="r", mode_name="simple", mode=Mode(model="haiku"), now=NOW))
    assert decision.cooldown_until == NOW + MIN_COOLDOWN


def test_an_api_error_passes_on_when_to_come_back() -> None:
    result = AgentResult(AgentOutcome.API_ERROR, 1.0, error="429", resets_at=NOW + timedelta(minutes=7))
    decision = decide(result, Situation(runner="r", mode_name="simple", mode=Mode(model="haiku"), now=NOW))
    assert decision.retry_at == NOW + timedelta(minutes=7)
