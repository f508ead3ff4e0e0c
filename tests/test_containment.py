"""Agents never outlive their attempt or their runner: setsid'd orphans, a SIGKILLed runner, leftovers at start.

Real processes throughout: the agent is tests/containment_agent.py (a child and a grandchild in a session of its
own, orphaned), the runner tests/containment_runner.py (a Containment and a slot thread), killed with SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from coordinator.agents.base import AgentOutcome, AgentRequest
from coordinator.agents.claude import ClaudeAgent
from coordinator.agents.markers import MARKER_VARIABLE, carries, find_carriers, is_marker, marker_value, new_marker
from coordinator.agents.process import run_process
from coordinator.modes import Mode
from tests.fakes.anthropic_api import FakeAnthropic, Text, ToolUse
from tests.fakes.claude_env import claude_env, clear_inherited_claude_env, require_real_claude

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path("/proc/self/environ").exists(), reason="these tests read /proc (Linux); macOS uses ps -E instead"
    ),
]

ROOT = Path(__file__).resolve().parents[1]
AGENT = ROOT / "tests" / "containment_agent.py"


def _pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_gone(pids: list[int], seconds: float = 10.0) -> list[int]:
    """The pids still alive after up to ``seconds``."""
    deadline = time.monotonic() + seconds
    while (alive := [p for p in pids if _pid_alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


def _read_pids(path: Path, seconds: float = 10.0) -> dict[str, int]:
    """The pids the test agent wrote, once it wrote ``ready`` (bounded wait)."""
    deadline = time.monotonic() + seconds
    while True:
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        if "ready" in lines:
            return {name: int(pid) for name, pid in (line.split() for line in lines if line != "ready")}
        if time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    raise AssertionError(f"the test agent did not get ready: {path.read_text() if path.exists() else 'no file'}")


def _first_line(proc: subprocess.Popen[str], seconds: float = 10.0) -> str:
    lines: list[str] = []
    assert proc.stdout is not None
    reader = threading.Thread(target=lambda: lines.append(proc.stdout.readline() if proc.stdout else ""))
    reader.daemon = True
    reader.start()
    reader.join(seconds)
    assert lines, "the stand-in runner said nothing"
    return lines[0].strip()


@pytest.fixture
def reaper() -> Iterator[list[int]]:
    """Pids to SIGKILL after the test if a failing assertion left them running (only our test programs)."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        with contextlib.suppress(OSError):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"containment_" in cmdline or b"time.sleep(120)" in cmdline or b"watchdog" in cmdline:
                os.kill(pid, signal.SIGKILL)


def _agent_argv(pids_file: Path, *flags: str) -> list[str]:
    return [sys.executable, str(AGENT), str(pids_file), *flags]


# --- one attempt ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ending", ["normal exit", "timeout", "stop"])
def test_an_orphaned_setsid_grandchild_is_gone_when_run_process_returns(
    tmp_path: Path, ending: str, reaper: list[int]
) -> None:
    pids_file = tmp_path / "pids.txt"
    stop = threading.Event()
    if ending == "stop":
        threading.Thread(target=lambda: (_read_pids(pids_file), stop.set()), daemon=True).start()
    result = run_process(
        _agent_argv(pids_file, *(["--agent-exits"] if ending == "normal exit" else [])),
        cwd=tmp_path,
        log_path=tmp_path / "agent.log",
        timeout_seconds=60 if ending != "timeout" else 5,
        stop=stop,
        kill_grace_seconds=2,
    )
    pids = _read_pids(pids_file, seconds=0)
    reaper.extend(pids.values())
    assert (result.rc, result.timed_out, result.stopped) == {
        "normal exit": (0, False, False),
        "timeout": (result.rc, True, False),
        "stop": (result.rc, False, True),
    }[ending]
    # The grandchild left the agent's session and lost its parent: only the marker still finds it.
    assert _wait_gone([pids["grandchild"]], seconds=0) == [], "the setsid'd grandchild outlived the attempt"
    assert "agent ready" in result.stdout


def test_the_marker_reaches_the_agent_and_only_marked_processes_are_found(tmp_path: Path) -> None:
    show = f"import os; print(os.environ['{MARKER_VARIABLE}'].split(':')[-1])"
    first = run_process([sys.executable, "-c", show], cwd=tmp_path, log_path=tmp_path / "1.log").stdout.strip()
    second = run_process([sys.executable, "-c", show], cwd=tmp_path, log_path=tmp_path / "2.log").stdout.strip()
    assert is_marker(first) and is_marker(second)
    assert first != second, "every attempt gets its own marker"
    unrelated = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert not carries(unrelated.pid, first)
        assert find_carriers([first]) == {first: set()}
    finally:
        unrelated.kill()
        unrelated.wait()


def test_an_agent_of_a_runner_inside_an_attempt_carries_the_outer_marker_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outer = new_marker()
    monkeypatch.setenv(MARKER_VARIABLE, outer)  # this process is "an agent" of an enclosing attempt
    pid_file = tmp_path / "pid"
    agent = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(30)"
    stop = threading.Event()
    seen: list[bool] = []

    def look() -> None:
        deadline = time.monotonic() + 10
        while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.02)
        pid = int(pid_file.read_text())
        seen.append(carries(pid, outer) and pid in find_carriers([outer])[outer])
        stop.set()

    threading.Thread(target=look, daemon=True).start()
    result = run_process([sys.executable, "-c", agent], cwd=tmp_path, log_path=tmp_path / "a.log", stop=stop)
    assert result.stopped and seen == [True], "ending the outer attempt would miss this agent"


def test_marker_values_keep_the_outer_markers_and_drop_junk() -> None:
    outer, inner = new_marker(), new_marker()
    assert marker_value(None, inner) == inner
    assert marker_value(f"{outer}:not-a-marker:{inner}", inner) == f"{outer}:{inner}"


# --- the real claude CLI ----------------------------------------------------------------------------------------


def test_a_process_the_claude_bash_tool_detached_is_gone_after_the_attempt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reaper: list[int]
) -> None:
    exe = require_real_claude()
    clear_inherited_claude_env(monkeypatch)
    pids_file = tmp_path / "pids.txt"
    detach = f"{sys.executable} {AGENT} {pids_file} --agent-exits > /dev/null 2>&1 < /dev/null"
    mode = Mode(model="haiku", max_turns=5, timeout_seconds=120, allowed_tools=["Bash"])
    workdir = tmp_path / "work"
    workdir.mkdir()
    with FakeAnthropic([ToolUse.bash(detach)], then=Text("DONE")) as api:
        request = AgentRequest(
            task_id="t-1",
            title="A task",
            prompt="Start a server.",
            workdir=workdir,
            mode_name="simple",
            mode=mode,
            attempt=1,
            log_path=tmp_path / "attempt-1.log",
            env=claude_env(api.url, tmp_path / "home"),
        )
        result = ClaudeAgent(exe, kill_grace_seconds=3).run(request, threading.Event())
        pids = _read_pids(pids_file, seconds=0)
        reaper.extend(pids.values())
        assert result.outcome is AgentOutcome.SUCCEEDED, result
    assert _wait_gone([pids["grandchild"]], seconds=0) == [], "the Bash tool's detached process outlived the attempt"
