"""Spend is never lost: a claude run cut short (timeout, stop, kill) still reports what it spent, marked partial.

Fixtures ``v332_*`` were captured from the real CLI 2.1.332 run with ``--output-format stream-json --verbose
--include-partial-messages`` against tests/fakes/anthropic_api.py: a complete 2-turn run, and one ended with
SIGTERM while its second API request was pending. The real-CLI tests at the end repeat that through
``ClaudeAgent`` (skipped when the CLI is not installed).
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from coordinator.agents.base import AgentOutcome, AgentRequest, AgentResult
from coordinator.agents.claude import ClaudeAgent
from coordinator.agents.claude_output import classify
from coordinator.agents.claude_usage import usage_so_far
from coordinator.agents.pricing import UNKNOWN_MODEL_PRICE, estimated_cost, price_of
from coordinator.core.prices import ModelPrice
from coordinator.models import Tokens
from coordinator.modes import Mode
from tests.fakes.anthropic_api import FakeAnthropic, Reply, Text, ToolUse
from tests.fakes.claude_env import claude_env, fixture_case

NOW = datetime(2026, 11, 29, 20, 0, tzinfo=UTC)


def Price(input_: float, output: float) -> ModelPrice:
    """A list price with the cache prices the table derives: reads 0.1x, writes 1.25x the input price."""
    return ModelPrice(input=input_, output=output, cache_write=input_ * 1.25, cache_read=input_ * 0.1)


def _classify(stdout: str, rc: int | None = None, **flags: bool) -> AgentResult:
    return classify(
        rc,
        stdout,
        "",
        timed_out=flags.get("timed_out", False),
        stopped=flags.get("stopped", False),
        duration_seconds=5.0,
        now=NOW,
        default_model="sonnet",
    )


def _result_of(stdout: str) -> dict[str, Any]:
    return json.loads(stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# -- pure: the events a cut-short run printed --------------------------------------------------------------------


def test_a_run_killed_in_its_second_turn_records_the_first_turns_tokens_and_cost() -> None:
    _, stdout, _ = fixture_case("v332_sigterm_second_turn")
    result = _classify(stdout, rc=-15, timed_out=True)
    assert result.outcome is AgentOutcome.TIMEOUT
    assert result.cost_partial is True
    assert result.tokens == Tokens(input=12239, output=5)
    assert result.turns == 1 and result.model == "claude-sonnet-5-5"
    # What the CLI itself charged for exactly that one sonnet turn (seen in a complete 1-turn run): $2 / $10 per M.
    assert result.cost_usd == pytest.approx(12239 * 2e-6 + 5 * 10e-6)
    assert result.session_id == "29fe8a2d-571e-4d9f-adbd-d68bc0e00224"


def test_stopped_and_crashed_runs_keep_their_spend_too() -> None:
    _, stdout, _ = fixture_case("v332_sigterm_second_turn")
    stopped = _classify(stdout, rc=-15, stopped=True)
    assert (stopped.outcome, stopped.cost_partial) == (AgentOutcome.STOPPED, True)
    assert stopped.cost_usd is not None and stopped.cost_usd > 0
    crashed = _classify(stdout, rc=137)  # killed by someone else: no result object either
    assert (crashed.outcome, crashed.cost_partial, crashed.tokens.input) == (AgentOutcome.EXECUTION_ERROR, True, 12239)


def test_the_streamed_messages_add_up_to_the_clis_own_total() -> None:
    _, stdout, _ = fixture_case("v332_partial_messages")
    total = _result_of(stdout)
    cut = "\n".join(stdout.strip().splitlines()[:-1])  # the same run, had it been killed before its result
    partial = _classify(cut, timed_out=True)
    assert partial.cost_partial is True and partial.turns == 2
    assert partial.tokens.input == total["usage"]["input_tokens"]
    assert partial.tokens.output == total["usage"]["output_tokens"]  # from message_delta, not the assistant echo
    assert partial.cost_usd == pytest.approx(total["total_cost_usd"], rel=1e-3)


def test_a_complete_run_reports_the_clis_figures_not_an_estimate() -> None:
    rc, stdout, _ = fixture_case("v332_partial_messages")
    result = _classify(stdout, rc=rc)
    total = _result_of(stdout)
    assert result.outcome is AgentOutcome.SUCCEEDED and result.cost_partial is False
    assert result.cost_usd == total["total_cost_usd"]
    assert (result.turns, result.summary) == (2, "DONE")
    assert result.session_id == total["session_id"]


def test_a_timeout_after_the_result_was_printed_keeps_the_exact_total() -> None:
    _, stdout, _ = fixture_case("v332_partial_messages")
    result = _classify(stdout, rc=-15, timed_out=True)
    assert result.outcome is AgentOutcome.TIMEOUT and result.cost_partial is False
    assert result.cost_usd == _result_of(stdout)["total_cost_usd"]


def test_the_older_json_output_still_classifies_as_before() -> None:
    rc, stdout, _ = fixture_case("v330_basic")
    result = _classify(stdout, rc=rc)
    assert result.outcome is AgentOutcome.SUCCEEDED and result.cost_partial is False


def test_nothing_streamed_means_no_cost_rather_than_a_made_up_one() -> None:
    init = json.dumps({"type": "system", "subtype": "init", "session_id": "s-1", "model": "claude-haiku-5-5"})
    result = _classify(init, rc=-15, timed_out=True)
    assert (result.cost_usd, result.cost_partial, result.session_id) == (None, False, "s-1")


def _stream(ident: str, kind: str, usage: dict[str, int], parent: str | None = None, **more: Any) -> dict[str, Any]:
    inner: dict[str, Any] = {"type": kind, "usage": usage}
    if kind == "message_start":
        inner = {"type": kind, "message": {"id": ident, "model": more.get("model", "claude-haiku-5-5"), "usage": usage}}
    event: dict[str, Any] = {"type": "stream_event", "event": inner, "parent_tool_use_id": parent}
    if more.get("with_id", True):
        event["api_message_id"] = ident
    return event


def test_each_message_counts_once_with_its_highest_counts_and_subagents_count_too() -> None:
    events = [
        _stream("m1", "message_start", {"input_tokens": 1000, "output_tokens": 1, "cache_read_input_tokens": 5000}),
        {"type": "assistant", "message": {"id": "m1", "model": "claude-haiku-5-5", "usage": {"input_tokens": 1000}}},
        _stream("m1", "message_delta", {"output_tokens": 40}),
        _stream("m1", "message_delta", {"output_tokens": 90}, with_id=False),  # no id: the latest message's
        _stream("s1", "message_start", {"input_tokens": 300}, parent="toolu_1", model="claude-opus-5-5"),
        _stream("s1", "message_delta", {"output_tokens": 7}, parent="toolu_1"),
        {"type": "user", "message": {"content": [{"type": "tool_result", "content": '{"input_tokens": 99999}'}]}},
    ]
    seen = usage_so_far(events)
    assert seen is not None
    assert seen.tokens == Tokens(input=1300, output=97, cache_read=5000)
    assert seen.turns == 1  # the subagent's message is spend, not a turn of the agent
    assert seen.model == "claude-haiku-5-5"
    expected = Price(0.1, 0.5).cost(Tokens(input=1000, output=90, cache_read=5000)) + Price(4, 20).cost(
        Tokens(input=300, output=7)
    )
    assert seen.cost_usd == pytest.approx(expected, abs=1e-6)


def test_hostile_or_odd_events_are_ignored() -> None:
    events: list[Any] = [
        {"type": "assistant", "message": "not an object"},
        {"type": "stream_event", "event": {"type": "message_delta", "usage": {"output_tokens": 5}}},  # no message yet
        {"type": "stream_event", "event": "x", "parent_tool_use_id": {"a": 1}},
        _stream("m1", "message_start", {"input_tokens": -5, "output_tokens": True}),  # type: ignore[dict-item]
    ]
    seen = usage_so_far(events)
    assert seen is not None and seen.tokens == Tokens() and seen.cost_usd == 0


def test_prices_by_id_alias_and_for_models_nobody_knows_yet() -> None:
    assert price_of("claude-haiku-4-5-20251001") == Price(1.0, 5.0)
    assert price_of("claude-opus-4-1-20250805") == Price(15.0, 75.0)
    assert price_of("claude-opus-4-5") == Price(5.0, 25.0)
    assert price_of("haiku") == price_of("claude-haiku-5-5")
    assert price_of("us.anthropic.claude-sonnet-9") == price_of("sonnet")
    assert price_of("weird-model") == UNKNOWN_MODEL_PRICE == price_of(None)
    tokens = Tokens(input=1_000_000, output=1_000_000, cache_read=1_000_000, cache_creation=1_000_000)
    assert estimated_cost("claude-sonnet-4-5", tokens) == pytest.approx(3 + 15 + 0.3 + 3.75)


# -- the real CLI against the fake API ------------------------------------------------------------------------


class _SecondTurnHangs:
    """First request: a Write; the second is held until released (the run is ended meanwhile)."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.second = threading.Event()
        self.release = threading.Event()
        self.calls = 0

    def __call__(self, body: dict[str, Any]) -> Reply:
        self.calls += 1
        if self.calls == 1:
            return ToolUse.write(str(self.target), "first turn\n")
        self.second.set()
        self.release.wait(60)
        return Text("too late")


