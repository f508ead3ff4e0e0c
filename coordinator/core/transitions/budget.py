"""Setting the daily cap (``budget`` in ``config.json``)."""

from __future__ import annotations

from coordinator.core.state import State
from coordinator.core.transitions.change import Change
from coordinator.models import Budget


def _shown(cap: float | None) -> str:
    return "none" if cap is None else f"${cap:.2f}"


def set_budget(state: State, *, budget: Budget, by: str = "unknown") -> Change:
    """Replace the budget settings; an unchanged budget commits nothing. The other settings stay as they are."""
    old = state.config.budget
    if old == budget:
        return Change(message="budget unchanged")
    return Change(
        message=f"set budget by {by}: max_daily_usd {_shown(old.max_daily_usd)} -> {_shown(budget.max_daily_usd)}",
        config=state.config.model_copy(update={"budget": budget}),
    )
