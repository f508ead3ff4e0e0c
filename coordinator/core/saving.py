"""The saving from escalation, measured: what the tasks cost against what they would have cost had every one of
them run directly in the top mode (the end of the default mode's escalation chain).

Nobody ran that counterfactual, so it is estimated per task from what was recorded, and every figure says how:

- a task that reached the top mode counts the recorded cost of its top-mode attempts (*measured*): running it
  there from the start would have made those attempts and not the cheaper ones before them;
- any other task counts tokens it recorded priced at the top mode's model (*repriced*): those of the attempt that
  succeeded (assumed to succeed at the first try in the top mode, with the same tokens), or of every attempt when
  none succeeded (the same tries, in the top mode);
- a task whose spend cannot be repriced (cost recorded without tokens, e.g. by a command agent) counts its actual
  cost on both sides (*unpriced*): it neither adds nor removes saving.

When the history cannot support a figure (too few tasks, too much unpriced spend, no price for the top model),
the estimate is None with the reason, never a number.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from coordinator.core.history import finished_attempts
from coordinator.core.prices import ModelPrice, PriceTable
from coordinator.models import Attempt, AttemptOutcome, Task, TaskStatus, Tokens
from coordinator.modes import ModesConfig

#: Fewer ended tasks with recorded spend than this make a saving figure noise: say "not enough data" instead.
MIN_TASKS_FOR_SAVING = 5
#: When more of the spend than this cannot be repriced, the figure would mostly be the actual cost compared with
#: itself: say "not enough data" instead.
MAX_UNPRICED_SHARE = 0.25
#: The price table is reported as doubtful when it prices the recorded tokens this far from their recorded cost.
PRICE_CHECK_TOLERANCE = 0.10

How = Literal["measured", "repriced", "unpriced", "no spend"]


@dataclass(frozen=True)
class TaskEstimate:
    """One task's actual cost and its cost had it run in the top mode, and how the latter was estimated."""

    task_id: str
    actual_usd: float
    counterfactual_usd: float
    how: How


@dataclass(frozen=True)
class PriceCheck:
    """The price table against the recorded costs of attempts that recorded tokens, cost and a known model."""

    attempts: int
    recorded_usd: float
    table_usd: float

    @property
    def deviation(self) -> float | None:
        """How far the table is from what was recorded (0.05 = 5 % more), or None without recorded cost."""
        return self.table_usd / self.recorded_usd - 1 if self.recorded_usd > 0 else None

    @property
    def doubtful(self) -> bool:
        """True when the table prices the recorded tokens noticeably differently from their recorded cost."""
        deviation = self.deviation
        return deviation is not None and abs(deviation) > PRICE_CHECK_TOLERANCE


@dataclass(frozen=True)
class SavingEstimate:
    """Actual spend against the every-task-in-the-top-mode counterfactual, with the evidence behind it."""

    top_mode: str
    top_model: str | None  # the table's name of the model the counterfactual is priced at
    top_price: ModelPrice | None
    top_model_from: str  # where that model comes from (recorded attempts, or the mode's configuration)
    cost_usd: float
    counterfactual_usd: float | None  # None: not enough data (``reason`` says why)
    reason: str | None
    estimates: tuple[TaskEstimate, ...]
    price_check: PriceCheck
    prices: PriceTable

    @property
    def saving(self) -> float | None:
        """``1 - cost / counterfactual``: the share of the top-mode cost that escalation saved (negative: it cost
        more); None when there is not enough data."""
        if self.counterfactual_usd is None or self.counterfactual_usd <= 0:
            return None
        return 1 - self.cost_usd / self.counterfactual_usd

    def count(self, how: How) -> int:
        """How many tasks were estimated this way."""
        return sum(1 for e in self.estimates if e.how == how)

    def actual_of(self, how: How) -> float:
        """The actual spend of the tasks estimated this way."""
        return sum(e.actual_usd for e in self.estimates if e.how == how)


def top_mode(modes: ModesConfig) -> str:
    """The end of the default mode's escalation chain: where a task ends up when every cheaper mode fails."""
    current, seen = modes.default_mode, {modes.default_mode}
    while (following := modes.modes[current].escalate_to) is not None and following not in seen:
        current = following
        seen.add(following)
    return current