def _request(tmp_path: Path, env: dict[str, str], mode: Mode) -> AgentRequest:
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    return AgentRequest(
        task_id="t-1",
        title="A task",
        prompt="Do the task.",
        workdir=workdir,
        mode_name="simple",
        mode=mode,
        attempt=1,
        log_path=tmp_path / "logs" / "attempt-1.log",
        env=env,
    )


@pytest.mark.slow
def test_real_cli_timed_out_in_its_second_turn_records_the_first_turns_spend(claude_exe: str, tmp_path: Path) -> None:
    script = _SecondTurnHangs(tmp_path / "work" / "first.txt")
    with FakeAnthropic(script) as api:
        env = claude_env(api.url, tmp_path / "home")
        # Long enough for the first turn on a busy machine; the second turn never answers before it.
        request = _request(tmp_path, env, Mode(model="haiku", max_turns=5, timeout_seconds=8))
        try:
            result = ClaudeAgent(claude_exe, kill_grace_seconds=2).run(request, threading.Event())
        finally:
            script.release.set()
    assert script.second.is_set(), "the first turn did not finish within the timeout: the machine is too slow"
    assert result.outcome is AgentOutcome.TIMEOUT, result
    assert result.cost_partial is True and result.turns == 1
    first = api.message_requests[0].body or {}
    assert result.model == "claude-haiku-5-5" == first.get("model")
    assert result.tokens.input > 1000 and result.tokens.output == 5  # the fake's counts for one message
    assert result.cost_usd == pytest.approx(estimated_cost("claude-haiku-5-5", result.tokens), abs=1e-6)
    assert result.cost_usd is not None and result.cost_usd > 0
    assert (tmp_path / "work" / "first.txt").read_text(encoding="utf-8") == "first turn\n"


@pytest.mark.slow
def test_real_cli_stopped_in_its_second_turn_records_the_first_turns_spend(claude_exe: str, tmp_path: Path) -> None:
    script = _SecondTurnHangs(tmp_path / "work" / "first.txt")
    stop = threading.Event()
    with FakeAnthropic(script) as api:
        env = claude_env(api.url, tmp_path / "home")
        request = _request(tmp_path, env, Mode(model="sonnet", max_turns=5, timeout_seconds=120))
        threading.Thread(target=lambda: script.second.wait(60) and stop.set(), daemon=True).start()
        try:
            result = ClaudeAgent(claude_exe, kill_grace_seconds=2).run(request, stop)
        finally:
            script.release.set()
    assert result.outcome is AgentOutcome.STOPPED, result
    assert result.cost_partial is True and result.turns == 1 and result.model == "claude-sonnet-5-5"
    assert result.cost_usd == pytest.approx(estimated_cost("claude-sonnet-5-5", result.tokens), abs=1e-6)
    assert len(api.message_requests) == 2
