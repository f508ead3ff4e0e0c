"""Process trees of agents: finding every process an agent started, and ending them all.

An agent is started in its own process group (POSIX: a new session; Windows: ``CREATE_NEW_PROCESS_GROUP``), so
stopping it reaches everything it spawned (tool processes, test runners, dev servers). Stopping means: on POSIX
``SIGTERM`` to the group (and to descendants that left it), a grace period, then ``SIGKILL``; on Windows
``taskkill /T /F`` on the tree.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path


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


def cleanup_leftovers(proc: subprocess.Popen[bytes], grace_seconds: float, poll_seconds: float) -> None:
    # After a normal exit, anything still in the child's group was started by the agent and forgotten
    # (a background server, a watcher). It would keep the pipes and the work tree busy, so end it.
    if sys.platform == "win32":
        return  # the tree link is lost once the parent is gone; nothing reliable to do without job objects
    if _alive((), proc.pid):
        _signal_tree(proc.pid, (), signal.SIGTERM)
        if not _wait_tree(proc, proc.pid, set(), grace_seconds, poll_seconds):
            _signal_tree(proc.pid, (), signal.SIGKILL)