def estimate_saving(
    tasks: Sequence[Task], *, modes: ModesConfig, prices: PriceTable, top: str | None = None
) -> SavingEstimate:
    """The saving from escalation over these (ended) tasks; ``top`` names the top mode (default: the end of the
    default mode's escalation chain)."""
    top = top or top_mode(modes)
    top_model, top_price, model_from = _top_model(tasks, top, modes, prices)
    attempts = [a for t in tasks for a in finished_attempts(t)]
    cost = sum(a.cost_usd or 0.0 for a in attempts)
    check = _price_check(attempts, prices)
    if top_price is None:
        estimates: tuple[TaskEstimate, ...] = ()
    else:
        estimates = tuple(_estimate(t, top, top_price) for t in tasks)
    counterfactual = sum(e.counterfactual_usd for e in estimates)
    reason = _not_enough(estimates, cost, counterfactual, top_price is not None, top_model, model_from, prices)
    return SavingEstimate(
        top_mode=top,
        top_model=top_model,
        top_price=top_price,
        top_model_from=model_from,
        cost_usd=cost,
        counterfactual_usd=None if reason else counterfactual,
        reason=reason,
        estimates=estimates,
        price_check=check,
        prices=prices,
    )


def _estimate(task: Task, top: str, price: ModelPrice) -> TaskEstimate:
    attempts = finished_attempts(task)
    actual = sum(a.cost_usd or 0.0 for a in attempts)
    in_top = [a for a in attempts if a.mode == top]
    if in_top:
        return TaskEstimate(task.id, actual, sum(a.cost_usd or 0.0 for a in in_top), "measured")
    succeeded = [a for a in attempts if a.outcome == AttemptOutcome.SUCCEEDED]
    tried = succeeded[-1:] if task.status == TaskStatus.SUCCEEDED and succeeded else attempts
    total = 0.0
    for attempt in tried:
        repriced = _repriced(attempt, price)
        if repriced is None:
            return TaskEstimate(task.id, actual, actual, "unpriced")
        total += repriced
    if actual == 0 and total == 0:
        return TaskEstimate(task.id, 0.0, 0.0, "no spend")
    return TaskEstimate(task.id, actual, total, "repriced")


def _repriced(attempt: Attempt, price: ModelPrice) -> float | None:
    """The attempt's tokens at the top model's price; 0 when it recorded no spend at all; None when it recorded a
    cost but no tokens (nothing to reprice)."""
    if attempt.tokens is not None and _total(attempt.tokens) > 0:
        return price.cost(attempt.tokens)
    return None if attempt.cost_usd else 0.0


def _total(tokens: Tokens) -> int:
    return tokens.input + tokens.output + tokens.cache_read + tokens.cache_creation


def _top_model(
    tasks: Iterable[Task], top: str, modes: ModesConfig, prices: PriceTable
) -> tuple[str | None, ModelPrice | None, str]:
    """The model the top mode ran (the one its recorded attempts name most, when priced), else the one it is
    configured with; its table name, its price, and a phrase saying where it came from."""
    seen = Counter(
        a.model for t in tasks for a in finished_attempts(t) if a.mode == top and a.model and prices.lookup(a.model)
    )
    if seen:
        model, count = seen.most_common(1)[0]
        found = prices.lookup(model)
        assert found is not None  # only priced models were counted
        return found[0], found[1], f"as recorded by {plural(count, 'attempt')} in mode {top}"
    configured = modes.modes[top].model if top in modes.modes else None
    found = prices.lookup(configured)
    if found is None:
        return configured, None, f"mode {top}'s model {configured!r}"
    return found[0], found[1], f"as mode {top} is configured: model {configured!r}"


def _price_check(attempts: Iterable[Attempt], prices: PriceTable) -> PriceCheck:
    count, recorded, table = 0, 0.0, 0.0
    for attempt in attempts:
        found = prices.lookup(attempt.model)
        if found is None or not attempt.cost_usd or attempt.tokens is None or _total(attempt.tokens) == 0:
            continue
        count += 1
        recorded += attempt.cost_usd
        table += found[1].cost(attempt.tokens)
    return PriceCheck(attempts=count, recorded_usd=recorded, table_usd=table)


