"""Agents never outlive their runner: one :class:`Containment` per runner process.

Three parts, so that no agent keeps working (and spending) after the runner that started it is gone:

- **A watchdog** (POSIX, :mod:`coordinator.agents.watchdog`): a tiny process started once, in its own session,
  told over a pipe which attempts run. When the runner dies, even by SIGKILL, the pipe ends and the watchdog ends
  every process carrying a running attempt's marker within seconds. Windows needs none: each attempt's agent
  runs in a kill-on-close job object (:mod:`coordinator.agents.winjob`) that Windows ends with the runner.
- **Pid files** (:mod:`coordinator.agents.pidfiles`) in the runner's state folder, one per running attempt.
- **Stopping leftovers** at start (:meth:`Containment.stop_leftovers`): for the case where the watchdog died
  too, what the pid files name and still runs is ended, verified by marker, before the runner touches any
  worktree.

The state folder is locked while a ``Containment`` uses it: a second runner process with the same folder (the
same runner name on one machine) would otherwise take the first one's agents for leftovers and stop them.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO

from coordinator.agents.pidfiles import AgentRecord, remove_record, stop_recorded, write_record
from coordinator.agents.watchdog import READY
from coordinator.errors import ConfigError
from coordinator.redaction import WITHHELD_FROM_AGENTS, is_secret_env_name

#: The lock file that keeps two runner processes out of one state folder.
LOCK_NAME = "runner.lock"
#: Where the watchdog writes what it did.
WATCHDOG_LOG = "watchdog.log"
#: How long the watchdog may take to start (a loaded machine, a cold disk).
WATCHDOG_START_SECONDS = 30.0
#: After the grace and the KILL sweep, how much longer a closing watchdog is waited for.
WATCHDOG_EXIT_MARGIN_SECONDS = 15.0

_PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def _ignore(_message: str) -> None:
    pass


class Containment:
    """Keeps one runner's agents from outliving it; the runner passes it to the agents it builds.

    ``state_dir`` is this runner's own folder of agent pid files (e.g. ``<data dir>/runners/<name>/agents``);
    ``kill_grace_seconds`` is how long agents get between SIGTERM and SIGKILL when they are ended for the
    runner; ``echo`` receives the rare notes worth a line in the runner's log.
    """

    def __init__(
        self, state_dir: Path, *, kill_grace_seconds: float = 5.0, echo: Callable[[str], None] = _ignore
    ) -> None:
        self.state_dir = Path(state_dir)
        self.kill_grace_seconds = kill_grace_seconds
        self._echo = echo
        self._lock = threading.Lock()
        self._folder_lock = _FolderLock(self.state_dir / LOCK_NAME)
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._records: dict[str, AgentRecord] = {}
        self._closed = False

    # --- the runner's side ---

    def start(self) -> None:
        """Take the state folder and start the watchdog (POSIX); raises ``ConfigError`` when another runner
        process uses the folder or the watchdog cannot start. Idempotent."""
        with self._lock:
            self._folder_lock.acquire()
            self._closed = False
            if sys.platform != "win32" and self._watchdog is None:
                self._watchdog = self._spawn_watchdog()

    def stop_leftovers(self) -> list[str]:
        """Stop every agent tree the pid files name that still runs (verified by marker: a reused pid is never
        signalled) and remove the files; one line per file, for the runner's log. Call it at start, before
        touching any worktree."""
        with self._lock:
            self._folder_lock.acquire()
            running = set(self._records)
        return stop_recorded(self.state_dir, grace_seconds=self.kill_grace_seconds, skip=running)

    def close(self) -> None:
        """Normal shutdown: the watchdog ends whatever is still watched (nothing, after a clean shutdown) and
        exits; the state folder is released. Idempotent."""
        with self._lock:
            watchdog, self._watchdog = self._watchdog, None
            self._closed = True
        if watchdog is not None:
            _close_quietly(watchdog.stdin)
            limit = self.kill_grace_seconds + WATCHDOG_EXIT_MARGIN_SECONDS
            try:
                watchdog.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                watchdog.kill()  # our own child, not yet reaped: its pid is still its own
                watchdog.wait()
        with self._lock:
            self._folder_lock.release()

    @property
    def watchdog_pid(self) -> int | None:
        """The watchdog's pid while it runs (for tests and diagnostics)."""
        with self._lock:
            return None if self._watchdog is None else self._watchdog.pid

    def __enter__(self) -> Containment:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    # --- one attempt's side (called by run_process) ---

    def begin(self, marker: str, argv0: str) -> None:
        """An attempt with ``marker`` is about to start ``argv0``: record it and have the watchdog watch it.
        Raises ``OSError`` (the pid file cannot be written) or ``ConfigError`` (no watchdog can run)."""
        record = AgentRecord(
            marker=marker,
            argv0=argv0,
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            runner_pid=os.getpid(),
        )
        with self._lock:
            if self._closed:
                raise ConfigError("the runner is shutting down: no new agent may start")
            self._folder_lock.acquire()
            write_record(self.state_dir, record)
            self._records[marker] = record
            self._tell(f"watch {marker}")

    def started(self, marker: str, pid: int) -> None:
        """The attempt's agent runs as ``pid`` (the leader of its own process group on POSIX). Never raises."""
        with self._lock:
            record = self._records.get(marker)
            if record is None:
                return
            pgid = None if sys.platform == "win32" else pid
            self._records[marker] = updated = replace(record, pid=pid, pgid=pgid)
            try:
                write_record(self.state_dir, updated)
            except OSError as exc:  # the agent runs already: never leave it unwatched over a pid file
                self._echo(f"cannot update the pid file of attempt {marker} ({exc}); its marker still finds it")

    def finish(self, marker: str, *, gone: bool) -> None:
        """The attempt ended; ``gone`` says nothing carrying its marker is left. Only then are its pid file
        and watch dropped: otherwise the watchdog (at the runner's end) and the next start try again."""
        if not gone:
            self._echo(f"agent processes of attempt {marker} survived SIGKILL; they are retried at shutdown")
            return
        with self._lock:
            self._records.pop(marker, None)
            remove_record(self.state_dir, marker)
            self._tell(f"unwatch {marker}", revive=False)

    # --- the watchdog ---

    def _tell(self, line: str, *, revive: bool = True) -> None:
        """Send one line to the watchdog (lock held). A watchdog that died is replaced and told every running
        attempt, unless ``revive`` is false (an ``unwatch`` needs no watchdog)."""
        watchdog = self._watchdog
        if watchdog is None:
            return  # Windows, or never started: the job objects and pid files have to do
        if watchdog.poll() is None and watchdog.stdin is not None:
            try:
                watchdog.stdin.write(f"{line}\n".encode("ascii"))
                watchdog.stdin.flush()
                return
            except OSError:
                pass  # it died: replace it below
        if not revive:
            return
        _close_quietly(watchdog.stdin)
        watchdog.wait()
        self._echo(f"the agent watchdog (pid {watchdog.pid}) was gone (exit code {watchdog.returncode}); restarting it")
        self._watchdog = replacement = self._spawn_watchdog()
        assert replacement.stdin is not None
        replacement.stdin.write("".join(f"watch {m}\n" for m in self._records).encode("ascii"))
        replacement.stdin.flush()

    def _spawn_watchdog(self) -> subprocess.Popen[bytes]:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.state_dir / WATCHDOG_LOG
        argv = [sys.executable, "-m", "coordinator.agents.watchdog"]
        argv += ["--grace", str(self.kill_grace_seconds), "--records", str(self.state_dir)]
        with log_path.open("ab") as log:
            watchdog = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                cwd=self.state_dir,  # never a worktree: it must not keep one busy
                env=_watchdog_environment(),
                start_new_session=True,  # a Ctrl-C or hangup for the runner's terminal does not reach it
            )
        assert watchdog.stdout is not None
        ready = _first_line(watchdog.stdout, WATCHDOG_START_SECONDS)
        if ready.strip() != READY.encode("ascii"):
            watchdog.kill()  # first: a reader still waiting for the line then sees the end of the pipe
            watchdog.wait()
            _close_quietly(watchdog.stdout)
            _close_quietly(watchdog.stdin)
            raise ConfigError(
                f"the agent watchdog did not start (see {log_path}): check that "
                f"'{sys.executable} -m coordinator.agents.watchdog --help' runs"
            )
        _close_quietly(watchdog.stdout)
        return watchdog


