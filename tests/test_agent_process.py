"""run_process: timeouts and stops end the whole tree, output never deadlocks, the log holds everything."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from coordinator.agents.process import run_process
from coordinator.redaction import REDACTED, redact, redact_argv, secret_values

pytestmark = pytest.mark.slow

POSIX_ONLY = pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups")


def _script(tmp_path: Path, name: str, body: str) -> list[str]:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return [sys.executable, str(path)]


def _pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its reaper counts as gone)."""
    if sys.platform == "win32":
        out = subprocess.run(
            ["tasklist", "/FI", f"PID eq {pid}", "/NH"], capture_output=True, text=True, check=False
        ).stdout
        return str(pid) in out
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        try:
            return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except (OSError, IndexError):
            return False
    return True


def _wait_gone(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return True
        time.sleep(0.05)
    return not _pid_alive(pid)


# A child that starts a sleeping grandchild, reports its pid, then sleeps itself.
SPAWNER = """
    import subprocess, sys, time
    kwargs = {}
    if "--own-session" in sys.argv:
        kwargs["start_new_session"] = True
    code = "import time\\n"
    if "--ignore-term" in sys.argv:
        code += "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN)\\n"
    code += "print('grandchild ready', flush=True)\\ntime.sleep(60)\\n"
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, **kwargs)
    child.stdout.readline()  # the grandchild has set up its signal handling
    print(f"GRANDCHILD {child.pid}", flush=True)
    if "--exit" in sys.argv:
        sys.exit(0)
    time.sleep(60)
"""


def _grandchild_pid(stdout: str) -> int:
    for line in stdout.splitlines():
        if line.startswith("GRANDCHILD "):
            return int(line.split()[1])
    raise AssertionError(f"no grandchild pid in {stdout!r}")


def test_timeout_kills_the_whole_tree(tmp_path: Path) -> None:
    argv = _script(tmp_path, "spawner.py", SPAWNER)
    started = time.monotonic()
    result = run_process(argv, cwd=tmp_path, log_path=tmp_path / "log.txt", timeout_seconds=2, kill_grace_seconds=3)
    assert result.timed_out and not result.stopped
    assert time.monotonic() - started < 10
    grandchild = _grandchild_pid(result.stdout)
    assert _wait_gone(grandchild), "the grandchild survived the timeout"
    assert "(timed out)" in (tmp_path / "log.txt").read_text(encoding="utf-8")


@POSIX_ONLY
def test_grandchild_ignoring_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    argv = [*_script(tmp_path, "spawner.py", SPAWNER), "--ignore-term"]
    started = time.monotonic()
    result = run_process(argv, cwd=tmp_path, log_path=tmp_path / "log.txt", timeout_seconds=2, kill_grace_seconds=1)
    elapsed = time.monotonic() - started
    assert result.timed_out
    assert 2.9 <= elapsed < 10, "SIGKILL should follow only after the grace period"
    assert _wait_gone(_grandchild_pid(result.stdout))


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="descendant tracking reads /proc")
def test_grandchild_in_its_own_session_is_killed_too(tmp_path: Path) -> None:
    argv = [*_script(tmp_path, "spawner.py", SPAWNER), "--own-session"]
    result = run_process(argv, cwd=tmp_path, log_path=tmp_path / "log.txt", timeout_seconds=2, kill_grace_seconds=2)
    assert result.timed_out
    assert _wait_gone(_grandchild_pid(result.stdout))


def test_stop_event_ends_the_run_promptly(tmp_path: Path) -> None:
    argv = _script(tmp_path, "spawner.py", SPAWNER)
    stop = threading.Event()
    timer = threading.Timer(1.5, stop.set)
    timer.start()
    started = time.monotonic()
    try:
        result = run_process(
            argv, cwd=tmp_path, log_path=tmp_path / "log.txt", timeout_seconds=60, stop=stop, kill_grace_seconds=3
        )
    finally:
        timer.cancel()
    assert result.stopped and not result.timed_out
    assert time.monotonic() - started < 8
    assert _wait_gone(_grandchild_pid(result.stdout))
    assert "(stopped)" in (tmp_path / "log.txt").read_text(encoding="utf-8")


def test_stop_already_set_stops_immediately(tmp_path: Path) -> None:
    stop = threading.Event()
    stop.set()
    argv = [sys.executable, "-c", "import time; time.sleep(30)"]
    started = time.monotonic()
    result = run_process(argv, cwd=tmp_path, log_path=tmp_path / "log.txt", stop=stop, kill_grace_seconds=2)
    assert result.stopped
    assert time.monotonic() - started < 5


@POSIX_ONLY
def test_leftover_background_process_is_ended_after_a_normal_exit(tmp_path: Path) -> None:
    argv = [*_script(tmp_path, "spawner.py", SPAWNER), "--exit"]
    started = time.monotonic()
    result = run_process(argv, cwd=tmp_path, log_path=tmp_path / "log.txt", timeout_seconds=30, kill_grace_seconds=2)
    assert result.rc == 0 and not result.timed_out and not result.stopped
    # The leftover holds our stdout pipe; without the cleanup we would wait for its 60 s sleep.
    assert time.monotonic() - started < 10
    assert _wait_gone(_grandchild_pid(result.stdout))


