"""Run one agent subprocess robustly: no shell, output captured and logged, timeout and stop end the whole tree.

The child is started in its own process group (POSIX: a new session; Windows: ``CREATE_NEW_PROCESS_GROUP``) so
that stopping it reaches everything it spawned (tool processes, test runners, dev servers). Stopping means: on
POSIX ``SIGTERM`` to the group (and to descendants that left it), a grace period, then ``SIGKILL``; on Windows
``taskkill /T /F`` on the tree. Processes the agent leaves behind in its group after it exits are ended too, so
nothing outlives the attempt and keeps the work tree busy.

Secrets: the log header shows the command with secret-looking arguments redacted, and the values of secret-looking
environment variables (``*_KEY``, ``*_TOKEN``, ...) are replaced by ``[REDACTED]`` in the captured output, both in
the log and in the returned text, so an agent that prints its environment does not leak them into results.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

#: How much of each stream is kept in memory (the tail); agents printing more than this are pathological.
MAX_CAPTURE_BYTES = 64 * 1024 * 1024
#: How long to wait for the output pipes to drain after the process is gone (a detached grandchild can hold
#: them open forever; we then return what we have).
PIPE_DRAIN_SECONDS = 5.0
REDACTED = "[REDACTED]"

_SECRET_NAME_PARTS = frozenset(
    {"KEY", "APIKEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "PASS", "CREDENTIAL", "CREDENTIALS", "PAT"}
)
_SECRET_FLAG = re.compile(r"^--?[\w-]*(key|token|secret|password|passwd|credential)[\w-]*$", re.IGNORECASE)
# The lookbehind keeps ordinary words from matching mid-way ("task-implement-the-feature" holds "sk-...").
_SECRET_VALUE = re.compile(
    r"(?<![\w-])(sk-ant-[\w-]{8,}|sk-[A-Za-z0-9_-]{20,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,}"
    r"|xox[abprs]-[\w-]{10,}|AKIA[0-9A-Z]{16}|Bearer\s+[\w.~+/=-]{12,})"
)
_MIN_SECRET_LENGTH = 8  # shorter env values ("test", "1") would redact ordinary words


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


#: Variables of the runner that its agents never inherit: the state remote (its URL may carry a token) and the
#: GitHub tokens the runner itself uses. A task that needs a credential gets it explicitly, not by inheritance.
WITHHELD_FROM_AGENTS = frozenset(
    {"COORDINATOR_REMOTE", "COORDINATOR_GITHUB_TOKEN", "GITHUB_TOKEN", "GH_TOKEN", "GH_ENTERPRISE_TOKEN"}
)


def is_secret_env_name(name: str) -> bool:
    """Whether an environment variable name suggests a secret (``ANTHROPIC_API_KEY``, ``GH_TOKEN``, ...)."""
    parts = re.split(r"[^A-Za-z0-9]+", name.upper())
    return any(part in _SECRET_NAME_PARTS for part in parts)


def secret_values(env: Mapping[str, str]) -> list[str]:
    """The values of secret-looking variables in ``env``, longest first (so overlapping values redact fully)."""
    values = {v for k, v in env.items() if is_secret_env_name(k) and len(v) >= _MIN_SECRET_LENGTH}
    return sorted(values, key=len, reverse=True)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Replace the given secret values and anything that looks like a well-known token format."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return _SECRET_VALUE.sub(REDACTED, text)


def redact_argv(argv: Sequence[str], secrets: Iterable[str] = ()) -> list[str]:
    """``argv`` with secret values redacted: ``--api-key X``, ``--token=X`` and token-shaped values."""
    secrets = list(secrets)
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        flag, eq, _value = arg.partition("=")
        if _SECRET_FLAG.match(flag):
            if eq:
                out.append(f"{flag}={REDACTED}")
                continue
            hide_next = True
        out.append(redact(arg, secrets))
    return out


def _describe_argv(argv: Sequence[str], secrets: Iterable[str]) -> str:
    # One line whatever the arguments hold (prompts have newlines); long ones are shortened to keep it readable.
    shown = [a if len(a) <= 500 else f"{a[:500]}…[{len(a)} chars]" for a in redact_argv(argv, secrets)]
    return json.dumps(shown, ensure_ascii=False)


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


# -- process trees ------------------------------------------------------------------------------------------


def _linux_process_table() -> dict[int, tuple[int, int, str]] | None:
    """``{pid: (ppid, pgrp, state)}`` from /proc, or ``None`` where there is no /proc."""
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return None
    table: dict[int, tuple[int, int, str]] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited while we looked
        # The command name is in parentheses and may contain spaces or ")", so split after the last ")".
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) >= 3:
            table[int(entry.name)] = (int(fields[1]), int(fields[2]), fields[0])
    return table


def _descendants(pid: int) -> set[int]:
    """Live descendants of ``pid`` (Linux only; elsewhere the process group has to be enough)."""
    table = _linux_process_table()
    if table is None:
        return set()
    children: dict[int, list[int]] = {}
    for child, (ppid, _pgrp, _state) in table.items():
        children.setdefault(ppid, []).append(child)
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pids: Iterable[int], pgid: int) -> bool:
    """Whether anything of the tree still runs: a group member or a remembered descendant (zombies excluded)."""
    pids = set(pids)
    table = _linux_process_table()
    if table is not None:
        return any(state != "Z" and (pgrp == pgid or pid in pids) for pid, (_pp, pgrp, state) in table.items())
    if sys.platform == "win32":
        return False
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False  # macOS reports EPERM for a group of zombies
    return True


def _signal_tree(pgid: int, pids: Iterable[int], sig: int) -> None:
    if sys.platform == "win32":
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
    for pid in pids:  # descendants that moved to a group or session of their own
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _wait_tree(proc: subprocess.Popen[bytes], pgid: int, pids: set[int], seconds: float, poll: float) -> bool:
    """Wait until the whole tree is gone; ``True`` if it went within ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        proc.poll()  # reap our direct child so it does not count as alive
        if proc.returncode is not None and not _alive(pids, pgid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)


