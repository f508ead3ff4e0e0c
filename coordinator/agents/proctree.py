"""Process trees of agents: finding every process an agent started, and ending them all.

An agent is started in its own process group (POSIX: a new session; Windows: ``CREATE_NEW_PROCESS_GROUP``) with
a marker in its environment (:mod:`coordinator.agents.markers`), so stopping it reaches everything it spawned
(tool processes, test runners, dev servers), also what left the group with ``setsid`` and lost its parent.
Stopping means: on POSIX ``SIGTERM`` to the group, to descendants that left it and to every marker carrier, a
grace period, then ``SIGKILL``; on Windows the attempt's job object, or ``taskkill /T /F`` on the tree.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Collection, Iterable
from pathlib import Path

from coordinator.agents.markers import KILL_SWEEP_SECONDS, find_carriers, kill_carriers, signal_carriers


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


def _group_alive(pids: Iterable[int], pgid: int) -> bool:
    """Whether a group member or a remembered descendant still runs (zombies excluded)."""
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


def _alive(pids: Iterable[int], pgid: int, markers: Collection[str]) -> bool:
    """Whether anything of the attempt still runs: in the group, a remembered descendant, or a marker carrier."""
    return _group_alive(pids, pgid) or any(find_carriers(markers).values())


def _signal_tree(pgid: int, pids: Iterable[int], markers: Collection[str], sig: int) -> None:
    if sys.platform == "win32":
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
    for pid in pids:  # descendants that moved to a group or session of their own
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
    signal_carriers(find_carriers(markers), sig)  # those whose parent exited too: only the marker knows them


def _wait_tree(
    proc: subprocess.Popen[bytes], pgid: int, pids: set[int], markers: Collection[str], seconds: float, poll: float
) -> bool:
    """Wait until the whole tree is gone; ``True`` if it went within ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        proc.poll()  # reap our direct child so it does not count as alive
        if proc.returncode is not None and not _alive(pids, pgid, markers):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)


def end_tree(
    proc: subprocess.Popen[bytes],
    *,
    marker: str | None,
    grace_seconds: float = 10.0,
    poll_seconds: float = 0.1,
) -> bool:
    """End ``proc`` and everything it started, whether it still runs (timeout, stop) or already exited (then
    whatever it left behind); it must have been started by :func:`run_process`'s rules.

    POSIX: SIGTERM to the process group, to its known descendants and to every process carrying ``marker``
    (also those that left the group with ``setsid`` and whose parent already exited), up to ``grace_seconds``
    for them to exit, then SIGKILL. Windows: ``taskkill /T /F`` on a running tree (console programs have no
    gentle equivalent that reaches the tree); the job object of :mod:`coordinator.agents.winjob` is the better
    way and is used when available. Returns whether nothing carrying the marker is left.
    """
    markers = [marker] if marker else []
    if sys.platform == "win32":
        _taskkill(proc)
        return True
    pgid = proc.pid  # start_new_session=True made the child the leader of its own group
    pids = _descendants(proc.pid) if proc.poll() is None else set()
    if proc.returncode is not None and not _alive(pids, pgid, markers):
        return True  # exited and left nothing behind: the common case
    _signal_tree(pgid, pids, markers, signal.SIGTERM)
    if not _wait_tree(proc, pgid, pids, markers, grace_seconds, poll_seconds):
        pids |= _descendants(proc.pid) if proc.poll() is None else set()
        _signal_tree(pgid, pids, markers, signal.SIGKILL)
        kill_carriers(markers, seconds=KILL_SWEEP_SECONDS, poll_seconds=poll_seconds)
        _wait_tree(proc, pgid, pids, markers, 5.0, poll_seconds)
    proc.wait()
    return not any(find_carriers(markers).values())


def _taskkill(proc: subprocess.Popen[bytes]) -> None:
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
