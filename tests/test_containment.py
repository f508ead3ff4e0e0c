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
from coordinator.agents.containment import Containment
from coordinator.agents.markers import MARKER_VARIABLE, carries, find_carriers, is_marker, marker_value, new_marker
from coordinator.agents.pidfiles import AgentRecord, record_path, recorded_markers, write_record
from coordinator.agents.process import run_process
from coordinator.agents.watchdog import apply
from coordinator.errors import ConfigError
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

    def stop_once_ready() -> None:
        _read_pids(pids_file)
        stop.set()

    if ending == "stop":
        threading.Thread(target=stop_once_ready, daemon=True).start()
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


# --- the runner dies --------------------------------------------------------------------------------------------


def _start_runner(tmp_path: Path, reaper: list[int]) -> tuple[subprocess.Popen[str], int, dict[str, int]]:
    """The stand-in runner with its agent tree up: (runner, watchdog pid, agent pids)."""
    state_dir, work_dir = tmp_path / "runners" / "box-1" / "agents", tmp_path / "work"
    work_dir.mkdir()
    runner = subprocess.Popen(
        [sys.executable, "-m", "tests.containment_runner", str(state_dir), str(work_dir)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    reaper.append(runner.pid)
    line = _first_line(runner)
    assert line.startswith("WATCHDOG "), line
    watchdog = int(line.split()[1])
    reaper.append(watchdog)
    pids = _read_pids(work_dir / "pids.txt")
    reaper.extend(pids.values())
    assert sorted(pids) == ["agent", "child", "grandchild"]
    assert len(recorded_markers(state_dir)) == 1, "the running agent has a pid file"
    return runner, watchdog, pids


def test_the_agents_of_a_sigkilled_runner_are_gone_within_seconds(tmp_path: Path, reaper: list[int]) -> None:
    runner, watchdog, pids = _start_runner(tmp_path, reaper)
    runner.kill()  # SIGKILL: no handler, no cleanup, no goodbye
    runner.wait()
    assert _wait_gone(list(pids.values())) == [], "agent processes outlived their SIGKILLed runner"
    assert _wait_gone([watchdog]) == [], "the watchdog should exit once it ended the agents"
    state_dir = tmp_path / "runners" / "box-1" / "agents"
    assert recorded_markers(state_dir) == [], "the watchdog removes the pid files of the agents it ended"
    assert "ended pids" in (state_dir / "watchdog.log").read_text(encoding="utf-8")


def test_leftovers_of_a_runner_whose_watchdog_was_killed_too_are_stopped_at_the_next_start(
    tmp_path: Path, reaper: list[int]
) -> None:
    runner, watchdog, pids = _start_runner(tmp_path, reaper)
    os.kill(watchdog, signal.SIGKILL)
    assert _wait_gone([watchdog]) == []
    runner.kill()
    runner.wait()
    time.sleep(0.5)
    assert all(_pid_alive(p) for p in pids.values()), "without a watchdog the agent tree is left running"

    state_dir = tmp_path / "runners" / "box-1" / "agents"
    next_life = Containment(state_dir, kill_grace_seconds=2)
    report = next_life.stop_leftovers()

    assert len(report) == 1 and report[0].startswith("stopped 3 leftover process(es) of agent "), report
    assert all(str(p) in report[0] for p in pids.values()), report
    assert _wait_gone(list(pids.values())) == []
    assert recorded_markers(state_dir) == []
    assert next_life.stop_leftovers() == []
    next_life.close()


def test_a_pid_file_whose_pid_now_belongs_to_an_unrelated_process_is_dropped_without_a_signal(
    tmp_path: Path,
) -> None:
    state_dir = tmp_path / "agents"
    unrelated = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        marker = new_marker()
        started = "2026-01-01T00:00:00+00:00"
        record = AgentRecord(marker, "claude", started, runner_pid=1, pid=unrelated.pid, pgid=unrelated.pid)
        write_record(state_dir, record)
        (state_dir / f"{new_marker()}.json").write_text("{not json", encoding="utf-8")

        containment = Containment(state_dir, kill_grace_seconds=1)
        report = containment.stop_leftovers()
        containment.close()

        assert unrelated.poll() is None, "a process without the marker was signalled"
        assert f"pid {unrelated.pid} now belongs to another process, which was left alone" in "\n".join(report)
        assert any("unreadable pid file" in line and "nothing of it was running" in line for line in report), report
        assert not record_path(state_dir, marker).exists() and recorded_markers(state_dir) == []
    finally:
        unrelated.kill()
        unrelated.wait()


def test_the_watchdog_protocol_ignores_malformed_lines(capsys: pytest.CaptureFixture[str]) -> None:
    marker, watched = new_marker(), set[str]()
    for line in (f"watch {marker}\n", "watch ../../etc\n", f"kill {marker}\n", "\n", f"watch {new_marker()} extra\n"):
        apply(line, watched)
    assert watched == {marker}
    apply(f"unwatch {marker}\n", watched)
    assert watched == set()
    assert capsys.readouterr().err.count("ignored a malformed line") == 3


# --- the runner's Containment -----------------------------------------------------------------------------------


def test_close_after_normal_runs_leaves_no_watchdog_and_no_pid_file(tmp_path: Path) -> None:
    containment = Containment(tmp_path / "agents")
    containment.start()
    watchdog = containment.watchdog_pid
    assert watchdog is not None and _pid_alive(watchdog)
    for attempt in range(2):
        result = run_process(
            [sys.executable, "-c", "print('hi')"],
            cwd=tmp_path,
            log_path=tmp_path / f"{attempt}.log",
            containment=containment,
        )
        assert result.rc == 0 and result.stdout.strip() == "hi"
    assert recorded_markers(tmp_path / "agents") == []
    containment.close()
    assert containment.watchdog_pid is None
    assert _wait_gone([watchdog]) == []
    containment.close()  # idempotent


def test_a_watchdog_that_died_is_replaced_before_the_next_agent_starts(tmp_path: Path, reaper: list[int]) -> None:
    notes: list[str] = []
    with Containment(tmp_path / "agents", echo=notes.append) as containment:
        first = containment.watchdog_pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        assert _wait_gone([first]) == []
        result = run_process(
            [sys.executable, "-c", "print('hi')"], cwd=tmp_path, log_path=tmp_path / "a.log", containment=containment
        )
        second = containment.watchdog_pid
        assert second is not None
        reaper.append(second)
        assert result.rc == 0 and second != first and _pid_alive(second)
        assert any("restarting it" in note for note in notes), notes
    assert _wait_gone([second]) == []


def test_two_runner_processes_cannot_share_a_state_folder(tmp_path: Path) -> None:
    in_use = r"in use by another runner process \(pid \d+\).*another --name"
    with Containment(tmp_path / "agents"), pytest.raises(ConfigError, match=in_use):
        Containment(tmp_path / "agents").stop_leftovers()
    again = Containment(tmp_path / "agents")
    assert again.stop_leftovers() == []  # released by close()
    again.close()


def test_a_closed_containment_refuses_new_agents(tmp_path: Path) -> None:
    containment = Containment(tmp_path / "agents")
    containment.start()
    containment.close()
    result = run_process(
        [sys.executable, "-c", "print('hi')"], cwd=tmp_path, log_path=tmp_path / "a.log", containment=containment
    )
    assert result.rc is None and result.start_error and "shutting down" in result.start_error
    assert recorded_markers(tmp_path / "agents") == []


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
    with FakeAnthropic([ToolUse.bash(detach)], then=Text("DONE")) as api, Containment(tmp_path / "agents") as box:
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
        result = ClaudeAgent(exe, kill_grace_seconds=3, containment=box).run(request, threading.Event())
        pids = _read_pids(pids_file, seconds=0)
        reaper.extend(pids.values())
        assert result.outcome is AgentOutcome.SUCCEEDED, result
        assert recorded_markers(tmp_path / "agents") == []
    assert _wait_gone([pids["grandchild"]], seconds=0) == [], "the Bash tool's detached process outlived the attempt"
