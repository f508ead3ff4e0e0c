"""The runner's side of the daily budget: say once that it stops claims, and look again when the UTC day turns.

The claim itself refuses (pure core, :mod:`coordinator.core.spend`); the runner keeps polling, heartbeating and
delivering meanwhile. Nothing on the branch has to move at midnight for it to claim again: :meth:`BudgetWatch.due`
tells the loop to try a claim once the next UTC day has begun.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from coordinator.core.spend import next_utc_day
from coordinator.core.transitions import Change


class BudgetWatch:
    """Remembers whether the last claim was refused for the budget, and until when."""

    def __init__(self, echo: Callable[[str], None]) -> None:
        self._echo = echo
        self.refused: str | None = None
        self._until: datetime | None = None

    def saw(self, change: Change, now: datetime) -> None:
        """Take note of a claim's outcome; logs when the budget starts or stops holding claims back."""
        if change.refused is not None:
            if self.refused is None:
                self._echo(f"not claiming: {change.refused}")
            self.refused, self._until = change.refused, next_utc_day(now)
        elif self.refused is not None:
            self._echo("the daily budget allows claims again: claiming")
            self.refused = self._until = None

    def due(self, now: datetime) -> bool:
        """True (once) when claims were held back for the budget and a new UTC day has begun since."""
        if self._until is None or now < self._until:
            return False
        self._until = None
        return True
