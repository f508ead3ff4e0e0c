"""CommandAgent: any executable as an agent, prompt on stdin, task in env vars, optional JSON result line."""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import textwrap
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from coordinator.agents.base import AgentOutcome, AgentRequest, AgentResult
from coordinator.agents.command import CommandAgent, interpret, split_command
from coordinator.models import Tokens
from coordinator.modes import Mode

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _request(tmp_path: Path, mode: Mode | None = None, prompt: str = "Fix the bug.\nThanks.") -> AgentRequest:
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    return AgentRequest(
        task_id="t-42",
        title="Fix the bug",
        prompt=prompt,
        workdir=workdir,
        mode_name="complex",
        mode=mode or Mode(model="sonnet", max_turns=12, timeout_seconds=60),
        attempt=2,
        log_path=tmp_path / "logs" / "attempt-2.log",
        env={"FROM_REQUEST": "yes"},
    )


def _script(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "agent.py"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return [sys.executable, str(path)]


def _interpret(rc: int, stdout: str, stderr: str = "", **flags: bool) -> AgentResult:
    return interpret(
        rc,
        stdout,
        stderr,
        timed_out=flags.get("timed_out", False),
        stopped=flags.get("stopped", False),
        duration_seconds=2.0,
        now=NOW,
        default_model="sonnet",
    )


@pytest.mark.slow
def test_prompt_env_and_cwd_reach_the_command(tmp_path: Path) -> None:
    argv = _script(
        tmp_path,
        """
        import json, os, sys
        prompt = sys.stdin.read()
        names = [n for n in os.environ if n.startswith(("COORDINATOR_", "FROM_"))]
        with open("seen.json", "w") as fh:
            json.dump({"prompt": prompt, "env": {n: os.environ[n] for n in names}, "cwd": os.getcwd()}, fh)
        print("worked hard")
        print("all done")
        """,
    )
    request = _request(tmp_path)
    result = CommandAgent(argv).run(request, threading.Event())
    assert result.outcome is AgentOutcome.SUCCEEDED
    assert result.summary == "worked hard\nall done"
    assert result.exit_code == 0 and result.model == "sonnet" and result.error is None
    seen = json.loads((request.workdir / "seen.json").read_text(encoding="utf-8"))
    assert seen["prompt"] == request.prompt
    assert Path(seen["cwd"]).resolve() == request.workdir.resolve()
    # Other COORDINATOR_* variables may come from the test session itself (cache dir, test CLI path); the
    # attempt's marker is random (checked by its shape).
    marker = seen["env"].get("COORDINATOR_AGENT_ID", "")
    assert re.fullmatch(r"[0-9a-f]{24}", marker.rsplit(":", 1)[-1]), marker
    assert {k: v for k, v in seen["env"].items() if k not in os.environ and k != "COORDINATOR_AGENT_ID"} == {
        "COORDINATOR_TASK_ID": "t-42",
        "COORDINATOR_TASK_TITLE": "Fix the bug",
        "COORDINATOR_ATTEMPT": "2",
        "COORDINATOR_MODE": "complex",
        "COORDINATOR_MODEL": "sonnet",
        "COORDINATOR_WORKDIR": str(request.workdir),
        "COORDINATOR_MAX_TURNS": "12",
        "COORDINATOR_LOG": str(request.log_path),
        "FROM_REQUEST": "yes",
    }
    assert "worked hard" in request.log_path.read_text(encoding="utf-8")


@pytest.mark.slow
def test_nonzero_exit_is_an_execution_error(tmp_path: Path) -> None:
    argv = _script(tmp_path, "import sys\nprint('partial work')\nsys.stderr.write('it broke\\n')\nsys.exit(2)\n")
    result = CommandAgent(argv).run(_request(tmp_path), threading.Event())
    assert result.outcome is AgentOutcome.EXECUTION_ERROR
    assert (result.exit_code, result.error, result.summary) == (2, "it broke", "partial work")


@pytest.mark.slow
def test_timeout_and_stop(tmp_path: Path) -> None:
    argv = [sys.executable, "-c", "import time; time.sleep(30)"]
    agent = CommandAgent(argv, kill_grace_seconds=2)
    timed = agent.run(_request(tmp_path, Mode(model="m", timeout_seconds=1)), threading.Event())
    assert timed.outcome is AgentOutcome.TIMEOUT and timed.duration_seconds < 10
    stop = threading.Event()
    timer = threading.Timer(0.5, stop.set)
    timer.start()
    try:
        stopped = agent.run(_request(tmp_path), stop)
    finally:
        timer.cancel()
    assert stopped.outcome is AgentOutcome.STOPPED and stopped.duration_seconds < 10


@pytest.mark.slow
def test_json_result_line_is_used(tmp_path: Path) -> None:
    line = {"summary": "Did it.", "cost_usd": 0.25, "model": "my-model", "turns": 4, "session_id": "abc"}
    argv = _script(tmp_path, f"print('chatter')\nprint({json.dumps(json.dumps(line))})\n")
    result = CommandAgent(argv).run(_request(tmp_path), threading.Event())
    assert result.outcome is AgentOutcome.SUCCEEDED
    assert (result.summary, result.cost_usd, result.model, result.turns, result.session_id) == (
        "Did it.",
        0.25,
        "my-model",
        4,
        "abc",
    )


def test_string_command_is_split_like_a_shell(tmp_path: Path) -> None:
    agent = CommandAgent(f'"{sys.executable}" -c "print(1)" extra')
    assert agent.command_line(_request(tmp_path))[1:] == ["-c", "print(1)", "extra"]
    assert split_command(["a", "b c"]) == ["a", "b c"]
    with pytest.raises(ValueError, match="empty"):
        CommandAgent("")


@pytest.mark.slow
def test_string_command_runs(tmp_path: Path) -> None:
    agent = CommandAgent(f'"{sys.executable}" -c "import sys; print(sys.stdin.read().upper())"')
    result = agent.run(_request(tmp_path, prompt="shout"), threading.Event())
    assert (result.outcome, result.summary) == (AgentOutcome.SUCCEEDED, "SHOUT")


@pytest.mark.skipif(os.name == "nt", reason="shebang script")
@pytest.mark.slow
def test_relative_command_runs_from_the_work_tree(tmp_path: Path) -> None:
    request = _request(tmp_path)
    script = request.workdir / "tools" / "agent.sh"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\necho from the tree\n", encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    agent = CommandAgent("tools/agent.sh")
    assert agent.command_line(request)[0] == str(request.workdir / "tools" / "agent.sh")
    assert agent.run(request, threading.Event()).summary == "from the tree"


def test_missing_command_is_a_runner_problem(tmp_path: Path) -> None:
    result = CommandAgent([str(tmp_path / "missing-agent")]).run(_request(tmp_path), threading.Event())
    assert result.outcome is AgentOutcome.AUTH_ERROR
    assert result.error and "cannot run the agent command" in result.error


def test_interpret_outcome_claims() -> None:
    claim = json.dumps({"outcome": "max_turns", "error": "ran out"})
    result = _interpret(0, f"work\n{claim}\n")
    assert (result.outcome, result.error, result.summary) == (AgentOutcome.MAX_TURNS, "ran out", "work")
    # A failing exit can never be reported as a success.
    assert _interpret(1, json.dumps({"outcome": "succeeded"})).outcome is AgentOutcome.EXECUTION_ERROR
    # Unknown outcomes and bad values are ignored.
    odd = _interpret(0, json.dumps({"outcome": "great", "cost_usd": "free", "turns": -1}))
    assert (odd.outcome, odd.cost_usd, odd.turns) == (AgentOutcome.SUCCEEDED, None, None)
    # Timeout and stop always win.
    assert _interpret(0, json.dumps({"outcome": "succeeded"}), timed_out=True).outcome is AgentOutcome.TIMEOUT
    assert _interpret(-15, "", stopped=True).outcome is AgentOutcome.STOPPED


def test_interpret_usage_limit_and_tokens() -> None:
    limited = _interpret(1, json.dumps({"outcome": "usage_limit", "resets_at": "2026-11-22T17:00:00Z"}))
    assert limited.outcome is AgentOutcome.USAGE_LIMIT
    assert limited.resets_at == datetime(2026, 11, 22, 17, tzinfo=UTC)
    by_epoch = _interpret(1, json.dumps({"outcome": "usage_limit", "resets_at": 1795320000}))
    assert by_epoch.resets_at == datetime.fromtimestamp(1795320000, UTC)
    fallback = _interpret(1, json.dumps({"outcome": "usage_limit"}))
    assert fallback.resets_at == NOW + timedelta(hours=1)
    tokens = _interpret(0, json.dumps({"tokens": {"input": 10, "output": 3}}))
    assert tokens.tokens == Tokens(input=10, output=3)


def test_interpret_summary_is_the_tail_of_stdout() -> None:
    result = _interpret(0, "a" * 10_000 + "\nFINAL LINE\n\n")
    assert result.summary.endswith("FINAL LINE") and len(result.summary) <= 4000
    assert _interpret(3, "", "").error == "command exited with code 3"
