"""Putting the GitHub pieces together for a process (``coordinator ingest``, a runner): the client from the
environment, the trigger check, the deliverer and the courier."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from coordinator.github.api import GitHubAPI
from coordinator.github.courier import Courier
from coordinator.github.deliver import Deliverer, Pusher
from coordinator.github.verify import TriggerCheck
from coordinator.redaction import Redactor
from coordinator.store.store import StateStore


def courier_for(
    store: StateStore,
    api: GitHubAPI,
    *,
    who: str,
    repository: str | None,
    redactor: Redactor,
    now: Callable[[], datetime],
    echo: Callable[[str], None],
    pusher: Pusher | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Courier:
    """The courier of one process: deliveries as ``who``, for tasks of ``repository`` only (None: any);
    ``sleep`` waits between the quick retries of an idempotent call within one delivery pass."""
    deliverer = Deliverer(api, who=who, redact=redactor.redact, pusher=pusher, sleep=sleep)
    check = TriggerCheck(api, repository=repository)
    return Courier(store=store, deliverer=deliverer, check=check, now=now, echo=echo)
