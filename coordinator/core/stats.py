"""Small statistics for reports: percentiles and rates, defined so that a person can recompute them by hand."""

from __future__ import annotations

from collections.abc import Sequence


def percentile(values: Sequence[float], percent: int) -> float | None:
    """The nearest-rank percentile (``percent`` 95 = p95): the smallest value that at least ``percent`` % of the
    values are at or below; None without values. Always one of the values, never an interpolation, so a person
    can check it: sort the values and take the one at rank ceil(percent x n / 100)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-percent * len(ordered) // 100))  # integer ceiling: no float rounding at exact ranks
    return ordered[min(rank, len(ordered)) - 1]


def rate(part: int, whole: int) -> float | None:
    """``part / whole``, or None when there is nothing to divide (a rate of nothing is unknown, not 0)."""
    return part / whole if whole else None
