"""When is a lease expired? Not when another machine's clock says so.

A lease records ``expires_at`` in the clock of the runner that holds it. Comparing that with this machine's clock
makes a machine whose clock runs ten minutes fast take every live task of a healthy runner. So a lease is judged
by what this machine itself saw: it is expired once this machine has seen it unchanged (same holder, attempt and
expiry) for its whole length (``expires_at`` minus the last renewal, both in the holder's clock, so their
difference is a duration whatever the clocks say), measured on this machine's clock. A lease that expired more
than :data:`CLOCK_TRUST` ago by this machine's clock is expired as well, so a machine that just started does not
wait a whole lease length for a runner that died yesterday.

What a machine saw is kept in a small file next to its object cache, so the short-lived CLI processes of one
machine (``coordinator claim`` from cron) share it; each process merges what it saw into that file.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from coordinator.core.state import State
from coordinator.models import Task

#: A lease this far past its expiry by this machine's clock is expired, whatever this machine saw of it.
CLOCK_TRUST = timedelta(hours=1)


def _key(task: Task) -> str | None:
    lease = task.lease
    if lease is None:
        return None
    return f"{task.id}|{lease.runner}|{lease.attempt}|{lease.expires_at.isoformat()}"


class LeaseWatch:
    """First sightings of leases on this machine (wall-clock seconds of this machine); thread-safe."""

    def __init__(self, path: Path | None, now: Callable[[], datetime]) -> None:
        self._path = path
        self._now = now
        self._lock = threading.Lock()
        self._seen: dict[str, float] = self._load()

    def _load(self) -> dict[str, float]:
        if self._path is None:
            return {}
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(k): float(v) for k, v in data.items() if isinstance(v, int | float)}

    def observe(self, state: State) -> None:
        """Note the leases of ``state`` not seen before (and forget those that are gone)."""
        current = {key: task for task in state.running_tasks() if (key := _key(task)) is not None}
        with self._lock:
            moment = self._now().timestamp()
            added = [key for key in current if key not in self._seen]
            for key in added:
                self._seen[key] = moment
            dropped = [key for key in self._seen if key not in current]
            for key in dropped:
                del self._seen[key]
            if added or dropped:
                self._save()

    def expired(self, task: Task, now: datetime) -> bool:
        """Whether ``task``'s lease is expired as this machine judges it (see the module docstring)."""
        lease, key = task.lease, _key(task)
        if lease is None or key is None:
            return False
        if now - lease.expires_at > CLOCK_TRUST:
            return True
        length = (lease.expires_at - (lease.renewed_at or lease.acquired_at)).total_seconds()
        with self._lock:
            first = self._seen.setdefault(key, self._now().timestamp())
            return self._now().timestamp() - first >= length

    def _save(self) -> None:
        if self._path is None:
            return
        merged = dict(self._seen)
        for key, moment in self._load().items():  # another process of this machine may have seen a lease earlier
            if key in merged:
                merged[key] = min(merged[key], moment)
        self._seen = merged
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self._path.parent, prefix=f".{self._path.name}.")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(merged, handle)
            os.replace(tmp, self._path)
        except OSError:
            pass  # only a hint shared between processes: without it, each process judges by what it saw
