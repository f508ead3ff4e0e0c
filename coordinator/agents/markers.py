"""Marking every process of one agent attempt, finding the marked processes again, and ending them.

Each attempt gets a random marker in the agent's environment (:data:`MARKER_VARIABLE`; after the markers of
enclosing attempts, if the runner itself runs inside one: see :func:`marker_value`). Every process the agent
starts inherits it, also one that left the process group with ``setsid`` and whose parent already exited, so the
marker finds what process groups and parent links lose. A process is signalled only while it carries the
marker: a pid recorded earlier may belong to an unrelated process by now, and that one must never be hit.

Finding carriers: Linux reads ``/proc/<pid>/environ`` (readable for one's own processes); macOS asks
``ps -E``, which shows the environment of one's own processes; elsewhere nothing is found (the process group
and the Windows job object have to be enough there). A process that removes the marker from its environment
before starting children escapes the marker; the process group and parent links still find those children
while the attempt runs.

Kept free of heavy imports: the watchdog process (:mod:`coordinator.agents.watchdog`) uses it and must start
fast.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Collection, Mapping
from pathlib import Path

#: The environment variable that carries an attempt's marker.
MARKER_VARIABLE = "COORDINATOR_AGENT_ID"
#: How long the KILL phase keeps sweeping for carriers (a process forking while it is killed leaves new ones).
KILL_SWEEP_SECONDS = 5.0

_MARKER_SHAPE = re.compile(r"[0-9a-f]{24}")
_SEPARATOR = ":"
_ENTRY_PREFIX = f"{MARKER_VARIABLE}=".encode("ascii")
_PS_ENTRY = re.compile(rf"(?:^|\s){re.escape(MARKER_VARIABLE)}=([0-9a-f:]+)(?=\s|$)")
_PROC = Path("/proc")


def new_marker() -> str:
    """A fresh random marker for one attempt (24 hex digits: safe in file names and command lines)."""
    return secrets.token_hex(12)


def is_marker(text: str) -> bool:
    """Whether ``text`` has the shape :func:`new_marker` produces (guards file names and watchdog input)."""
    return _MARKER_SHAPE.fullmatch(text) is not None


def marker_value(inherited: str | None, marker: str) -> str:
    """The value of :data:`MARKER_VARIABLE` for an agent: the markers it inherited, then its own, ``:``-separated.

    An agent of a runner that itself runs inside an attempt (an agent testing this very project) keeps the outer
    attempt's marker too, so ending the outer attempt also ends it.
    """
    outer = [part for part in (inherited or "").split(_SEPARATOR) if is_marker(part) and part != marker]
    return _SEPARATOR.join([*outer, marker])


def can_find_carriers() -> bool:
    """Whether this platform can find processes by marker (Linux with /proc, macOS with ps)."""
    return (_PROC / "self" / "environ").exists() or sys.platform == "darwin"


def find_carriers(markers: Collection[str]) -> dict[str, set[int]]:
    """The live processes carrying each marker (zombies and this process excluded); one scan for all."""
    found: dict[str, set[int]] = {marker: set() for marker in markers}
    if not found:
        return found
    if (_PROC / "self" / "environ").exists():
        for entry in _PROC.iterdir():
            if entry.name.isdigit() and int(entry.name) != os.getpid():
                for marker in _linux_markers_of(int(entry.name)) & found.keys():
                    found[marker].add(int(entry.name))
    elif sys.platform == "darwin":
        for pid, carried in _ps_markers().items():
            for marker in carried & found.keys():
                found[marker].add(pid)
    return found


def carries(pid: int, marker: str) -> bool:
    """Whether process ``pid`` runs now with ``marker`` in its environment."""
    if (_PROC / "self" / "environ").exists():
        return marker in _linux_markers_of(pid)
    if sys.platform == "darwin":
        return marker in _ps_markers(pid=pid).get(pid, set())
    return False


def _markers_in(value: str) -> set[str]:
    return {part for part in value.split(_SEPARATOR) if is_marker(part)}


def _linux_markers_of(pid: int) -> set[str]:
    try:
        environ = (_PROC / str(pid) / "environ").read_bytes()  # empty for a zombie
    except OSError:
        return set()  # gone, or another user's process: not ours to look at
    for entry in environ.split(b"\0"):
        if entry.startswith(_ENTRY_PREFIX):
            return _markers_in(entry[len(_ENTRY_PREFIX) :].decode("ascii", errors="replace"))
    return set()


def _ps_markers(*, pid: int | None = None) -> dict[int, set[str]]:
    """macOS: ``ps -E`` appends the (launch-time) environment to the command column of one's own processes."""
    selection = ["-p", str(pid)] if pid is not None else ["-A"]
    try:
        listing = subprocess.run(
            ["ps", "-E", "-ww", "-o", "pid=,stat=,command=", *selection],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            check=False,
            timeout=30,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    found: dict[int, set[str]] = {}
    for line in listing.splitlines():
        fields = line.split(None, 2)
        if len(fields) < 3 or not fields[0].isdigit() or fields[1].startswith("Z") or int(fields[0]) == os.getpid():
            continue
        carried = set().union(*(_markers_in(value) for value in _PS_ENTRY.findall(fields[2])))
        if carried:
            found[int(fields[0])] = carried
    return found


def signal_carrier(pid: int, marker: str, sig: int) -> bool:
    """Send ``sig`` to ``pid`` only if it carries ``marker`` at that moment; ``True`` when it was sent. A
    SIGTERM is followed by SIGCONT, so that a stopped process acts on it.

    On Linux the process is pinned with a pidfd before it is checked, so the signal reaches the very process
    that was checked even if the pid is reused in between. Elsewhere the check and the signal are two steps a
    moment apart.
    """
    if sys.platform == "win32":
        return False
    signals = (sig, signal.SIGCONT) if sig == signal.SIGTERM else (sig,)
    if sys.platform == "linux" and hasattr(os, "pidfd_open"):
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            return False  # gone
        try:
            if not carries(pid, marker):
                return False
            for each in signals:
                signal.pidfd_send_signal(pidfd, each)
            return True
        except OSError:
            return False
        finally:
            os.close(pidfd)
    if not carries(pid, marker):
        return False
    try:
        for each in signals:
            os.kill(pid, each)
    except OSError:
        return False
    return True


def signal_carriers(carriers: Mapping[str, Collection[int]], sig: int) -> None:
    """Send ``sig`` to each pid that still carries its marker (see :func:`signal_carrier`)."""
    for marker, pids in carriers.items():
        for pid in pids:
            signal_carrier(pid, marker, sig)


def end_carriers(markers: Collection[str], *, grace_seconds: float, poll_seconds: float = 0.1) -> dict[str, set[int]]:
    """End every process carrying one of ``markers``: SIGTERM, up to ``grace_seconds`` for them to exit, then
    SIGKILL (repeated for :data:`KILL_SWEEP_SECONDS` to catch processes forked meanwhile).

    Returns, per marker, the pids found at the start; :func:`find_carriers` afterwards says whether any
    survived (a process stuck in the kernel cannot even be killed).
    """
    found = find_carriers(markers)
    if sys.platform == "win32" or not any(found.values()):
        return found
    signal_carriers(found, signal.SIGTERM)
    signalled = {marker: set(pids) for marker, pids in found.items()}
    deadline = time.monotonic() + grace_seconds
    while any((left := find_carriers(markers)).values()):
        if time.monotonic() >= deadline:
            kill_carriers(markers, seconds=KILL_SWEEP_SECONDS, poll_seconds=poll_seconds)
            break
        fresh = {marker: pids - signalled[marker] for marker, pids in left.items()}
        signal_carriers(fresh, signal.SIGTERM)  # started during the grace: they get the same chance
        for marker, pids in fresh.items():
            signalled[marker] |= pids
        time.sleep(poll_seconds)
    return found


def kill_carriers(markers: Collection[str], *, seconds: float, poll_seconds: float = 0.1) -> bool:
    """SIGKILL every carrier of ``markers``, again and again for up to ``seconds``; ``True`` if none is left."""
    if sys.platform == "win32":
        return True  # no carriers can be found there (see can_find_carriers)
    deadline = time.monotonic() + seconds
    while True:
        left = find_carriers(markers)
        if not any(left.values()):
            return True
        if time.monotonic() >= deadline:
            return False
        signal_carriers(left, signal.SIGKILL)
        time.sleep(poll_seconds)
