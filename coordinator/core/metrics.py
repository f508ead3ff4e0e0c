"""Metrics of the queue's history: success rates, durations, escalation and retry rates, cost and tokens by day,
mode and runner, and the saving from escalation, computed from the tasks alone (a pure function of them and
``now``).

What is counted: the tasks that *ended* (succeeded, failed, cancelled) in the window, with all their attempts. A
task still open has no outcome yet; its spend so far is reported apart (``open_cost_usd``), so the figures of
one report always describe the same tasks and ``saving = 1 - cost_usd / counterfactual_usd`` holds exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from coordinator.core.history import attempt_time, ended_at, finished_attempts
from coordinator.core.prices import PriceTable
from coordinator.core.saving import SavingEstimate, estimate_saving
from coordinator.core.stats import percentile, rate
from coordinator.models import Attempt, AttemptOutcome, Task, TaskStatus, Tokens
from coordinator.modes import ModesConfig

#: Outcomes that say whether a mode (or runner) could do the work; the others (released, cancelled, a question)
#: are nobody's verdict on it.
DECISIVE_OUTCOMES = frozenset({AttemptOutcome.SUCCEEDED, AttemptOutcome.FAILED, AttemptOutcome.LEASE_EXPIRED})


@dataclass
class Tally:
    """The figures of a group of attempts (one mode, one runner, one day)."""

    attempts: int = 0
    succeeded: int = 0
    decisive: int = 0  # succeeded, failed or lease expired
    cost_usd: float = 0.0
    tokens: Tokens = field(default_factory=Tokens)
    durations: list[float] = field(default_factory=list)
    tasks_succeeded: int = 0  # by day: tasks that ended that day
    tasks_failed: int = 0

    def add(self, attempt: Attempt) -> None:
        """Count one finished attempt."""
        self.attempts += 1
        self.succeeded += attempt.outcome == AttemptOutcome.SUCCEEDED
        self.decisive += attempt.outcome in DECISIVE_OUTCOMES
        self.cost_usd += attempt.cost_usd or 0.0
        if attempt.tokens is not None:
            self.tokens = add_tokens(self.tokens, attempt.tokens)
        seconds = duration_of(attempt)
        if seconds is not None and attempt.outcome in (AttemptOutcome.SUCCEEDED, AttemptOutcome.FAILED):
            self.durations.append(seconds)

    @property
    def success_rate(self) -> float | None:
        """Succeeded attempts among the decisive ones."""
        return rate(self.succeeded, self.decisive)

    @property
    def task_success_rate(self) -> float | None:
        """Succeeded tasks among those that succeeded or failed (by day)."""
        return rate(self.tasks_succeeded, self.tasks_succeeded + self.tasks_failed)

    def p(self, percent: int) -> float | None:
        """A percentile of the durations of succeeded and failed attempts, in seconds."""
        return percentile(self.durations, percent)


@dataclass(frozen=True)
class MetricsReport:
    """Everything ``coordinator metrics`` shows."""

    since: datetime | None
    now: datetime
    tasks: tuple[Task, ...]  # ended in the window
    open_tasks: int
    open_cost_usd: float
    totals: Tally
    modes: dict[str, Tally]
    runners: dict[str, Tally]
    days: dict[str, Tally]
    saving: SavingEstimate

    def count(self, status: TaskStatus) -> int:
        """Tasks of the report that ended in this status."""
        return sum(1 for t in self.tasks if t.status == status)

    @property
    def success_rate(self) -> float | None:
        """Succeeded tasks among those that succeeded or failed (a cancelled task is a person's decision)."""
        succeeded = self.count(TaskStatus.SUCCEEDED)
        return rate(succeeded, succeeded + self.count(TaskStatus.FAILED))

    @property
    def escalated(self) -> int:
        """Tasks whose attempts ran in more than one mode."""
        return sum(1 for t in self.tasks if len({a.mode for a in finished_attempts(t)}) > 1)

    @property
    def retried(self) -> int:
        """Tasks that needed more than one counted attempt (in any mode)."""
        return sum(1 for t in self.tasks if sum(1 for a in finished_attempts(t) if a.counted) > 1)

    @property
    def with_attempts(self) -> int:
        """Tasks that ran at least once."""
        return sum(1 for t in self.tasks if finished_attempts(t))


def compute_metrics(
    tasks: Sequence[Task],
    *,
    modes: ModesConfig,
    prices: PriceTable,
    since: datetime | None,
    now: datetime,
    top: str | None = None,
) -> MetricsReport:
    """The metrics of the tasks that ended between ``since`` (None: ever) and ``now``."""
    ended = tuple(t for t in tasks if _ended_within(t, since, now))
    still_open = [t for t in tasks if not t.is_terminal]
    totals, by_mode, by_runner, by_day = Tally(), dict[str, Tally](), dict[str, Tally](), dict[str, Tally]()
    for task in ended:
        for attempt in finished_attempts(task):
            totals.add(attempt)
            by_mode.setdefault(attempt.mode, Tally()).add(attempt)
            by_runner.setdefault(attempt.runner, Tally()).add(attempt)
            when = attempt_time(attempt)
            if when is not None:
                by_day.setdefault(when.date().isoformat(), Tally()).add(attempt)
        day = by_day.setdefault(_day(task), Tally())
        day.tasks_succeeded += task.status == TaskStatus.SUCCEEDED
        day.tasks_failed += task.status == TaskStatus.FAILED
    return MetricsReport(
        since=since,
        now=now,
        tasks=ended,
        open_tasks=len(still_open),
        open_cost_usd=sum(a.cost_usd or 0.0 for t in still_open for a in t.attempts),
        totals=totals,
        modes=by_mode,
        runners=dict(sorted(by_runner.items())),
        days=dict(sorted(by_day.items())),
        saving=estimate_saving(ended, modes=modes, prices=prices, top=top),
    )


def _ended_within(task: Task, since: datetime | None, now: datetime) -> bool:
    when = ended_at(task)
    return when is not None and (since is None or when >= since) and when <= now


def _day(task: Task) -> str:
    when = ended_at(task)
    assert when is not None  # only ended tasks are counted by day
    return when.date().isoformat()


def duration_of(attempt: Attempt) -> float | None:
    """How long an attempt ran, in seconds: as it recorded, else from its start and finish."""
    if attempt.duration_seconds is not None:
        return attempt.duration_seconds
    if attempt.started_at is not None and attempt.finished_at is not None:
        return (attempt.finished_at - attempt.started_at).total_seconds()
    return None


def add_tokens(a: Tokens, b: Tokens) -> Tokens:
    """The sum of two token counts."""
    return Tokens(
        input=a.input + b.input,
        output=a.output + b.output,
        cache_read=a.cache_read + b.cache_read,
        cache_creation=a.cache_creation + b.cache_creation,
    )
