"""A clock for runner tests that never sleeps for real.

Time moves only when the *driver* thread (the runner's main loop) waits: its ``wait``/``sleep`` jumps the clock
forward by the timeout at once. Every other thread (slot threads, lease renewers) that waits blocks until the
clock has passed its deadline or its event is set, so a renewal due in 200 s happens after 200 s of simulated
time, not in a busy loop. Agents run in real time; only the runner's own pauses are skipped.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class FakeClock:
    """``now``/``monotonic``/``sleep``/``wait`` over simulated seconds; see the module docstring."""

    def __init__(self, start: datetime | None = None, *, driver: str = "runner-main") -> None:
        self._start = start or datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
        self._elapsed = 0.0
        self._driver = driver
        self._changed = threading.Condition()
        self.waited: list[float] = []  # every wait/sleep of the driver, in seconds

    def now(self) -> datetime:
        """The simulated wall clock."""
        return self._start + timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        """Simulated seconds since the start."""
        return self._elapsed

    def advance(self, seconds: float) -> None:
        """Move the clock on (any thread may)."""
        with self._changed:
            self._elapsed += max(0.0, seconds)
            self._changed.notify_all()

    def sleep(self, seconds: float) -> None:
        """Sleep in simulated time."""
        self.wait(threading.Event(), seconds)

    def wait(self, event: threading.Event, timeout: float) -> bool:
        """The driver jumps the clock; other threads block until the clock passes their deadline."""
        if event.is_set():
            return True
        if threading.current_thread().name == self._driver:
            self.waited.append(timeout)
            self.advance(timeout)
            return event.is_set()
        deadline = self._elapsed + timeout
        with self._changed:
            while not event.is_set() and self._elapsed < deadline:
                self._changed.wait(0.01)  # short real waits, so a set event is noticed too
        return event.is_set()
