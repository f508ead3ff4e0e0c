"""When the state branch refuses our writes (network down, a hook, revoked rights): how long it has been so, and
when to try again. Shared by the runner's heartbeats, claims and result deliveries, so none of them retries on
every poll and ``--once`` can give up after a bounded time."""

from __future__ import annotations

import threading

from coordinator.runner.health import Backoff


class RemoteTrouble:
    """Write failures in a row, with the moment the trouble began (monotonic seconds); thread-safe."""

    def __init__(self, backoff: Backoff) -> None:
        self._backoff = backoff
        self._lock = threading.Lock()
        self._since: float | None = None
        self._failures = 0
        self._retry_at = 0.0

    def ok(self) -> None:
        """A write landed: the trouble is over."""
        with self._lock:
            self._since, self._failures, self._retry_at = None, 0, 0.0

    def failed(self, mono: float) -> float:
        """A write failed; returns how long to wait before the next try."""
        with self._lock:
            if self._since is None:
                self._since = mono
            self._failures += 1
            pause = self._backoff.pause(self._failures)
            self._retry_at = mono + pause
            return pause

    def may_try(self, mono: float) -> bool:
        """Whether the next write should be tried now (or wait for the backoff)."""
        with self._lock:
            return mono >= self._retry_at

    def failing_for(self, mono: float) -> float:
        """Seconds since writes began to fail (0 when they work)."""
        with self._lock:
            return 0.0 if self._since is None else mono - self._since
