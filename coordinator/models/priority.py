"""How urgent a task is."""

from __future__ import annotations

from enum import StrEnum


class Priority(StrEnum):
    """How urgent a task is; maps to a scheduling weight."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


PRIORITY_WEIGHT: dict[Priority, int] = {
    Priority.CRITICAL: 100,
    Priority.HIGH: 75,
    Priority.MEDIUM: 50,
    Priority.LOW: 25,
}
