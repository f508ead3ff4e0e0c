"""Time for the runner: wall-clock ``now``, a monotonic clock for intervals, and waiting. Injectable, so tests
control time instead of sleeping."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Protocol

from coordinator.timeutil import utcnow


class Clock(Protocol):
    """Everything the runner asks about time."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC (what the state branch records)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps (for intervals, pauses and backoff)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        ...

    def wait(self, event: threading.Event, timeout: float) -> bool:
        """Wait until ``event`` is set or ``timeout`` passed; True when it was set."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """The current time (UTC)."""
        return utcnow()

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """``time.sleep()``."""
        time.sleep(max(0.0, seconds))

    def wait(self, event: threading.Event, timeout: float) -> bool:
        """``event.wait(timeout)``."""
        return event.wait(max(0.0, timeout))


SYSTEM_CLOCK = SystemClock()
