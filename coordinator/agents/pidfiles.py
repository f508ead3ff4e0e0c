"""Pid files of running agents, and stopping what a previous life of the runner left running.

A runner records each agent it starts in its state folder, one ``<marker>.json`` per attempt (marker, pid,
process group, ``argv[0]``, start time, the runner's pid), and removes the file once nothing of the attempt runs.
A file that is still there when the runner starts again belongs to an agent of a runner that died (killed, power
cut, the watchdog killed too): :func:`stop_recorded` ends every process still carrying that file's marker, and
only those, so a pid that now belongs to an unrelated process is never signalled.

The marker is taken from the file *name*, so even a damaged file still finds its processes. Stdlib only: the
watchdog process removes the files of the agents it ended.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Collection
from dataclasses import asdict, dataclass
from pathlib import Path

from coordinator.agents.markers import can_find_carriers, end_carriers, find_carriers, is_marker

RECORD_SUFFIX = ".json"


@dataclass(frozen=True)
class AgentRecord:
    """What a pid file says about one attempt's agent (``pid`` is ``None`` until the process exists)."""

    marker: str
    argv0: str
    started_at: str
    runner_pid: int
    pid: int | None = None
    pgid: int | None = None


def record_path(folder: Path, marker: str) -> Path:
    """The pid file of the attempt with ``marker``."""
    return folder / f"{marker}{RECORD_SUFFIX}"


def write_record(folder: Path, record: AgentRecord) -> None:
    """Write (or rewrite) ``record`` atomically: a reader sees the old file or the new one, never half of one."""
    folder.mkdir(parents=True, exist_ok=True)
    path = record_path(folder, record.marker)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(asdict(record), sort_keys=True) + "\n", encoding="utf-8")
    os.replace(partial, path)


def remove_record(folder: Path, marker: str) -> None:
    """Remove the pid file of ``marker`` (nothing happens when it is gone already)."""
    with contextlib.suppress(FileNotFoundError):
        record_path(folder, marker).unlink()


def recorded_markers(folder: Path) -> list[str]:
    """The markers that have a pid file in ``folder`` (files of other shapes are not ours and left alone)."""
    if not folder.is_dir():
        return []
    names = (p.name[: -len(RECORD_SUFFIX)] for p in folder.glob(f"*{RECORD_SUFFIX}"))
    return sorted(name for name in names if is_marker(name))


def read_record(folder: Path, marker: str) -> AgentRecord | str:
    """The record of ``marker``, or why it cannot be read."""
    try:
        data = json.loads(record_path(folder, marker).read_text(encoding="utf-8"))
        return AgentRecord(
            marker=marker,
            argv0=str(data["argv0"]),
            started_at=str(data["started_at"]),
            runner_pid=int(data["runner_pid"]),
            pid=None if data.get("pid") is None else int(data["pid"]),
            pgid=None if data.get("pgid") is None else int(data["pgid"]),
        )
    except (OSError, ValueError, TypeError, KeyError) as exc:
        return f"{type(exc).__name__}: {exc}"


def stop_recorded(folder: Path, *, grace_seconds: float, skip: Collection[str] = ()) -> list[str]:
    """End what the agents recorded in ``folder`` left running and remove their pid files; ``skip`` names
    markers of attempts running now. Returns one line per record, for the runner's log."""
    markers = [m for m in recorded_markers(folder) if m not in skip]
    if not markers:
        return []
    described = {m: _describe(folder, m) for m in markers}  # before anything removes them
    if not can_find_carriers():
        for marker in markers:
            remove_record(folder, marker)
        why = "nothing signalled: this platform cannot tell its processes apart"
        return [f"dropped the pid file of {described[m][0]}: {why}" for m in markers]
    found = end_carriers(markers, grace_seconds=grace_seconds)
    left = find_carriers(markers)
    return [_report(folder, m, described[m], found[m], left[m]) for m in markers]


def _describe(folder: Path, marker: str) -> tuple[str, int | None]:
    record = read_record(folder, marker)
    if isinstance(record, str):
        return f"agent of attempt {marker} (unreadable pid file: {record})", None
    pid = "not started" if record.pid is None else f"pid {record.pid}"
    return f"agent {record.argv0} ({pid}, started {record.started_at})", record.pid


def _report(folder: Path, marker: str, described: tuple[str, int | None], found: set[int], left: set[int]) -> str:
    what, pid = described
    if left:
        pids = " ".join(str(p) for p in sorted(left))
        return f"could not stop leftover processes of {what}: kill them by hand (kill -9 {pids})"
    remove_record(folder, marker)
    if found:
        return f"stopped {len(found)} leftover process(es) of {what}: {', '.join(str(p) for p in sorted(found))}"
    if pid is not None and _runs(pid):
        return f"dropped the pid file of {what}: pid {pid} now belongs to another process, which was left alone"
    return f"removed the pid file of {what}: nothing of it was running"


def _runs(pid: int) -> bool:
    if sys.platform == "win32":
        return False  # os.kill would terminate it there; nothing calls this on Windows anyway
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True
