"""Run the archive's transition against a store until nothing more is archivable (or a batch budget is spent)."""

from __future__ import annotations

from dataclasses import dataclass

from coordinator.core.archive import GcRequest, archive_batch, check_request
from coordinator.store.store import StateStore


@dataclass(frozen=True)
class GcReport:
    """What a gc did: tasks archived, commits made, and what the branch holds afterwards."""

    archived: int
    commits: int
    live: int
    archived_total: int


def collect(store: StateStore, request: GcRequest, *, max_batches: int | None = None) -> GcReport:
    """Archive batch after batch (one compare-and-swap commit each) until none is left or ``max_batches`` ran.

    Safe to run on several machines at once: each batch is computed again on the newest state when another writer
    won the race, so a task is archived once, by whichever batch got there first.
    """
    check_request(request)
    archived = commits = 0
    while max_batches is None or commits < max_batches:
        change = store.update(lambda state, now: archive_batch(state, request, now))
        if change.empty:
            break
        archived += sum(1 for kind, _ in change.deletes if kind == "tasks")
        commits += 1
    state = store.state
    return GcReport(archived=archived, commits=commits, live=len(state.tasks), archived_total=len(state.archived))
