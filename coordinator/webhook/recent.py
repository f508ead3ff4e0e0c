"""The delivery ids seen lately, to answer a delivery GitHub sent twice without doing its work twice.

Bounded: the oldest ids are forgotten first. That is enough because it is only the first line of defence: the
ingest itself is idempotent (the same trigger twice gives one task), so a duplicate that arrives after its id
was forgotten, or after a restart, changes nothing either.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

DEFAULT_CAPACITY = 10_000


class RecentIds:
    """A thread-safe, bounded set of ids in the order they were added."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, delivery_id: str) -> bool:
        """Remember ``delivery_id``; False when it was remembered already (a duplicate)."""
        with self._lock:
            if delivery_id in self._ids:
                return False
            self._ids[delivery_id] = None
            while len(self._ids) > self._capacity:
                self._ids.popitem(last=False)
            return True

    def forget(self, delivery_id: str) -> None:
        """Forget ``delivery_id``: its work failed, and GitHub's "Redeliver" resends it with the same id."""
        with self._lock:
            self._ids.pop(delivery_id, None)

    def __contains__(self, delivery_id: object) -> bool:
        with self._lock:
            return delivery_id in self._ids

    def __len__(self) -> int:
        with self._lock:
            return len(self._ids)
