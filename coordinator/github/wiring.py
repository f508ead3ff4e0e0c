"""Putting the GitHub pieces together for a process (``coordinator ingest``, ``coordinator webhook serve``, a
runner): the client from the environment, the trigger check, the deliverer, the courier and the ingest."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from coordinator.github.api import GitHubAPI
from coordinator.github.courier import Courier
from coordinator.github.deliver import Deliverer
from coordinator.github.pushing import Pusher
from coordinator.github.run_reporter import RunReporter
from coordinator.github.verify import TriggerCheck
from coordinator.redaction import Redactor
from coordinator.store.store import StateStore

if TYPE_CHECKING:
    from coordinator.github.ingest import Ingest
    from coordinator.github.rest import RestGitHub
    from coordinator.github.settings import GitHubSettings


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


@dataclass(frozen=True)
class IngestSide:
    """What an ingesting process holds: the ``ingest`` and its GitHub client ``api`` (``api.calls`` counts the
    REST requests made)."""

    ingest: Ingest
    api: RestGitHub


@contextmanager
def ingest_for(
    store: StateStore,
    settings: GitHubSettings,
    *,
    who: str,
    redactor: Redactor,
    echo: Callable[[str], None],
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    long_running: bool = False,
) -> Iterator[IngestSide]:
    """The ingest of ``coordinator ingest`` and of ``coordinator webhook serve``, built the same way: a REST client
    from ``settings`` (closed on exit), a courier delivering as ``who`` for ``settings.repository``, and an
    :class:`~coordinator.github.ingest.Ingest` on ``store`` (``long_running``: see there); ``echo`` gets their notes
    and warnings."""
    from coordinator.github.ingest import Ingest
    from coordinator.github.rest import RestGitHub

    with RestGitHub(settings) as api:
        courier = courier_for(
            store, api, who=who, repository=settings.repository, redactor=redactor, now=now, echo=echo
        )
        reports = None
        if settings.repository is not None:
            reports = RunReporter(
                store=store,
                api=api,
                who=who,
                repository=settings.repository,
                redact=redactor.redact,
                now=now,
                echo=echo,
            )
        ingest = Ingest(store=store, api=api, courier=courier, echo=echo, long_running=long_running, reports=reports)
        yield IngestSide(ingest, api)
