"""Run one agent subprocess robustly: no shell, output captured and logged, timeout and stop end the whole tree.

The child is started in its own process group (POSIX: a new session; Windows: ``CREATE_NEW_PROCESS_GROUP`` and a
kill-on-close job object) with a random marker in its environment, so that stopping it reaches everything it
spawned (tool processes, test runners, dev servers), including what left the group with ``setsid`` and lost its
parent. Stopping means: on POSIX ``SIGTERM`` to the group, to descendants that left it and to every process
carrying the marker, a grace period, then ``SIGKILL``; on Windows terminating the job (``taskkill /T /F`` on the
tree when there is no job). What the agent leaves behind after it exits is ended the same way, so nothing
outlives the attempt and keeps the work tree busy. With a :class:`Containment`, nothing outlives the runner
either (a watchdog, pid files).

Secrets: the log header shows the command with secret-looking arguments redacted, and the values of secret-looking
environment variables (``*_KEY``, ``*_TOKEN``, ...) are replaced by ``[REDACTED]`` in the captured output, both in
the log and in the returned text, so an agent that prints its environment does not leak them into results.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from coordinator.agents import winjob
from coordinator.agents.containment import Containment
from coordinator.agents.markers import MARKER_VARIABLE, marker_value, new_marker
from coordinator.agents.proctree import end_tree
from coordinator.errors import ConfigError
from coordinator.redaction import WITHHELD_FROM_AGENTS, Redactor, describe_argv, secrets_from_env

#: How much of each stream is kept in memory (the tail); agents printing more than this are pathological.
MAX_CAPTURE_BYTES = 64 * 1024 * 1024
#: How long to wait for the output pipes to drain after the process is gone (a detached grandchild can hold
#: them open forever; we then return what we have).
PIPE_DRAIN_SECONDS = 5.0


@dataclass(frozen=True)
class ProcessResult:
    """How one subprocess run ended.

    ``rc`` is ``None`` when the process could not be started (``start_error`` says why); on POSIX a process
    ended by a signal has a negative ``rc``.
    """

    rc: int | None
    stdout: str
    stderr: str
    duration_seconds: float
    timed_out: bool = False
    stopped: bool = False
    start_error: str | None = None


class _Capture:
    """Collects one output stream in a reader thread so a full pipe can never block the child."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self._stream = stream
        self._limit = limit
        self._chunks: list[bytes] = []
        self._size = 0
        self._dropped = 0
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._pump, name="agent-output", daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        fd = self._stream.fileno()
        try:
            while chunk := os.read(fd, 65536):
                with self._lock:
                    self._chunks.append(chunk)
                    self._size += len(chunk)
                    while self._size > self._limit and len(self._chunks) > 1:
                        dropped = self._chunks.pop(0)
                        self._size -= len(dropped)
                        self._dropped += len(dropped)
        except OSError:
            pass  # the pipe went away (closed during shutdown): keep what we have
        finally:
            with contextlib.suppress(OSError):
                self._stream.close()

    def text(self) -> str:
        """Everything read so far (the tail, if the limit was exceeded), decoded leniently."""
        with self._lock:
            data = b"".join(self._chunks)
            dropped = self._dropped
        text = data.decode("utf-8", errors="replace")
        return f"[... {dropped} bytes dropped ...]\n{text}" if dropped else text


def _feed_stdin(stream: IO[bytes], data: bytes) -> None:
    try:
        stream.write(data)
    except OSError:
        pass  # the child exited or closed stdin without reading everything: not our error
    finally:
        with contextlib.suppress(OSError):
            stream.close()


# -- running --------------------------------------------------------------------------------------------------