def _watchdog_environment() -> dict[str, str]:
    """The runner's environment without credentials (the watchdog needs none), able to import this package."""
    env = {k: v for k, v in os.environ.items() if k.upper() not in WITHHELD_FROM_AGENTS and not is_secret_env_name(k)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_PACKAGE_ROOT), env.get("PYTHONPATH")) if p)
    return env


def _first_line(stream: IO[bytes], seconds: float) -> bytes:
    """The first line of ``stream``, or what arrived within ``seconds``."""
    lines: list[bytes] = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), name="watchdog-ready", daemon=True)
    reader.start()
    reader.join(timeout=seconds)
    return lines[0] if lines else b""


def _close_quietly(stream: IO[bytes] | None) -> None:
    if stream is not None:
        with contextlib.suppress(OSError):  # a broken pipe to a dead watchdog: nothing left to flush
            stream.close()


class _FolderLock:
    """An exclusive lock on a file, held by one process until released or until that process dies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock (idempotent); ``ConfigError`` when another process holds it."""
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by children (PEP 446)
        if not _try_lock(fd):
            holder = _holder(fd)
            os.close(fd)
            raise ConfigError(
                f"{self.path.parent} is in use by another runner process (pid {holder}); two runners with one "
                "name on one machine would stop each other's agents: stop that runner, or give this one another "
                "--name"
            )
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._fd = fd

    def release(self) -> None:
        """Let go of the lock (idempotent); the file stays, harmless."""
        if self._fd is not None:
            os.close(self._fd)  # closing releases the lock
            self._fd = None


def _holder(fd: int) -> str:
    try:
        return os.read(fd, 32).decode("ascii", errors="replace").strip() or "unknown"
    except OSError:
        return "unknown"  # Windows: the holder's lock covers what we would read


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True
