"""The text of ``coordinator metrics`` and ``coordinator tune``: headline figures, tables, and the method."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from coordinator.core.metrics import MetricsReport, Tally
from coordinator.core.saving import SavingEstimate, describe_method
from coordinator.core.tuning import Proposal, TuningReport, shown
from coordinator.models import TaskStatus, Tokens
from coordinator.text import table, terminal_safe


def metrics_text(report: MetricsReport, window: str, mode_order: Iterable[str]) -> str:
    """The whole report: headline, tables by mode, runner and day, and the saving with its method."""
    parts = [_headline(report, window)]
    if report.tasks:
        modes = _ordered(report.modes, mode_order)
        parts.append(_tally_table("MODE", modes))
        parts.append(_tally_table("RUNNER", report.runners))
        parts.append(_day_table(report.days))
    parts.append(_saving_text(report.saving))
    return "\n\n".join(parts)


def _headline(report: MetricsReport, window: str) -> str:
    since = f"since {_when(report.since)} ({window})" if report.since else "ever"
    ended = len(report.tasks)
    counts = ", ".join(
        f"{report.count(s)} {s.value}" for s in (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED)
    )
    lines = [f"tasks that ended {since}: {ended} ({counts})"]
    if report.open_tasks:
        lines.append(
            f"still open: {report.open_tasks} (spent {_usd(report.open_cost_usd)} so far; not counted until they end)"
        )
    decided = report.count(TaskStatus.SUCCEEDED) + report.count(TaskStatus.FAILED)
    lines.append(
        f"success rate: {_pct(report.success_rate)} ({report.count(TaskStatus.SUCCEEDED)} of the {decided} that "
        "succeeded or failed; cancelled ones are a person's decision)"
    )
    ran = report.with_attempts
    lines.append(
        f"escalation rate: {_pct(_share(report.escalated, ran))} ({report.escalated} of {ran} tasks ran in more than "
        f"one mode); retry rate: {_pct(_share(report.retried, ran))} ({report.retried} needed more than one counted "
        "attempt)"
    )
    lines.append(f"cost: {_usd(report.totals.cost_usd)}; tokens: {_tokens_long(report.totals.tokens)}")
    return "\n".join(lines)


def _tally_table(label: str, tallies: dict[str, Tally]) -> str:
    rows = [
        (
            name,
            str(t.attempts),
            f"{_pct(t.success_rate)} ({t.succeeded}/{t.decisive})",
            _seconds(t.p(50)),
            _seconds(t.p(95)),
            _usd(t.cost_usd),
            _tokens_short(t.tokens),
        )
        for name, t in tallies.items()
    ]
    return table((label, "ATTEMPTS", "SUCCEEDED", "P50", "P95", "COST", "TOKENS"), rows)


def _day_table(days: dict[str, Tally]) -> str:
    rows = [
        (
            day,
            str(t.attempts),
            _usd(t.cost_usd),
            _tokens_short(t.tokens),
            str(t.tasks_succeeded + t.tasks_failed),
            _pct(t.task_success_rate),
        )
        for day, t in days.items()
    ]
    return table(("DAY (UTC)", "ATTEMPTS", "COST", "TOKENS", "TASKS DECIDED", "SUCCESS"), rows)


def _saving_text(saving: SavingEstimate) -> str:
    if saving.counterfactual_usd is None:
        headline = f"saving from escalation: not enough data ({saving.reason})"
    else:
        saved = saving.counterfactual_usd - saving.cost_usd
        headline = (
            f"saving from escalation: {_pct(saving.saving)}: spent {_usd(saving.cost_usd)} where running every task "
            f"directly in {saving.top_mode} would have cost about {_usd(saving.counterfactual_usd)} "
            f"({_usd(saved)} {'saved' if saved >= 0 else 'more'})"
        )
        if saving.price_check.doubtful:  # the counterfactual is priced on another scale than the spend
            headline += "; doubtful: the price table is far from the recorded costs (see the price check)"
    method = "\n".join("  " + line for line in describe_method(saving))
    return terminal_safe(headline) + "\nhow:\n" + terminal_safe(method, keep_newlines=True)


def tuning_text(report: TuningReport, window: str) -> str:
    """The proposals as a table (the diff and the evidence) and one line per setting saying why."""
    since = f"since {_when(report.since)} ({window})" if report.since else "ever"
    header = (
        f"from the attempts that finished {since}; proposal = p95 of what successful attempts needed x 1.25, "
        f"with at least {report.min_samples} of them"
    )
    rows = [
        (
            p.mode,
            p.setting,
            shown(p.setting, p.current),
            shown(p.setting, p.proposed) if p.proposed is not None else "(kept)",
            str(p.evidence.samples),
            shown(p.setting, p.evidence.p50),
            shown(p.setting, p.evidence.p95),
            shown(p.setting, p.evidence.largest),
            f"{p.evidence.hits}/{p.evidence.decisive}",
        )
        for p in report.proposals
    ]
    headers = ("MODE", "SETTING", "NOW", "PROPOSED", "SUCCESSES", "P50", "P95", "MAX", "HIT LIMIT")
    reasons = "\n".join(_reason(p) for p in report.proposals)
    return "\n\n".join([header, table(headers, rows), terminal_safe(reasons, keep_newlines=True)])


def _reason(proposal: Proposal) -> str:
    name = f"{proposal.mode}.{proposal.setting}"
    if proposal.proposed is None:
        return f"{name} {proposal.current} kept: {proposal.why}"
    return f"{name} {proposal.current} -> {proposal.proposed}: {proposal.why}"


def _ordered(tallies: dict[str, Tally], order: Iterable[str]) -> dict[str, Tally]:
    known = [name for name in order if name in tallies]
    return {name: tallies[name] for name in [*known, *sorted(set(tallies) - set(known))]}


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _usd(value: float) -> str:
    return f"-${-value:,.2f}" if value < 0 else f"${value:,.2f}"


def _seconds(value: float | None) -> str:
    return shown("timeout_seconds", value)


def _tokens_short(tokens: Tokens) -> str:
    return _count(tokens.input + tokens.output + tokens.cache_read + tokens.cache_creation)


def _tokens_long(tokens: Tokens) -> str:
    return (
        f"{_count(tokens.input)} input, {_count(tokens.output)} output, {_count(tokens.cache_read)} cache read, "
        f"{_count(tokens.cache_creation)} cache write"
    )


def _count(value: int) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    return str(value)
