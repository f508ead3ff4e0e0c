"""ClaudeAgent: every captured CLI outcome is classified right; the command line; runs of a fake executable."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from coordinator.agents.base import AgentOutcome, AgentRequest, AgentResult
from coordinator.agents.claude import ClaudeAgent
from coordinator.agents.claude_output import classify, parse_events
from coordinator.agents.usage_limits import parse_reset_text
from coordinator.models import Tokens
from coordinator.modes import Mode
from tests.fakes.claude_env import fixture_case, make_fake_claude

NOW = datetime(2026, 11, 22, 1, 30, 35, tzinfo=UTC)  # when the fixtures were captured


def _classify_case(case: str, rc: int | None = None, *, default_model: str | None = None) -> AgentResult:
    recorded_rc, stdout, stderr = fixture_case(case)
    return classify(
        rc if rc is not None else recorded_rc,
        stdout,
        stderr,
        timed_out=False,
        stopped=False,
        duration_seconds=1.5,
        now=NOW,
        default_model=default_model,
    )


@pytest.mark.parametrize(
    ("case", "rc", "outcome"),
    [
        ("v330_basic", None, AgentOutcome.SUCCEEDED),
        ("v330_write", None, AgentOutcome.SUCCEEDED),
        ("v330_denied", None, AgentOutcome.SUCCEEDED),
        ("v330_stream", None, AgentOutcome.SUCCEEDED),
        ("v330_jsonverbose", None, AgentOutcome.SUCCEEDED),
        ("v330_maxturns", None, AgentOutcome.MAX_TURNS),
        ("v330_budget", None, AgentOutcome.MAX_BUDGET),
        ("v330_e401", None, AgentOutcome.AUTH_ERROR),
        ("v330_nokey", None, AgentOutcome.AUTH_ERROR),
        ("v330_e429", None, AgentOutcome.API_ERROR),
        ("v330_e429_default_retries", 1, AgentOutcome.API_ERROR),  # captured without its .rc
        ("v330_e429t", None, AgentOutcome.API_ERROR),  # --output-format text: no JSON at all
        ("v330_e500", None, AgentOutcome.API_ERROR),
        ("v330_retry", None, AgentOutcome.API_ERROR),
        ("v330_unreach", None, AgentOutcome.API_ERROR),
        ("v330_quota", None, AgentOutcome.USAGE_LIMIT),
    ],
)
def test_every_fixture_case_is_classified(case: str, rc: int | None, outcome: AgentOutcome) -> None:
    result = _classify_case(case, rc)
    assert result.outcome is outcome, result
    if outcome is AgentOutcome.SUCCEEDED:
        assert result.error is None
    else:
        assert result.error


def test_success_fields_are_parsed_by_key() -> None:
    result = _classify_case("v330_basic", default_model="opus")
    assert result.outcome is AgentOutcome.SUCCEEDED
    assert result.exit_code == 0
    assert result.cost_usd == pytest.approx(0.050192)
    assert result.tokens == Tokens(input=12523, output=5, cache_read=0, cache_creation=0)
    assert result.turns == 1
    assert result.session_id == "0417cbca-75b1-4304-898c-391d8a74201d"
    assert result.model == "claude-opus-5-5"
    assert result.summary == "DONE"
    assert result.duration_seconds == 1.5


def test_stream_json_and_verbose_array_find_the_result() -> None:
    stream = _classify_case("v330_stream")
    assert (stream.turns, stream.session_id) == (2, "8cdac1e6-f01a-436c-897b-3c4dc9c7f782")
    assert stream.cost_usd == pytest.approx(0.100904)
    verbose = _classify_case("v330_jsonverbose")
    assert verbose.session_id == "ad56c950-bb35-4604-b825-8d76f4c0139d"
    assert len(parse_events(fixture_case("v330_stream")[1])) > 10


def test_error_subtypes_carry_errors_list_and_usage() -> None:
    turns = _classify_case("v330_maxturns")
    assert turns.error == "Reached maximum number of turns (2)"
    assert turns.summary == "Reached maximum number of turns (2)"
    assert turns.turns == 3 and turns.cost_usd == pytest.approx(0.100688)
    budget = _classify_case("v330_budget")
    assert budget.error == "Reached maximum budget ($0.12)"
    assert budget.tokens.input == 25172


def test_permission_denials_are_recorded_with_tool_and_target() -> None:
    result = _classify_case("v330_denied")
    # The CLI itself calls this a success; the runner judges it (a denial that left no change is a failure).
    assert result.outcome is AgentOutcome.SUCCEEDED
    assert result.summary == "DONE"
    assert [(d.tool, d.target) for d in result.denials] == [("Write", "/home/dev/project/x.txt")]


def test_auth_and_api_error_texts() -> None:
    assert "Invalid API key" in str(_classify_case("v330_e401").error)
    assert "/login" in str(_classify_case("v330_nokey").error)
    assert "ECONNREFUSED" in str(_classify_case("v330_unreach").error)
    assert _classify_case("v330_e401").model is None
    assert _classify_case("v330_e401", default_model="haiku").model == "haiku"


def test_usage_limit_uses_resets_at_epoch_from_stream() -> None:
    result = _classify_case("v330_quota")
    assert result.outcome is AgentOutcome.USAGE_LIMIT
    assert result.resets_at == datetime.fromtimestamp(1795314635, UTC)
    assert "5-hour limit" in str(result.error)


def test_usage_limit_in_json_mode_parses_the_reset_clock_time() -> None:
    # --output-format json has only the result line: "You've hit your 5-hour limit · resets 2:30am (UTC)".
    last_line = fixture_case("v330_quota")[1].strip().splitlines()[-1]
    result = classify(1, last_line, "", timed_out=False, stopped=False, duration_seconds=0.2, now=NOW)
    assert result.outcome is AgentOutcome.USAGE_LIMIT
    # The message shows minutes only, so a minute is added to never resume early.
    assert result.resets_at == datetime(2026, 11, 22, 2, 31, tzinfo=UTC)


def _result_json(**fields: object) -> str:
    base: dict[str, object] = {
        "type": "result",
        "subtype": "success",
        "is_error": True,
        "num_turns": 1,
        "session_id": "s-1",
        "total_cost_usd": 0,
        "usage": {},
        "modelUsage": {},
        "permission_denials": [],
    }
    base.update(fields)
    return json.dumps(base)


def _classify(
    rc: int | None,
    stdout: str,
    stderr: str = "",
    *,
    timed_out: bool = False,
    stopped: bool = False,
    duration_seconds: float = 1.0,
) -> AgentResult:
    return classify(
        rc, stdout, stderr, timed_out=timed_out, stopped=stopped, duration_seconds=duration_seconds, now=NOW
    )


def test_older_usage_limit_message_with_epoch() -> None:
    result = _classify(1, _result_json(result="Claude AI usage limit reached|1795320000"))
    assert result.outcome is AgentOutcome.USAGE_LIMIT
    assert result.resets_at == datetime.fromtimestamp(1795320000, UTC)


def test_usage_limit_without_a_time_cools_down_an_hour() -> None:
    result = _classify(1, _result_json(result="You've hit your usage limit", api_error_status=429))
    assert result.outcome is AgentOutcome.USAGE_LIMIT
    assert result.resets_at == NOW + timedelta(hours=1)


def test_rejected_rate_limit_event_alone_means_usage_limit() -> None:
    event = {"type": "rate_limit_event", "rate_limit_info": {"status": "rejected", "resetsAt": 1795320000}}
    stdout = json.dumps(event) + "\n" + _result_json(result="API Error: Request rejected (429)", api_error_status=429)
    result = _classify(1, stdout)
    assert result.outcome is AgentOutcome.USAGE_LIMIT
    assert result.resets_at == datetime.fromtimestamp(1795320000, UTC)


def test_rejected_event_followed_by_success_is_a_success() -> None:
    event = {"type": "rate_limit_event", "rate_limit_info": {"status": "rejected", "resetsAt": 1795320000}}
    stdout = json.dumps(event) + "\n" + _result_json(is_error=False, result="DONE")
    assert _classify(0, stdout).outcome is AgentOutcome.SUCCEEDED


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("You've hit your session limit · resets 3:10am (UTC)", datetime(2026, 11, 22, 3, 11, tzinfo=UTC)),
        ("You've hit your session limit · resets 4am (UTC)", datetime(2026, 11, 22, 4, 1, tzinfo=UTC)),
        # Already past today: the next one is tomorrow.
        ("You've hit your session limit · resets 1am (UTC)", datetime(2026, 11, 23, 1, 1, tzinfo=UTC)),
        # Printed at 01:30 for a reset at 01:30:20: still this minute, not tomorrow.
        ("You've hit your session limit · resets 1:30am (UTC)", datetime(2026, 11, 22, 1, 31, tzinfo=UTC)),
        ("You've hit your weekly limit · resets Nov 25, 2:10am (UTC)", datetime(2026, 11, 25, 2, 11, tzinfo=UTC)),
        ("You've hit your session limit · resets 4:10am (Europe/Berlin)", datetime(2026, 11, 22, 3, 11, tzinfo=UTC)),
        ("You've hit your Opus limit · resets 10:10pm (America/New_York)", datetime(2026, 11, 22, 3, 11, tzinfo=UTC)),
        ("You've hit your weekly limit · resets Jan 2, 9pm (UTC)", datetime(2027, 1, 2, 21, 1, tzinfo=UTC)),
        ("Claude AI usage limit reached|1795314635", datetime.fromtimestamp(1795314635, UTC)),
        ("You've hit your limit", None),
    ],
)
def test_parse_reset_text(text: str, expected: datetime | None) -> None:
    assert parse_reset_text(text, NOW) == expected


def test_overloaded_and_5xx_and_connection_are_api_errors() -> None:
    overloaded = _result_json(result="API Error: 529 Overloaded.", api_error_status=529)
    assert _classify(1, overloaded).outcome is AgentOutcome.API_ERROR
    gateway = _result_json(result="API Error: 502 Bad gateway", api_error_status=502)
    assert _classify(1, gateway).outcome is AgentOutcome.API_ERROR
    refused = _result_json(result="API Error: Unable to connect to API (ConnectionRefused)", api_error_status=None)
    assert _classify(1, refused).outcome is AgentOutcome.API_ERROR


def test_other_failures_are_execution_errors() -> None:
    during = _result_json(subtype="error_during_execution", errors=["boom"])
    result = _classify(1, during)
    assert (result.outcome, result.error) == (AgentOutcome.EXECUTION_ERROR, "boom")
    # A clean success object but a failing exit code: the exit code wins.
    clean = _result_json(is_error=False, result="DONE")
    assert _classify(1, clean).outcome is AgentOutcome.EXECUTION_ERROR
    # is_error with subtype success is a failure even with rc 0.
    assert _classify(0, _result_json(result="something odd")).outcome is AgentOutcome.EXECUTION_ERROR


def test_no_json_output() -> None:
    refused = _classify(1, "", "error: unknown option '-x'\n")
    assert refused.outcome is AgentOutcome.EXECUTION_ERROR
    assert refused.error == "error: unknown option '-x'"
    login = _classify(1, "", "Error: please log in first, or set an API key\n")
    assert login.outcome is AgentOutcome.AUTH_ERROR
    assert _classify(0, "").outcome is AgentOutcome.EXECUTION_ERROR
    long_stderr = "x" * 10_000 + "THE END"
    assert str(_classify(1, "", long_stderr).error).endswith("THE END")


def test_timeout_and_stop_win_but_keep_what_was_parsed() -> None:
    _, stdout, _ = fixture_case("v330_basic")
    timed = _classify(0, stdout, timed_out=True, duration_seconds=900.0)
    assert timed.outcome is AgentOutcome.TIMEOUT and "900" in str(timed.error)
    stopped = _classify(-15, stdout, stopped=True)
    assert stopped.outcome is AgentOutcome.STOPPED
    assert stopped.session_id == "0417cbca-75b1-4304-898c-391d8a74201d"
    assert _classify(143, "", stopped=True).outcome is AgentOutcome.STOPPED
    assert _classify(None, "", timed_out=True).outcome is AgentOutcome.TIMEOUT


def test_model_is_the_costliest_and_summary_is_truncated() -> None:
    usage = {"claude-haiku": {"costUSD": 0.01}, "claude-opus": {"costUSD": 0.5}, "claude-sonnet": {"costUSD": 0.2}}
    stdout = _result_json(is_error=False, result="y" * 10_000, modelUsage=usage)
    result = _classify(0, stdout)
    assert result.model == "claude-opus"
    assert 3900 <= len(result.summary) <= 4000 and result.summary.endswith("[truncated]")


def test_junk_lines_around_the_result_are_tolerated() -> None:
    _, stdout, _ = fixture_case("v330_basic")
    result = _classify(0, "warning: something\n" + stdout + "\nnot json\n")
    assert result.outcome is AgentOutcome.SUCCEEDED and result.turns == 1


# -- the agent: command line and runs of a fake executable -----------------------------------------------------


def _request(
    tmp_path: Path, mode: Mode, prompt: str = "Do the task.", env: dict[str, str] | None = None
) -> AgentRequest:
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    return AgentRequest(
        task_id="t-1",
        title="A task",
        prompt=prompt,
        workdir=workdir,
        mode_name="simple",
        mode=mode,
        attempt=1,
        log_path=tmp_path / "logs" / "t-1" / "attempt-1.log",
        env=env or {},
    )


def test_command_line_has_every_flag(tmp_path: Path) -> None:
    mode = Mode(
        model="haiku",
        max_turns=7,
        max_budget_usd=0.5,
        permission_mode="acceptEdits",
        allowed_tools=["Bash(git *)", "Edit"],
        disallowed_tools=["WebFetch"],
        append_system_prompt="Be brief.",
    )
    argv = ClaudeAgent("claude").command_line(_request(tmp_path, mode, prompt="-starts with a dash"))
    assert argv == [
        "claude", "-p", "--output-format", "stream-json", "--verbose", "--include-partial-messages",
        "--model", "haiku", "--max-turns", "7",
        "--permission-mode", "acceptEdits", "--max-budget-usd", "0.5", "--append-system-prompt", "Be brief.",
        "--allowedTools", "Bash(git *)", "Edit", "--disallowedTools", "WebFetch", "--", "-starts with a dash",
    ]  # fmt: skip


def test_command_line_minimal_and_long_prompt_on_stdin(tmp_path: Path) -> None:
    agent = ClaudeAgent("/opt/claude")
    argv = agent.command_line(_request(tmp_path, Mode(model="sonnet")))
    assert argv == [
        "/opt/claude", "-p", "--output-format", "stream-json", "--verbose", "--include-partial-messages",
        "--model", "sonnet", "--max-turns", "30",
        "--permission-mode", "acceptEdits", "--", "Do the task.",
    ]  # fmt: skip
    long_request = _request(tmp_path, Mode(model="sonnet"), prompt="x" * 200_000)
    assert agent.prompt_on_stdin(long_request)
    assert agent.command_line(long_request)[-1] == "acceptEdits"


def test_budget_is_printed_as_a_plain_decimal(tmp_path: Path) -> None:
    argv = ClaudeAgent().command_line(_request(tmp_path, Mode(model="m", max_budget_usd=0.00001)))
    assert argv[argv.index("--max-budget-usd") + 1] == "0.00001"
    argv = ClaudeAgent().command_line(_request(tmp_path, Mode(model="m", max_budget_usd=20)))
    assert argv[argv.index("--max-budget-usd") + 1] == "20"


def _fake_env(tmp_path: Path, case: str, **extra: str) -> dict[str, str]:
    return {"FAKE_CLAUDE_CASE": case, "FAKE_CLAUDE_ARGV_LOG": str(tmp_path / "argv.jsonl"), **extra}


def _argv_log(tmp_path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (tmp_path / "argv.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.mark.slow
def test_run_with_fake_executable_succeeds_and_logs(tmp_path: Path) -> None:
    exe = make_fake_claude(tmp_path / "bin")
    request = _request(
        tmp_path,
        Mode(model="haiku", max_turns=3),
        env=_fake_env(tmp_path, "v330_write", FAKE_CLAUDE_WRITE="hello.txt:hi"),
    )
    result = ClaudeAgent(str(exe), extra_env={"FROM_AGENT": "1"}).run(request, threading.Event())
    assert result.outcome is AgentOutcome.SUCCEEDED
    assert (result.turns, result.exit_code, result.summary) == (2, 0, "DONE")
    assert (request.workdir / "hello.txt").read_text(encoding="utf-8") == "hi"
    [call] = _argv_log(tmp_path)
    assert call["argv"][:5] == [  # type: ignore[index]
        "-p", "--output-format", "stream-json", "--verbose", "--include-partial-messages"
    ]  # fmt: skip
    assert call["argv"][-2:] == ["--", "Do the task."]  # type: ignore[index]
    assert Path(str(call["cwd"])).resolve() == request.workdir.resolve()
    log = request.log_path.read_text(encoding="utf-8")
    assert '"type":"result"' in log and "--- exit code 0" in log


@pytest.mark.slow
def test_run_with_fake_executable_failure_cases(tmp_path: Path) -> None:
    exe = make_fake_claude(tmp_path / "bin")
    agent = ClaudeAgent(str(exe))
    for case, outcome in [
        ("v330_maxturns", AgentOutcome.MAX_TURNS),
        ("v330_e401", AgentOutcome.AUTH_ERROR),
        ("v330_quota", AgentOutcome.USAGE_LIMIT),
    ]:
        result = agent.run(_request(tmp_path, Mode(model="haiku"), env=_fake_env(tmp_path, case)), threading.Event())
        assert result.outcome is outcome, (case, result)
        assert result.exit_code == 1


@pytest.mark.slow
def test_long_prompt_goes_on_stdin(tmp_path: Path) -> None:
    exe = make_fake_claude(tmp_path / "bin")
    prompt = "p" * 150_000
    result = ClaudeAgent(str(exe)).run(
        _request(tmp_path, Mode(model="haiku"), prompt=prompt, env=_fake_env(tmp_path, "v330_basic")),
        threading.Event(),
    )
    assert result.outcome is AgentOutcome.SUCCEEDED
    [call] = _argv_log(tmp_path)
    assert call["stdin"] == prompt and prompt not in call["argv"]  # type: ignore[operator]


@pytest.mark.slow
def test_timeout_and_stop_with_fake_executable(tmp_path: Path) -> None:
    exe = make_fake_claude(tmp_path / "bin")
    agent = ClaudeAgent(str(exe), kill_grace_seconds=2)
    slow = _fake_env(tmp_path, "v330_basic", FAKE_CLAUDE_SLEEP="30")
    timed = agent.run(_request(tmp_path, Mode(model="haiku", timeout_seconds=1), env=slow), threading.Event())
    assert timed.outcome is AgentOutcome.TIMEOUT and timed.duration_seconds < 10
    stop = threading.Event()
    timer = threading.Timer(0.5, stop.set)
    timer.start()
    try:
        stopped = agent.run(_request(tmp_path, Mode(model="haiku"), env=slow), stop)
    finally:
        timer.cancel()
    assert stopped.outcome is AgentOutcome.STOPPED and stopped.duration_seconds < 10


def test_missing_executable_is_a_runner_problem(tmp_path: Path) -> None:
    result = ClaudeAgent(str(tmp_path / "nope" / "claude")).run(
        _request(tmp_path, Mode(model="haiku")), threading.Event()
    )
    assert result.outcome is AgentOutcome.AUTH_ERROR
    assert result.error and "cannot run the claude CLI" in result.error


def test_missing_workdir_is_an_execution_error(tmp_path: Path) -> None:
    request = _request(tmp_path, Mode(model="haiku"))
    request.workdir.rmdir()
    assert ClaudeAgent().run(request, threading.Event()).outcome is AgentOutcome.EXECUTION_ERROR