def test_large_output_on_both_streams_does_not_deadlock(tmp_path: Path) -> None:
    argv = _script(
        tmp_path,
        "chatty.py",
        """
        import sys
        block = "x" * 1023 + "\\n"
        for _ in range(4096):  # 4 MiB on each stream, interleaved
            sys.stdout.write(block)
            sys.stderr.write(block)
        sys.stdout.write("END\\n")
        """,
    )
    result = run_process(argv, cwd=tmp_path, log_path=tmp_path / "log.txt", timeout_seconds=60)
    assert result.rc == 0 and not result.timed_out
    assert len(result.stdout) == 4096 * 1024 + 4 and result.stdout.endswith("END\n")
    assert len(result.stderr) == 4096 * 1024
    assert (tmp_path / "log.txt").stat().st_size > 8 * 1024 * 1024


def test_large_stdin_is_fed_and_closed(tmp_path: Path) -> None:
    text = "prompt line\n" * 200_000  # 2.4 MB, far beyond any pipe buffer
    argv = [sys.executable, "-c", "import sys; data = sys.stdin.read(); print(len(data)); sys.stderr.write(data)"]
    result = run_process(argv, cwd=tmp_path, log_path=tmp_path / "log.txt", stdin_text=text, timeout_seconds=60)
    assert result.rc == 0
    assert result.stdout.strip() == str(len(text))
    assert result.stderr.replace("\r\n", "\n") == text


def test_stdin_is_closed_by_default(tmp_path: Path) -> None:
    argv = [sys.executable, "-c", "import sys; print(repr(sys.stdin.read()))"]
    result = run_process(argv, cwd=tmp_path, log_path=tmp_path / "log.txt", timeout_seconds=30)
    assert result.stdout.strip() == "''"


def test_log_file_holds_command_output_and_exit(tmp_path: Path) -> None:
    log = tmp_path / "deep" / "er" / "attempt-1.log"
    argv = [
        sys.executable,
        "-c",
        "import os, sys; print('out line'); print('err line', file=sys.stderr); sys.exit(3)",
        "--api-key",
        "sk-ant-api03-abcdefghijklmnop",
    ]
    result = run_process(argv, cwd=tmp_path, log_path=log, env={"EXTRA": "1"}, timeout_seconds=30)
    assert result.rc == 3 and not result.timed_out and result.duration_seconds > 0
    lines = log.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("$ [") and "sys.exit(3)" in lines[0]
    assert "sk-ant-api03" not in log.read_text(encoding="utf-8")
    assert lines.index("out line") < lines.index("--- stderr ---") < lines.index("err line")
    assert lines[-1].startswith("--- exit code 3 after ")


def test_env_is_merged_and_cwd_used(tmp_path: Path) -> None:
    (tmp_path / "marker.txt").write_text("here", encoding="utf-8")
    argv = [
        sys.executable,
        "-c",
        "import os; print(os.environ['EXTRA'], os.environ['PATH'] != '', open('marker.txt').read())",
    ]
    result = run_process(argv, cwd=tmp_path, log_path=tmp_path / "log.txt", env={"EXTRA": "yes"}, timeout_seconds=30)
    assert result.stdout.split() == ["yes", "True", "here"]


def test_secret_env_values_never_reach_the_log_or_the_result(tmp_path: Path) -> None:
    secret = "s3cr3t-value-0123456789"
    argv = [
        sys.executable,
        "-c",
        "import os, sys; print(os.environ['MY_SERVICE_TOKEN']); sys.stderr.write(os.environ['MY_SERVICE_TOKEN'])",
    ]
    result = run_process(
        argv, cwd=tmp_path, log_path=tmp_path / "log.txt", env={"MY_SERVICE_TOKEN": secret}, timeout_seconds=30
    )
    assert secret not in result.stdout and secret not in result.stderr
    assert REDACTED in result.stdout
    assert secret not in (tmp_path / "log.txt").read_text(encoding="utf-8")


def test_command_that_cannot_start(tmp_path: Path) -> None:
    result = run_process(
        [str(tmp_path / "no-such-program")], cwd=tmp_path, log_path=tmp_path / "log.txt", timeout_seconds=5
    )
    assert result.rc is None and result.start_error
    assert "not started" in (tmp_path / "log.txt").read_text(encoding="utf-8")


def test_redaction_helpers() -> None:
    assert redact_argv(["x", "--token", "abc", "--api-key=zzz", "-p", "hello"]) == [
        "x",
        "--token",
        REDACTED,
        f"--api-key={REDACTED}",
        "-p",
        "hello",
    ]
    assert redact_argv(["ghp_" + "a" * 36]) == [REDACTED]
    assert redact("key sk-ant-api03-abcdefghijkl and task-implement-the-feature-x") == (
        f"key {REDACTED} and task-implement-the-feature-x"
    )
    secrets = secret_values({"GITHUB_TOKEN": "long-enough-token", "ANTHROPIC_API_KEY": "test", "PATH": "/usr/bin"})
    assert secrets == ["long-enough-token"]


def test_the_runners_own_credentials_are_not_inherited_by_agents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COORDINATOR_REMOTE", "https://x-access-token:ghs_statebranchtoken@github.com/o/r.git")
    monkeypatch.setenv("GH_TOKEN", "gho_runnertoken123456")
    monkeypatch.setenv("SOME_SETTING", "kept")
    show = "import os; print(sorted(k for k in os.environ if k in ('COORDINATOR_REMOTE', 'GH_TOKEN', 'SOME_SETTING')))"
    result = run_process([sys.executable, "-c", show], cwd=tmp_path, log_path=tmp_path / "log.txt")
    assert result.stdout.strip() == "['SOME_SETTING']"
    assert "ghs_statebranchtoken" not in (tmp_path / "log.txt").read_text()
