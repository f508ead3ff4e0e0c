"""The metrics core: figures of a hand-built history, computed by hand (see tests/metrics_history.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from coordinator.core.metrics import compute_metrics
from coordinator.core.metrics_json import metrics_json
from coordinator.core.prices import ModelPrice, PriceOverride, default_prices
from coordinator.core.saving import estimate_saving, top_mode
from coordinator.core.stats import percentile
from coordinator.models import AttemptOutcome, TaskStatus, Tokens
from coordinator.modes import ModesConfig
from coordinator.timeutil import parse_since
from tests.core_helpers import NOW
from tests.metrics_history import F, S, attempt, recorded_history, task

WEEK = NOW - timedelta(days=7)


def report(since=WEEK, **kw):  # type: ignore[no-untyped-def]
    return compute_metrics(
        recorded_history(NOW), modes=ModesConfig(), prices=default_prices(), since=since, now=NOW, **kw
    )


def test_the_recorded_week_gives_the_figures_computed_by_hand() -> None:
    data = metrics_json(report())
    assert data["tasks"] == 7
    assert data["outcomes"] == {"succeeded": 5, "failed": 1, "cancelled": 1}
    assert data["success_rate"] == pytest.approx(5 / 6, abs=1e-4)
    assert data["escalation_rate"] == 0.5  # tasks 3, 4, 5 of the 6 that ran
    assert data["retry_rate"] == 0.5
    assert data["cost_usd"] == pytest.approx(1.72)
    assert data["counterfactual_usd"] == pytest.approx(4.30)
    assert data["saving"] == pytest.approx(0.60)
    assert data["saving_usd"] == pytest.approx(2.58)
    assert data["saving_reason"] is None
    assert data["open_tasks"] == 1
    assert data["open_cost_usd"] == pytest.approx(0.015)
    counterfactual = data["counterfactual"]
    assert (counterfactual["top_mode"], counterfactual["top_model"]) == ("expert", "claude-opus-5-5")
    assert counterfactual["top_model_from"] == "as recorded by 1 attempt in mode expert"
    assert (counterfactual["tasks_measured"], counterfactual["tasks_repriced"], counterfactual["tasks_unpriced"]) == (
        1,
        4,
        1,
    )
    per_task = {e["id"]: (e["how"], e["actual_usd"], e["counterfactual_usd"]) for e in counterfactual["per_task"]}
    assert per_task["task-3"] == ("repriced", pytest.approx(0.345), pytest.approx(0.60))
    assert per_task["task-4"] == ("measured", pytest.approx(0.915), pytest.approx(0.60))
    assert per_task["task-5"] == ("repriced", pytest.approx(0.315), pytest.approx(1.20))
    assert per_task["task-6"] == ("no spend", 0, 0)
    assert per_task["task-7"] == ("unpriced", pytest.approx(0.10), pytest.approx(0.10))
    assert counterfactual["price_check"]["attempts"] == 9
    assert counterfactual["price_check"]["doubtful"] is False


def test_per_mode_runner_and_day() -> None:
    data = metrics_json(report())
    simple = data["modes"]["simple"]
    # durations of simple's succeeded and failed attempts: 30 60 60 120 300 900 -> p50 rank 3, p95 rank 6
    assert (simple["attempts"], simple["succeeded"], simple["success_rate"]) == (6, 3, 0.5)
    assert (simple["p50_seconds"], simple["p95_seconds"]) == (60, 900)
    assert simple["cost_usd"] == pytest.approx(0.22)
    complex_ = data["modes"]["complex"]
    assert (complex_["attempts"], complex_["succeeded"], complex_["p50_seconds"], complex_["p95_seconds"]) == (
        3,
        1,
        240,
        600,
    )
    assert data["modes"]["expert"]["cost_usd"] == pytest.approx(0.60)
    assert data["runners"]["box-a"]["attempts"] == 6
    assert data["runners"]["box-b"]["cost_usd"] == pytest.approx(1.50)
    day = (NOW - timedelta(days=1)).date().isoformat()
    assert list(data["days"]) == [day]
    assert data["days"][day]["cost_usd"] == pytest.approx(1.72)
    assert (data["days"][day]["tasks_succeeded"], data["days"][day]["tasks_failed"]) == (5, 1)
    # scales 1 + 2 + (3 + 1) + (1 + 1 + 1) + (1 + 1) = 12 times 100k input and 10k output
    assert data["tokens"] == {"input": 1_200_000, "output": 120_000, "cache_read": 0, "cache_creation": 0}


def test_since_widens_the_window() -> None:
    month = metrics_json(report(since=NOW - timedelta(days=30)))
    assert month["tasks"] == 8  # task 8 ended ten days ago
    assert month["cost_usd"] == pytest.approx(1.735)
    assert month["counterfactual_usd"] == pytest.approx(4.90)
    assert month["saving"] == pytest.approx(1 - 1.735 / 4.90, abs=1e-4)
    assert metrics_json(report(since=None))["tasks"] == 8
    assert metrics_json(report(since=NOW - timedelta(hours=1)))["tasks"] == 0


def test_too_few_tasks_is_not_enough_data_never_a_number() -> None:
    few = [t for t in recorded_history(NOW) if t.id in ("task-1", "task-2", "task-6")]
    estimate = estimate_saving(few, modes=ModesConfig(), prices=default_prices())
    assert estimate.counterfactual_usd is None and estimate.saving is None
    assert estimate.reason == "2 ended tasks with recorded spend, at least 5 are needed"
    empty = metrics_json(compute_metrics([], modes=ModesConfig(), prices=default_prices(), since=WEEK, now=NOW))
    assert (empty["tasks"], empty["cost_usd"], empty["saving"], empty["success_rate"]) == (0, 0, None, None)


def test_mostly_unpriced_spend_is_not_enough_data() -> None:
    day = NOW - timedelta(days=1)
    tasks = [
        task(n, TaskStatus.SUCCEEDED, [attempt(1, "simple", S, at=day, tokens=False, cost=1.0)], at=day)
        for n in range(1, 7)
    ]
    estimate = estimate_saving(tasks, modes=ModesConfig(), prices=default_prices())
    assert estimate.saving is None
    assert estimate.reason is not None and estimate.reason.startswith("100% of the spend was recorded without tokens")


def test_a_top_model_without_a_price_is_not_enough_data_and_a_price_file_fixes_it() -> None:
    modes = ModesConfig.model_validate(
        {"modes": {"simple": {"model": "haiku", "escalate_to": "big"}, "big": {"model": "claude-giant-1"}}}
    )
    tasks = [t for t in recorded_history(NOW) if t.id in ("task-1", "task-2", "task-3", "task-5", "task-7")]
    assert top_mode(modes) == "big"
    unknown = estimate_saving(tasks, modes=modes, prices=default_prices())
    assert unknown.saving is None
    assert unknown.reason is not None and "no price for mode big's model 'claude-giant-1'" in unknown.reason
    override = PriceOverride(models={"claude-giant-1": ModelPrice(input=8, output=40, cache_write=10, cache_read=1)})
    known = estimate_saving(tasks, modes=modes, prices=default_prices().merged(override))
    # repriced at twice opus 5.5: 2 x (0.6 + 1.2 + 0.6 + 1.2) + 0.10 unpriced
    assert known.counterfactual_usd == pytest.approx(7.30)


def test_the_price_table_resolves_aliases_dates_and_cloud_ids_but_never_guesses_a_version() -> None:
    prices = default_prices()
    assert prices.lookup("opus") == ("claude-opus-5-5", prices.models["claude-opus-5-5"])
    assert prices.lookup("claude-opus-4-1-20250805") is not None
    assert prices.lookup("claude-opus-4-1-20250805")[0] == "claude-opus-4-1"  # type: ignore[index]
    assert prices.lookup("us.anthropic.claude-sonnet-4-5-20250929-v1:0")[0] == "claude-sonnet-4-5"  # type: ignore[index]
    assert prices.lookup("claude-opus-4-20250514")[0] == "claude-opus-4"  # type: ignore[index]
    assert prices.lookup("claude-opus-4-9") is None  # a minor version the table does not know stays unpriced
    assert prices.lookup(None) is None
    cost = prices.models["claude-opus-5-5"].cost(Tokens(input=1_000_000, output=100_000, cache_read=1_000_000))
    assert cost == pytest.approx(4 + 2 + 0.2)


def test_a_table_far_from_the_recorded_costs_is_flagged() -> None:
    day = NOW - timedelta(days=1)
    tasks = [task(1, TaskStatus.SUCCEEDED, [attempt(1, "simple", S, at=day, cost=0.030)], at=day)]
    estimate = estimate_saving(tasks, modes=ModesConfig(), prices=default_prices())
    assert estimate.price_check.deviation == pytest.approx(-0.5)
    assert estimate.price_check.doubtful


def test_top_mode_follows_the_escalation_chain_and_survives_a_cycle() -> None:
    assert top_mode(ModesConfig()) == "expert"
    cycle = ModesConfig.model_validate(
        {
            "modes": {
                "simple": {"model": "haiku", "escalate_to": "complex"},
                "complex": {"model": "sonnet", "escalate_to": "simple"},
            }
        }
    )
    assert top_mode(cycle) == "complex"


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]
    assert percentile(values, 95) == 19
    assert percentile(values, 50) == 10
    assert percentile([7.0], 95) == 7
    assert percentile([], 50) is None


def test_since_forms_and_a_clear_error() -> None:
    assert parse_since("7d", NOW) == NOW - timedelta(days=7)
    assert parse_since("2w", NOW) == NOW - timedelta(days=14)
    assert parse_since("36h", NOW) == NOW - timedelta(hours=36)
    assert parse_since("all", NOW) is None
    assert parse_since("2026-02-01", NOW).isoformat() == "2026-02-01T00:00:00+00:00"  # type: ignore[union-attr]
    for bad in ("7x", "+4h", "yesterday", ""):
        with pytest.raises(ValueError, match="is not a window: use a span like 7d"):
            parse_since(bad, NOW)


def test_lease_expired_attempts_count_as_decisive_failures() -> None:
    day = NOW - timedelta(days=1)
    tasks = [
        task(
            1,
            TaskStatus.SUCCEEDED,
            [attempt(1, "simple", AttemptOutcome.LEASE_EXPIRED, at=day), attempt(2, "simple", S, at=day)],
            at=day,
        ),
        task(2, TaskStatus.FAILED, [attempt(1, "simple", F, at=day)], at=day),
    ]
    simple = compute_metrics(tasks, modes=ModesConfig(), prices=default_prices(), since=WEEK, now=NOW).modes["simple"]
    assert (simple.attempts, simple.succeeded, simple.decisive) == (3, 1, 3)
