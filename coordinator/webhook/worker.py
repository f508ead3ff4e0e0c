"""The deliveries' worker: one thread that processes them one at a time, in the order they were accepted.

One thread is deliberate: the ingest's writes to the state branch then never race each other inside this
process (compare-and-swap still settles races with runners and other writers). The HTTP side only queues: a
delivery is answered before its work starts, so GitHub gets its answer in milliseconds whatever the ingest costs.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from enum import Enum

from coordinator.errors import CoordinatorError
from coordinator.webhook.delivery import Delivery, log_line
from coordinator.webhook.recent import RecentIds

#: Deliveries waiting at most; past that the server answers 503 (GitHub shows the delivery as failed).
DEFAULT_QUEUE_SIZE = 1000


class Offer(Enum):
    """What became of a delivery handed to the worker."""

    QUEUED = "queued"
    DUPLICATE = "duplicate"
    FULL = "full"
    STOPPING = "stopping"


#: How long to wait before trying a delivery again after ``error`` on try ``tries`` (None: give up).
RetryPolicy = Callable[[Exception, int], float | None]


def never_retry(error: Exception, tries: int) -> float | None:
    """The default policy: one try."""
    return None


class DeliveryWorker:
    """Processes deliveries with ``handle`` (which returns the outcome for the log, or raises) and writes one
    ``log`` line per delivery. ``redact`` cleans error messages before they are logged; ``retry`` says whether
    and when a failed delivery is tried again (the next ones wait: order matters more than speed)."""

    def __init__(
        self,
        handle: Callable[[Delivery], str],
        *,
        log: Callable[[str], None],
        redact: Callable[[str], str] = lambda text: text,
        retry: RetryPolicy = never_retry,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        recent: RecentIds | None = None,
    ) -> None:
        self._handle, self._log, self._redact, self._retry = handle, log, redact, retry
        self._queue_size = queue_size
        self.recent = recent if recent is not None else RecentIds()
        self._queue: deque[Delivery] = deque()
        self._current: Delivery | None = None
        self._accepting = True
        self._closing = False
        self._hurried = False
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread. It is a daemon: a delivery stuck past the shutdown bound never keeps the process up."""
        self._thread = threading.Thread(target=self._run, name="webhook-worker", daemon=True)
        self._thread.start()

    def offer(self, delivery: Delivery) -> Offer:
        """Queue ``delivery`` unless its id was seen lately, the queue is full, or the worker is stopping."""
        with self._changed:
            if not self._accepting:
                return Offer.STOPPING
            if delivery.id is not None and not self.recent.add(delivery.id):
                return Offer.DUPLICATE
            if len(self._queue) >= self._queue_size:
                if delivery.id is not None:
                    self.recent.forget(delivery.id)  # not done: a redelivery must be taken
                return Offer.FULL
            self._queue.append(delivery)
            self._changed.notify_all()
            return Offer.QUEUED

    @property
    def pending(self) -> int:
        """Deliveries queued or being processed."""
        with self._changed:
            return len(self._queue) + (self._current is not None)

    def wait_idle(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until nothing is queued or being processed; True when so (False at
        once after :meth:`hurry`)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._queue or self._current is not None:
                left = deadline - time.monotonic()
                if left <= 0 or self._hurried:
                    return False
                self._changed.wait(left)
            return True

    def hurry(self) -> None:
        """Make a :meth:`stop` under way give up waiting now (a second Ctrl-C)."""
        with self._changed:
            self._hurried = True
            self._changed.notify_all()

    def stop(self, timeout: float) -> list[str]:
        """Take no more deliveries, finish the queued ones within ``timeout`` seconds, and end the thread.
        Returns the ids of the deliveries left unfinished (``-`` for one without an id)."""
        with self._changed:
            self._accepting = False
            self._changed.notify_all()
        finished = self._thread is not None and self.wait_idle(timeout)
        with self._changed:
            self._closing = True
            left = [] if finished else [d for d in (self._current, *self._queue) if d is not None]
            self._queue.clear()
            self._changed.notify_all()
        if finished and self._thread is not None:
            self._thread.join(timeout=max(1.0, timeout))
        return [d.id or "-" for d in left]

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._queue and not self._closing:
                    self._changed.wait()
                if not self._queue:
                    return
                delivery = self._current = self._queue.popleft()
            try:
                self._process(delivery)
            finally:
                with self._changed:
                    self._current = None
                    self._changed.notify_all()

    def _process(self, delivery: Delivery) -> None:
        tries = 0
        while True:
            tries += 1
            try:
                outcome = self._handle(delivery)
                break
            except Exception as exc:  # one delivery's failure must never stop the worker
                wait = self._retry(exc, tries)
                if wait is None or not self._pause(wait):
                    if delivery.id is not None:
                        self.recent.forget(delivery.id)  # GitHub's "Redeliver" resends it with the same id
                    outcome = f"error: {self._describe(exc)}" + (f" (after {tries} tries)" if tries > 1 else "")
                    break
        ms = (time.monotonic() - delivery.received) * 1000
        self._log(log_line(delivery=delivery.id, event=delivery.event, action=delivery.action, outcome=outcome, ms=ms))

    def _pause(self, seconds: float) -> bool:
        """Wait before a retry; False when the worker is told to close meanwhile (the delivery is given up)."""
        deadline = time.monotonic() + seconds
        with self._changed:
            while not self._closing:
                left = deadline - time.monotonic()
                if left <= 0:
                    return True
                self._changed.wait(left)
            return False

    def _describe(self, error: Exception) -> str:
        if isinstance(error, CoordinatorError):
            text = str(error)
        else:  # a bug: its type helps whoever reads the log
            text = f"{type(error).__name__}: {error} (unexpected: please report it)"
        return self._redact(" ".join(text.split()))
