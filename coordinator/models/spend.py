"""Spend and budgets: the daily cap in ``config.json`` and one small spend record per UTC day.

``spend/<YYYY-MM-DD>.json`` adds up the cost every attempt recorded that day (partial costs of attempts cut
short included). It is written in the same commit as each result that carries a cost, so a claim checks the cap
by reading one small file instead of every task's attempts.
"""

from __future__ import annotations

from pydantic import Field

from coordinator.models.base import StateModel, UtcDateTime

#: The largest daily cap accepted: a typo of a few extra zeros is refused, not obeyed.
MAX_DAILY_USD = 1_000_000.0


class Budget(StateModel):
    """``budget`` in ``config.json``: what the runners sharing this branch may spend."""

    max_daily_usd: float | None = Field(
        default=None,
        ge=0,
        le=MAX_DAILY_USD,
        description="Daily cap in US dollars, per UTC day, over every runner; None: no cap. Once the day's "
        "recorded spend reaches it, runners claim no task until the next UTC day (running tasks finish).",
    )


class DailySpend(StateModel):
    """``spend/<day>.json``: what the attempts recorded on one UTC day cost."""

    day: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="The UTC day, YYYY-MM-DD.")
    cost_usd: float = Field(default=0.0, ge=0, description="Total recorded cost in US dollars.")
    attempts: int = Field(default=0, ge=0, description="Attempts whose cost was recorded.")
    partial_attempts: int = Field(default=0, ge=0, description="Of those, attempts cut short (cost_partial).")
    partial_cost_usd: float = Field(default=0.0, ge=0, description="What the attempts cut short cost.")
    updated_at: UtcDateTime | None = None
