"""``coordinator metrics --json``: the report as plain data (rounded money, rates as fractions, None as null).

Top-level keys kept stable for scripts: ``tasks`` (how many ended in the window), ``success_rate``, ``cost_usd``,
``counterfactual_usd`` and ``saving`` (``1 - cost_usd / counterfactual_usd``; null with ``saving_reason`` when
the history cannot support it).
"""

from __future__ import annotations

from typing import Any

from coordinator.core.metrics import MetricsReport, Tally
from coordinator.core.saving import SavingEstimate, describe_method
from coordinator.models import TaskStatus, Tokens


def metrics_json(report: MetricsReport) -> dict[str, Any]:
    """The report as JSON-ready data."""
    saving = report.saving
    return {
        "since": report.since.isoformat() if report.since else None,
        "until": report.now.isoformat(),
        "tasks": len(report.tasks),
        "outcomes": {s.value: report.count(s) for s in (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED)},
        "success_rate": _rate(report.success_rate),
        "escalation_rate": _rate(_share(report.escalated, report.with_attempts)),
        "retry_rate": _rate(_share(report.retried, report.with_attempts)),
        "cost_usd": _usd(saving.cost_usd),
        "counterfactual_usd": _usd(saving.counterfactual_usd),
        "saving": _rate(saving.saving),
        "saving_usd": _usd(None if saving.counterfactual_usd is None else saving.counterfactual_usd - saving.cost_usd),
        "saving_reason": saving.reason,
        "tokens": tokens_json(report.totals.tokens),
        "open_tasks": report.open_tasks,
        "open_cost_usd": _usd(report.open_cost_usd),
        "counterfactual": counterfactual_json(saving),
        "modes": {name: tally_json(t) for name, t in report.modes.items()},
        "runners": {name: tally_json(t) for name, t in report.runners.items()},
        "days": {day: day_json(t) for day, t in report.days.items()},
    }


def counterfactual_json(saving: SavingEstimate) -> dict[str, Any]:
    """How the counterfactual was made: the top mode and model, the prices, the parts, the method in words."""
    check = saving.price_check
    return {
        "top_mode": saving.top_mode,
        "top_model": saving.top_model,
        "top_model_from": saving.top_model_from,
        "top_price_per_mtok": saving.top_price.model_dump() if saving.top_price else None,
        "tasks_measured": saving.count("measured"),
        "tasks_repriced": saving.count("repriced"),
        "tasks_unpriced": saving.count("unpriced"),
        "prices_as_of": saving.prices.as_of,
        "prices_source": saving.prices.source,
        "price_check": {
            "attempts": check.attempts,
            "recorded_usd": _usd(check.recorded_usd),
            "table_usd": _usd(check.table_usd),
            "doubtful": check.doubtful,
        },
        "method": describe_method(saving),
        "per_task": [
            {
                "id": e.task_id,
                "how": e.how,
                "actual_usd": _usd(e.actual_usd),
                "counterfactual_usd": _usd(e.counterfactual_usd),
            }
            for e in saving.estimates
        ],
    }


def tally_json(tally: Tally) -> dict[str, Any]:
    """One mode's or runner's figures."""
    return {
        "attempts": tally.attempts,
        "succeeded": tally.succeeded,
        "success_rate": _rate(tally.success_rate),
        "p50_seconds": tally.p(50),
        "p95_seconds": tally.p(95),
        "cost_usd": _usd(tally.cost_usd),
        "tokens": tokens_json(tally.tokens),
    }


def day_json(tally: Tally) -> dict[str, Any]:
    """One day's figures: the attempts that finished that day, the tasks that ended that day."""
    return {
        "attempts": tally.attempts,
        "cost_usd": _usd(tally.cost_usd),
        "tokens": tokens_json(tally.tokens),
        "tasks_succeeded": tally.tasks_succeeded,
        "tasks_failed": tally.tasks_failed,
        "success_rate": _rate(tally.task_success_rate),
    }


def tokens_json(tokens: Tokens) -> dict[str, int]:
    """Token counts by kind."""
    return tokens.model_dump()


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _usd(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _rate(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
