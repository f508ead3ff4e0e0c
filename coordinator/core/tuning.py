"""Self-tuning, honestly: per-mode ``timeout_seconds`` and ``max_turns`` proposed from what successful attempts
needed, with the evidence, and nothing proposed where the history cannot support it.

Rule: the limit a mode's successful attempts needed at the 95th percentile, plus 25 % headroom. Only successful
attempts show what the work needed (a failed one stopped at the limit, or for another reason). So:

- fewer than ``min_samples`` successful attempts with a figure: no proposal, and the report says how many there are;
- a limit is not *lowered* while more than 10 % of the mode's attempts ended by hitting it: those attempts might
  have succeeded with more, and the successes cannot show what they needed;
- a change under 10 % of the current value is noise: the value is kept.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from coordinator.core.history import all_tasks, attempt_time, finished_attempts
from coordinator.core.metrics import DECISIVE_OUTCOMES, duration_of
from coordinator.core.saving import plural
from coordinator.core.state import State
from coordinator.core.stats import percentile
from coordinator.core.transitions import Change, set_modes
from coordinator.models import Attempt, AttemptOutcome, Task
from coordinator.modes import ModesConfig
from coordinator.timeutil import format_duration

#: A proposal is the 95th percentile of what successful attempts needed times this.
HEADROOM = 1.25
#: Successful attempts a mode needs in the window before its limits are tuned.
DEFAULT_MIN_SAMPLES = 20
#: A limit is not lowered when more of the mode's decisive attempts than this ended by hitting it.
MAX_HIT_SHARE_TO_LOWER = 0.10
#: A proposal closer than this to the current value is not worth a change.
MIN_RELATIVE_CHANGE = 0.10
#: The shortest timeout proposed: starting the CLI and a first turn take time whatever the task.
MIN_TIMEOUT_SECONDS = 60

Setting = Literal["timeout_seconds", "max_turns"]
#: What an attempt that hit each limit records as its ``outcome_detail``.
_LIMIT_HIT: dict[Setting, str] = {"timeout_seconds": "timeout", "max_turns": "max_turns"}


@dataclass(frozen=True)
class Evidence:
    """What one mode's attempts in the window show about one limit."""

    samples: int  # successful attempts that recorded the figure
    p50: float | None
    p95: float | None
    largest: float | None
    hits: int  # attempts that ended by hitting the limit
    decisive: int  # attempts that succeeded, failed or lost their lease


@dataclass(frozen=True)
class Proposal:
    """One setting of one mode: its value, the proposed one (None: keep), why, and the evidence."""

    mode: str
    setting: Setting
    current: int
    proposed: int | None
    why: str
    evidence: Evidence


@dataclass(frozen=True)
class TuningReport:
    """Every mode's proposals, and the window and sample size they were made with."""

    since: datetime | None
    min_samples: int
    proposals: tuple[Proposal, ...]

    @property
    def changes(self) -> tuple[Proposal, ...]:
        """The proposals that change a value."""
        return tuple(p for p in self.proposals if p.proposed is not None)


def propose_tuning(
    tasks: Sequence[Task],
    *,
    modes: ModesConfig,
    since: datetime | None,
    now: datetime,
    min_samples: int = DEFAULT_MIN_SAMPLES,
) -> TuningReport:
    """Proposals for every configured mode from the attempts that finished between ``since`` and ``now``."""
    by_mode: dict[str, list[Attempt]] = {name: [] for name in modes.modes}
    for task in tasks:
        for attempt in finished_attempts(task):
            when = attempt_time(attempt)
            if attempt.mode in by_mode and when is not None and (since is None or when >= since) and when <= now:
                by_mode[attempt.mode].append(attempt)
    proposals = []
    for name, mode in modes.modes.items():
        attempts = by_mode[name]
        proposals.append(_propose(name, "timeout_seconds", mode.timeout_seconds, attempts, min_samples))
        proposals.append(_propose(name, "max_turns", mode.max_turns, attempts, min_samples))
    return TuningReport(since=since, min_samples=min_samples, proposals=tuple(proposals))


def tuned_modes(modes: ModesConfig, report: TuningReport) -> ModesConfig:
    """The modes with the report's changes made (everything else as it was)."""
    changed = {name: mode.model_copy() for name, mode in modes.modes.items()}
    for proposal in report.changes:
        if proposal.mode in changed:
            changed[proposal.mode] = changed[proposal.mode].model_copy(update={proposal.setting: proposal.proposed})
    return modes.model_copy(update={"modes": changed})


def apply_tuning(
    state: State, *, since: datetime | None, now: datetime, min_samples: int = DEFAULT_MIN_SAMPLES, by: str
) -> Change:
    """The transition of ``coordinator tune --apply``: the proposals made from this state, committed through the
    modes' own transition (validated, audit-logged as ``set modes by <by> via tune: …``; empty when none)."""
    report = propose_tuning(all_tasks(state), modes=state.modes, since=since, now=now, min_samples=min_samples)
    return set_modes(state, modes=tuned_modes(state.modes, report), by=f"{by} via tune")


def _propose(mode: str, setting: Setting, current: int, attempts: Sequence[Attempt], min_samples: int) -> Proposal:
    evidence = _evidence(setting, attempts)

    def keep(why: str) -> Proposal:
        return Proposal(mode, setting, current, None, why, evidence)

    if evidence.p95 is None or evidence.samples < min_samples:
        return keep(f"{plural(evidence.samples, 'successful attempt')} recorded it, {min_samples} needed: no proposal")
    target = _rounded(setting, evidence.p95 * HEADROOM)
    formula = f"p95 {shown(setting, evidence.p95)} x {HEADROOM:g} = {shown(setting, target)}"
    if target < current and evidence.hits > MAX_HIT_SHARE_TO_LOWER * evidence.decisive:
        return keep(
            f"{formula}, but {evidence.hits} of {evidence.decisive} attempts hit the limit: the successes cannot "
            "show what those needed, so it is not lowered"
        )
    if abs(target - current) < MIN_RELATIVE_CHANGE * current:
        return keep(f"{formula}, within {MIN_RELATIVE_CHANGE:.0%} of the current value: kept")
    return Proposal(mode, setting, current, target, formula, evidence)


def _evidence(setting: Setting, attempts: Sequence[Attempt]) -> Evidence:
    values = [v for a in attempts if a.outcome == AttemptOutcome.SUCCEEDED if (v := _figure(setting, a)) is not None]
    return Evidence(
        samples=len(values),
        p50=percentile(values, 50),
        p95=percentile(values, 95),
        largest=max(values) if values else None,
        hits=sum(1 for a in attempts if a.outcome_detail == _LIMIT_HIT[setting]),
        decisive=sum(1 for a in attempts if a.outcome in DECISIVE_OUTCOMES),
    )


def _figure(setting: Setting, attempt: Attempt) -> float | None:
    if setting == "timeout_seconds":
        return duration_of(attempt)
    return float(attempt.turns) if attempt.turns is not None else None


def _rounded(setting: Setting, value: float) -> int:
    """A proposal as a setting holds it: timeouts up to the whole minute (at least one), turns up to a whole turn."""
    if setting == "timeout_seconds":
        return max(MIN_TIMEOUT_SECONDS, math.ceil(value / 60) * 60)
    return max(1, math.ceil(value))


def shown(setting: Setting, value: float | None) -> str:
    """A figure of a setting as people read it: ``5m36s`` for time, ``11`` for turns, ``-`` for none."""
    if value is None:
        return "-"
    if setting == "timeout_seconds":
        return format_duration(value)
    return f"{value:g}"