def _not_enough(
    estimates: Sequence[TaskEstimate],
    cost: float,
    counterfactual: float,
    top_priced: bool,
    top_model: str | None,
    model_from: str,
    prices: PriceTable,
) -> str | None:
    """Why the history cannot support a saving figure, or None when it can."""
    if not top_priced:
        return (
            f"no price for {model_from} in the price table of {prices.as_of}: "
            "pass --prices FILE.json with its prices per million tokens"
        )
    with_spend = [e for e in estimates if e.how != "no spend"]
    if len(with_spend) < MIN_TASKS_FOR_SAVING:
        return (
            f"{plural(len(with_spend), 'ended task')} with recorded spend, at least {MIN_TASKS_FOR_SAVING} are needed"
        )
    unpriced = sum(e.actual_usd for e in estimates if e.how == "unpriced")
    if cost > 0 and unpriced / cost > MAX_UNPRICED_SHARE:
        return (
            f"{unpriced / cost:.0%} of the spend was recorded without tokens to price at {top_model} "
            f"(at most {MAX_UNPRICED_SHARE:.0%} may be)"
        )
    if counterfactual <= 0:
        return "no spend recorded"
    return None


def describe_method(estimate: SavingEstimate) -> list[str]:
    """How the counterfactual was estimated, in sentences, with the figures of each part (printed with it)."""
    top, model = estimate.top_mode, estimate.top_model or "?"
    price = estimate.top_price
    shown = (
        f"{_usd(price.input)}/{_usd(price.output)} per million input/output tokens, "
        f"{_usd(price.cache_write)} cache write, {_usd(price.cache_read)} cache read"
        if price is not None
        else "no price"
    )
    lines = [
        f"actual: the recorded cost of every attempt of these tasks, failed and escalated ones included "
        f"(${estimate.cost_usd:.2f})",
        f"counterfactual: every task run directly in the top mode {top}, priced at {model} "
        f"({estimate.top_model_from}; {shown})",
    ]
    if estimate.estimates:
        lines += [
            f"  measured: {plural(estimate.count('measured'), 'task')} that reached {top} count the recorded cost "
            f"of their {top} attempts (actual ${estimate.actual_of('measured'):.2f})",
            f"  repriced: {plural(estimate.count('repriced'), 'task')} count the tokens of the attempt that succeeded "
            f"(or of every attempt, when none did) at {model}'s prices (actual ${estimate.actual_of('repriced'):.2f})",
            f"  unpriced: {plural(estimate.count('unpriced'), 'task')} recorded a cost without tokens and count it on "
            f"both sides (${estimate.actual_of('unpriced'):.2f})",
            f"assumes: a task a cheaper mode solved would have succeeded at its first try in {top}, with the same "
            "tokens (a stronger model may need fewer or more)",
        ]
    lines.append(f"prices: {estimate.prices.as_of}, {estimate.prices.source}")
    lines.append(_check_line(estimate.price_check))
    return lines


def _check_line(check: PriceCheck) -> str:
    deviation = check.deviation
    if deviation is None:
        return "price check: no attempt recorded tokens, cost and a model the table knows"
    verdict = (
        "the table may be out of date: pass --prices FILE.json" if check.doubtful else "the table agrees with them"
    )
    return (
        f"price check: the table prices the tokens of {plural(check.attempts, 'recorded attempt')} at "
        f"${check.table_usd:.2f}, "
        f"they recorded ${check.recorded_usd:.2f} ({deviation:+.0%}): {verdict}"
    )


def plural(count: int, noun: str) -> str:
    """``1 task``, ``2 tasks``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _usd(per_mtok: float) -> str:
    """A price per million tokens: ``$4.00``, ``$0.20``, and ``$0.125`` kept exact."""
    return f"${per_mtok:.2f}" if round(per_mtok, 2) == per_mtok else f"${per_mtok:g}"
