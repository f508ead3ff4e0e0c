"""What a runner tidies now and then (at start, then every few hours): the state branch's archive, and its own
old logs and idle worktrees.

- **gc**: up to a few batches of ``coordinator gc`` (tasks that ended more than ``archive_after_days`` ago, from
  ``config.json``; 0 turns it off), so the live tree every claim walks stays small without anyone running gc.
  Several runners doing it at once is fine: each batch is a compare-and-swap commit computed on the newest state.
- **logs**: attempt logs older than ``log_retention_days`` (the runner setting; 0 keeps them).
- **worktrees**: this runner's worktrees of tasks it is not running, untouched for as long (work left in them is
  committed to the task's branch first).

Nothing here stops the runner: a failure is said once in its output and tried again next time.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from coordinator.core.archive import MIN_AGE, GcRequest
from coordinator.errors import CoordinatorError
from coordinator.runner.clock import Clock
from coordinator.runner.config import RunnerConfig
from coordinator.runner.worktree import WorktreeManager
from coordinator.store.gc import collect
from coordinator.store.store import StateStore

#: At most this many gc batches (500 tasks each) per round, so a long backlog never holds up claiming for long.
GC_BATCHES_PER_ROUND = 4


def prune_logs(log_dir: Path, retention_days: float, now: datetime) -> int:
    """Delete ``*.log`` files in ``log_dir`` not modified for ``retention_days`` (0: keep all); returns how many."""
    if retention_days <= 0 or not log_dir.is_dir():
        return 0
    cutoff = now.timestamp() - retention_days * 86400
    removed = 0
    for path in log_dir.glob("*.log"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except OSError:
            continue
    return removed


class _Daemon(Protocol):
    """What housekeeping takes from the runner (see :meth:`Housekeeping.of`)."""

    config: RunnerConfig
    store: StateStore
    worktrees: WorktreeManager
    clock: Clock
    echo: Callable[[str], None]
    log_dir: Path

    @property
    def running_task_ids(self) -> list[str]: ...


@dataclass
class Housekeeping:
    """One runner's tidying; :meth:`run` does a round (the daemon calls it at start and every few hours)."""

    store: StateStore
    log_dir: Path
    retention_days: float
    now: Callable[[], datetime]
    echo: Callable[[str], None]
    running: Callable[[], list[str]]
    prune_worktrees: Callable[[Collection[str], float], list[str]] | None = None

    @classmethod
    def of(cls, daemon: _Daemon) -> Housekeeping:
        """The housekeeping of a runner, from its parts."""
        return cls(
            store=daemon.store,
            log_dir=daemon.log_dir,
            retention_days=daemon.config.log_retention_days,
            now=daemon.clock.now,
            echo=daemon.echo,
            running=lambda: daemon.running_task_ids,
            prune_worktrees=daemon.worktrees.prune_idle,
        )

    def run(self) -> None:
        """Archive what is due, then prune logs and idle worktrees past retention."""
        now = self.now()
        prune_logs(self.log_dir, self.retention_days, now)
        if self.prune_worktrees is not None and self.retention_days > 0:
            cutoff = (now - timedelta(days=self.retention_days)).timestamp()
            try:
                gone = self.prune_worktrees(self.running(), cutoff)
            except CoordinatorError as exc:
                self.echo(f"warning: cannot prune idle worktrees: {exc}")
                gone = []
            if gone:
                self.echo(f"removed {len(gone)} idle worktree(s) (work committed): {', '.join(gone)}")
        self.archive()

    def archive(self) -> None:
        """Up to :data:`GC_BATCHES_PER_ROUND` batches of gc, as ``config.json``'s ``archive_after_days`` says."""
        try:
            days = self.store.read(fresh=False).config.archive_after_days
        except CoordinatorError as exc:
            self.echo(f"warning: gc of the state branch skipped, cannot read it: {exc}")
            return
        if days <= 0:
            return
        request = GcRequest(older_than=max(timedelta(days=days), MIN_AGE))
        try:
            report = collect(self.store, request, max_batches=GC_BATCHES_PER_ROUND)
        except CoordinatorError as exc:
            self.echo(f"warning: gc of the state branch failed (it is tried again later): {exc}")
            return
        if report.archived:
            self.echo(
                f"archived {report.archived} task(s) that ended more than {days} day(s) ago; "
                f"{report.live} task(s) live, {report.archived_total} archived"
            )