def kill_tree(proc: subprocess.Popen[bytes], grace_seconds: float = 10.0, poll_seconds: float = 0.1) -> None:
    """End ``proc`` and everything it started; it must have been started by :func:`run_process`'s rules.

    POSIX: SIGTERM to the process group and to known descendants, up to ``grace_seconds`` for them to exit,
    then SIGKILL. Windows: ``taskkill /T /F`` (console programs have no gentle equivalent that reaches the tree).
    """
    if sys.platform == "win32":
        if proc.poll() is None:
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):  # then at least kill the child below
                subprocess.run(
                    ["taskkill", "/T", "/F", "/PID", str(proc.pid)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    check=False,
                    timeout=60,
                )
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        return
    pgid = proc.pid  # start_new_session=True made the child the leader of its own group
    pids = _descendants(proc.pid)
    _signal_tree(pgid, pids, signal.SIGTERM)
    if not _wait_tree(proc, pgid, pids, grace_seconds, poll_seconds):
        pids |= _descendants(proc.pid) if proc.poll() is None else set()
        _signal_tree(pgid, pids, signal.SIGKILL)
        _wait_tree(proc, pgid, pids, 5.0, poll_seconds)
    proc.wait()


def _cleanup_leftovers(proc: subprocess.Popen[bytes], grace_seconds: float, poll_seconds: float) -> None:
    # After a normal exit, anything still in the child's group was started by the agent and forgotten
    # (a background server, a watcher). It would keep the pipes and the work tree busy, so end it.
    if sys.platform == "win32":
        return  # the tree link is lost once the parent is gone; nothing reliable to do without job objects
    if _alive((), proc.pid):
        _signal_tree(proc.pid, (), signal.SIGTERM)
        if not _wait_tree(proc, proc.pid, set(), grace_seconds, poll_seconds):
            _signal_tree(proc.pid, (), signal.SIGKILL)


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
) -> ProcessResult:
    """Run ``argv`` (never through a shell) to completion, timeout or stop, and log everything.

    ``env`` is merged onto ``os.environ``, less the runner's own credentials (:data:`WITHHELD_FROM_AGENTS`):
    an agent runs whatever a task asks, so it must not be able to read and leak them. stdin is closed
    (``DEVNULL``) unless ``stdin_text`` is given, which is written then closed. The log at ``log_path``
    (parent folders created) gets a header line with the command, then stdout, then stderr, then the exit code
    and duration. A timeout or a set ``stop`` ends the whole process tree (see :func:`kill_tree`). Never raises
    for a command that cannot start: ``rc`` is then ``None`` and ``start_error`` says why.
    """
    inherited = {k: v for k, v in os.environ.items() if k.upper() not in WITHHELD_FROM_AGENTS}
    full_env = {**inherited, **(env or {})}
    secrets = secret_values({**os.environ, **full_env})
    log = Path(log_path)
    log.parent.mkdir(parents=True, exist_ok=True)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    with log.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write(f"$ {_describe_argv(argv, secrets)}\n")
        fh.write(f"# cwd: {cwd}  started: {started_at}  timeout: {timeout_seconds}s\n")

    start = time.monotonic()
    # Own process group, so that stopping reaches everything the agent started (and only that).
    if sys.platform == "win32":
        creationflags, new_session = subprocess.CREATE_NEW_PROCESS_GROUP, False
    else:
        creationflags, new_session = 0, True
    try:
        proc = subprocess.Popen(  # argv list, never a shell
            list(argv),
            cwd=cwd,
            env=full_env,
            stdin=subprocess.DEVNULL if stdin_text is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            creationflags=creationflags,
            start_new_session=new_session,
        )
    except (OSError, ValueError) as exc:
        error = redact(f"cannot start {argv[0] if argv else '<empty command>'!r}: {exc}", secrets)
        duration = time.monotonic() - start
        _append_log(log, "", "", f"not started: {error}", duration)
        return ProcessResult(None, "", error, duration, start_error=error)

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

    deadline = None if timeout_seconds is None else start + timeout_seconds
    timed_out = stopped = False
    while proc.poll() is None:
        if stop is not None and stop.is_set():
            stopped = True
            break
        if deadline is not None and time.monotonic() >= deadline:
            timed_out = True
            break
        # Popen.wait returns the moment the agent exits (a short agent must not cost a whole interval); a stop
        # or the deadline is noticed within one interval.
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=poll_seconds)

    if timed_out or stopped:
        kill_tree(proc, kill_grace_seconds, poll_seconds)
    else:
        _cleanup_leftovers(proc, kill_grace_seconds, poll_seconds)
    duration = time.monotonic() - start
    for thread in (out.thread, err.thread, *([feeder] if feeder else [])):
        thread.join(timeout=PIPE_DRAIN_SECONDS)

    stdout = redact(out.text(), secrets)
    stderr = redact(err.text(), secrets)
    why = " (timed out)" if timed_out else " (stopped)" if stopped else ""
    _append_log(log, stdout, stderr, f"exit code {proc.returncode}{why}", duration)
    return ProcessResult(proc.returncode, stdout, stderr, duration, timed_out=timed_out, stopped=stopped)


def _append_log(log: Path, stdout: str, stderr: str, ending: str, duration: float) -> None:
    with log.open("a", encoding="utf-8", newline="\n") as fh:
        fh.write("--- stdout ---\n")
        fh.write(stdout if not stdout or stdout.endswith("\n") else stdout + "\n")
        fh.write("--- stderr ---\n")
        fh.write(stderr if not stderr or stderr.endswith("\n") else stderr + "\n")
        fh.write(f"--- {ending} after {duration:.2f}s ---\n")
