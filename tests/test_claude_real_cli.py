"""The real ``claude`` CLI, offline, against FakeAnthropic: our command line works and outcomes classify right.

Needs the CLI: ``COORDINATOR_TEST_CLAUDE=/path/to/claude`` or ``claude`` on PATH (``npm install
@anthropic-ai/claude-code``); skipped otherwise. Each run takes about a second.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from pathlib import Path

import pytest

from coordinator.agents.base import AgentOutcome, AgentRequest, AgentResult
from coordinator.agents.claude import ClaudeAgent
from coordinator.modes import Mode
from tests.fakes.anthropic_api import ApiError, FakeAnthropic, Reply, Text, ToolUse
from tests.fakes.claude_env import claude_env

pytestmark = pytest.mark.slow


def _request(tmp_path: Path, env: dict[str, str], mode: Mode, prompt: str = "Do the task.") -> AgentRequest:
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
        log_path=tmp_path / "logs" / "attempt-1.log",
        env=env,
    )


def _run(
    exe: str,
    tmp_path: Path,
    script: list[Reply],
    *,
    then: Reply | None = None,
    mode: Mode | None = None,
    oauth: bool = False,
    prompt: str = "Do the task.",
) -> tuple[AgentResult, FakeAnthropic, AgentRequest]:
    with FakeAnthropic(script, then=then) as api:
        env = claude_env(api.url, tmp_path / "home", oauth_token="test-oauth-token" if oauth else None)
        request = _request(tmp_path, env, mode or Mode(model="haiku", max_turns=5, timeout_seconds=120), prompt)
        result = ClaudeAgent(exe, kill_grace_seconds=3).run(request, threading.Event())
    return result, api, request


def test_writes_a_file_and_succeeds(claude_exe: str, tmp_path: Path) -> None:
    target = tmp_path / "work" / "hello.txt"
    result, api, request = _run(claude_exe, tmp_path, [ToolUse.write(str(target), "hello\n"), Text("DONE")])
    assert result.outcome is AgentOutcome.SUCCEEDED, result
    assert target.read_text(encoding="utf-8") == "hello\n"
    assert result.turns == 2 and result.summary == "DONE" and result.exit_code == 0
    assert result.cost_usd is not None and result.cost_usd > 0
    assert result.tokens.input > 0 and result.session_id
    assert result.model and "haiku" in result.model
    posts = api.message_requests
    assert len(posts) == 2 and all(p.body and p.body.get("stream") is True for p in posts)
    assert posts[0].headers.get("x-api-key") == "test"
    assert '"type":"result"' in request.log_path.read_text(encoding="utf-8")


def test_every_mode_flag_is_accepted(claude_exe: str, tmp_path: Path) -> None:
    mode = Mode(
        model="sonnet",
        max_turns=3,
        max_budget_usd=5,
        allowed_tools=["Bash(git status)", "Edit"],
        disallowed_tools=["WebFetch", "WebSearch"],
        append_system_prompt="COORDINATOR-MARKER",
    )
    result, api, _ = _run(claude_exe, tmp_path, [Text("DONE")], mode=mode, prompt="- a prompt that starts with a dash")
    assert result.outcome is AgentOutcome.SUCCEEDED, result
    body = api.message_requests[0].body or {}
    assert "COORDINATOR-MARKER" in str(body.get("system"))
    assert "- a prompt that starts with a dash" in str(body.get("messages"))
    tools = {t.get("name") for t in body.get("tools", [])}
    assert "WebFetch" not in tools and "WebSearch" not in tools and "Edit" in tools


def test_max_turns(claude_exe: str, tmp_path: Path) -> None:
    result, _, _ = _run(
        claude_exe, tmp_path, [], then=ToolUse.write(str(tmp_path / "work" / "again.txt"), "x"),
        mode=Mode(model="haiku", max_turns=2, timeout_seconds=120),
    )  # fmt: skip
    assert result.outcome is AgentOutcome.MAX_TURNS, result
    assert result.error and "turns" in result.error


def test_invalid_key_is_an_auth_error(claude_exe: str, tmp_path: Path) -> None:
    result, _, _ = _run(claude_exe, tmp_path, [], then=ApiError.authentication())
    assert result.outcome is AgentOutcome.AUTH_ERROR, result


@pytest.mark.parametrize("error", [ApiError.server_error(), ApiError.overloaded(), ApiError.rate_limit()])
def test_server_errors_are_api_errors(claude_exe: str, tmp_path: Path, error: ApiError) -> None:
    result, _, _ = _run(claude_exe, tmp_path, [], then=error)
    assert result.outcome is AgentOutcome.API_ERROR, result
    assert result.exit_code == 1


def test_usage_limit_reports_the_reset_time(claude_exe: str, tmp_path: Path) -> None:
    epoch = int(time.time()) + 3 * 3600 + 17
    result, api, _ = _run(claude_exe, tmp_path, [], then=ApiError.usage_limit(epoch), oauth=True)
    assert result.outcome is AgentOutcome.USAGE_LIMIT, result
    assert api.message_requests[0].headers.get("Authorization") == "Bearer test-oauth-token"
    assert result.resets_at is not None
    # JSON output shows the reset as a clock time to the minute; we add a minute so we never resume early.
    assert epoch <= result.resets_at.timestamp() <= epoch + 120


def _cmdlines() -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
    return found


def test_stop_ends_the_cli_and_its_tool_processes(claude_exe: str, tmp_path: Path) -> None:
    marker = "time.sleep(47.25)"  # unusual enough to find in the process list
    # Not a plain `sleep N`: since 2.1.33x the CLI refuses a standalone long sleep without running it.
    mode = Mode(model="haiku", max_turns=5, timeout_seconds=120, allowed_tools=["Bash"])
    with FakeAnthropic([ToolUse.bash(f"{sys.executable} -c 'import time; {marker}'")], then=Text("DONE")) as api:
        request = _request(tmp_path, claude_env(api.url, tmp_path / "home"), mode)
        stop = threading.Event()
        timer = threading.Timer(3.0, stop.set)
        timer.start()
        started = time.monotonic()
        try:
            result = ClaudeAgent(claude_exe, kill_grace_seconds=3).run(request, stop)
        finally:
            timer.cancel()
    assert result.outcome is AgentOutcome.STOPPED, result
    assert time.monotonic() - started < 15
    if sys.platform.startswith("linux"):
        time.sleep(0.3)
        assert not [c for c in _cmdlines() if marker in c], "the Bash tool's process survived the stop"