def run_process(
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None,
    log_path: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    stdin_text: str | None = None,
    timeout_seconds: float | None = None,
    stop: threading.Event | None = None,
    kill_grace_seconds: float = 10.0,
    poll_seconds: float = 0.1,
    containment: Containment | None = None,
    redactor: Redactor | None = None,
) -> ProcessResult:
    """Run ``argv`` (never through a shell) to completion, timeout or stop, and log everything.

    ``env`` is merged onto ``os.environ``, less the runner's own credentials (:data:`WITHHELD_FROM_AGENTS`):
    an agent runs whatever a task asks, so it must not be able to read and leak them; a fresh marker
    (:data:`MARKER_VARIABLE`) is added. stdin is closed (``DEVNULL``) unless ``stdin_text`` is given, which is
    written then closed. The log at ``log_path`` (parent folders created) gets a header line with the command,
    then stdout, then stderr, then the exit code and duration. However the run ends, nothing it started is left
    running (see :func:`end_tree`); a timeout or a set ``stop`` ends it early. With ``containment`` the agent is
    also recorded and watched so that it dies with the runner. Never raises for a command that cannot start:
    ``rc`` is then ``None`` and ``start_error`` says why. The log and the returned output have every secret
    redacted: the values of secret-looking variables of the environment, and what ``redactor`` (the runner's,
    with its configured names and the state remote's credentials) knows.
    """
    marker = new_marker()
    full_env, known = _agent_environment(env, marker, redactor)
    log = _start_log(Path(log_path), argv, list(known.values), cwd=cwd, timeout_seconds=timeout_seconds)
    start = time.monotonic()
    try:
        proc, job = _launch(argv, marker, cwd=cwd, env=full_env, stdin_text=stdin_text, containment=containment)
    except (OSError, ValueError, ConfigError) as exc:
        error = known.redact(f"cannot start {argv[0] if argv else '<empty command>'!r}: {exc}")
        duration = time.monotonic() - start
        _append_log(log, "", "", f"not started: {error}", duration)
        return ProcessResult(None, "", error, duration, start_error=error)

    deadline = None if timeout_seconds is None else start + timeout_seconds
    ending: str | None = "interrupted"  # what an exception out of the wait (Ctrl-C in a test) leaves
    try:
        readers = _start_io(proc, stdin_text)
        ending = _wait(proc, stop=stop, deadline=deadline, poll_seconds=poll_seconds)
    finally:
        gone = _end_attempt(proc, job, marker, grace_seconds=kill_grace_seconds, poll_seconds=poll_seconds)
        if containment is not None:
            containment.finish(marker, gone=gone)
    duration = time.monotonic() - start
    out, err, feeder = readers
    for thread in (out.thread, err.thread, *([feeder] if feeder else [])):
        thread.join(timeout=PIPE_DRAIN_SECONDS)

    stdout = known.redact(out.text())
    stderr = known.redact(err.text())
    _append_log(log, stdout, stderr, f"exit code {proc.returncode}" + (f" ({ending})" if ending else ""), duration)
    return ProcessResult(
        proc.returncode, stdout, stderr, duration, timed_out=ending == "timed out", stopped=ending == "stopped"
    )


def _agent_environment(
    env: Mapping[str, str] | None, marker: str, redactor: Redactor | None
) -> tuple[dict[str, str], Redactor]:
    """The agent's environment (ours less the runner's credentials, plus ``env`` and the attempt's marker) and a
    redactor that knows every secret the runner or that environment holds."""
    inherited = {k: v for k, v in os.environ.items() if k.upper() not in WITHHELD_FROM_AGENTS}
    full_env = {**inherited, **(env or {})}
    full_env[MARKER_VARIABLE] = marker_value(full_env.get(MARKER_VARIABLE), marker)
    known = [*(redactor.secrets if redactor is not None else ()), *secrets_from_env({**os.environ, **full_env})]
    return full_env, Redactor(known)


def _launch(
    argv: Sequence[str],
    marker: str,
    *,
    cwd: str | os.PathLike[str] | None,
    env: Mapping[str, str],
    stdin_text: str | None,
    containment: Containment | None,
) -> tuple[subprocess.Popen[bytes], winjob.Job | None]:
    """Record the attempt, start the agent and contain it; raises ``OSError``, ``ValueError`` or
    ``ConfigError`` when it cannot start, leaving nothing recorded."""
    try:
        if containment is not None:
            containment.begin(marker, argv[0] if argv else "")
        proc = _spawn(argv, cwd=cwd, env=env, with_stdin=stdin_text is not None)
    except BaseException:
        if containment is not None:
            containment.finish(marker, gone=True)
        raise
    job = winjob.contain(proc)  # Windows: first thing, before the agent starts anything
    if containment is not None:
        containment.started(marker, proc.pid)
    return proc, job


def _start_io(
    proc: subprocess.Popen[bytes], stdin_text: str | None
) -> tuple[_Capture, _Capture, threading.Thread | None]:
    """Readers for both output streams and, with ``stdin_text``, a writer feeding it."""
    assert proc.stdout is not None and proc.stderr is not None  # we asked for pipes
    out = _Capture(proc.stdout, MAX_CAPTURE_BYTES)
    err = _Capture(proc.stderr, MAX_CAPTURE_BYTES)
    feeder: threading.Thread | None = None
    if stdin_text is not None:
        assert proc.stdin is not None
        feeder = threading.Thread(
            target=_feed_stdin, args=(proc.stdin, stdin_text.encode("utf-8")), name="agent-stdin", daemon=True
        )
        feeder.start()
    return out, err, feeder


def _end_attempt(
    proc: subprocess.Popen[bytes], job: winjob.Job | None, marker: str, *, grace_seconds: float, poll_seconds: float
) -> bool:
    """End whatever of the attempt still runs; ``True`` when nothing carrying its marker is left."""
    if job is not None:  # Windows: the job holds every process the agent started, orphans included
        job.terminate()
        proc.wait()
        job.close()
        return True
    return end_tree(proc, marker=marker, grace_seconds=grace_seconds, poll_seconds=poll_seconds)


def _start_log(
    log: Path, argv: Sequence[str], secrets: Sequence[str], *, cwd: object, timeout_seconds: float | None
) -> Path:
    log.parent.mkdir(parents=True, exist_ok=True)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    with log.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write(f"$ {describe_argv(argv, secrets)}\n")
        fh.write(f"# cwd: {cwd}  started: {started_at}  timeout: {timeout_seconds}s\n")
    return log


def _spawn(
    argv: Sequence[str], *, cwd: str | os.PathLike[str] | None, env: Mapping[str, str], with_stdin: bool
) -> subprocess.Popen[bytes]:
    # Own process group, so that stopping reaches everything the agent started (and only that).
    if sys.platform == "win32":
        creationflags, new_session = subprocess.CREATE_NEW_PROCESS_GROUP, False
    else:
        creationflags, new_session = 0, True
    return subprocess.Popen(  # argv list, never a shell
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.PIPE if with_stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        creationflags=creationflags,
        start_new_session=new_session,
    )


def _wait(
    proc: subprocess.Popen[bytes], *, stop: threading.Event | None, deadline: float | None, poll_seconds: float
) -> str | None:
    """Wait for the process to exit; ``"stopped"`` or ``"timed out"`` when it had to be ended, else None."""
    while proc.poll() is None:
        if stop is not None and stop.is_set():
            return "stopped"
        if deadline is not None and time.monotonic() >= deadline:
            return "timed out"
        # Popen.wait returns the moment the agent exits (a short agent must not cost a whole interval); a stop
        # or the deadline is noticed within one interval.
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=poll_seconds)
    return None


def _append_log(log: Path, stdout: str, stderr: str, ending: str, duration: float) -> None:
    with log.open("a", encoding="utf-8", newline="\n") as fh:
        fh.write("--- stdout ---\n")
        fh.write(stdout if not stdout or stdout.endswith("\n") else stdout + "\n")
        fh.write("--- stderr ---\n")
        fh.write(stderr if not stderr or stderr.endswith("\n") else stderr + "\n")
        fh.write(f"--- {ending} after {duration:.2f}s ---\n")
