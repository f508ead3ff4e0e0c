"""Time helpers. The core never reads the clock: callers pass ``now``."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (only the edges of the program call this)."""
    return datetime.now(UTC)


def parse_when(text: str, *, now: datetime) -> datetime:
    """Parse an ISO 8601 instant, or a relative ``+2h`` / ``+30m`` / ``+1d``; naive times are taken as UTC.

    Raises ``ValueError`` with a message naming the accepted forms.
    """
    text = text.strip()
    if text.startswith("+") and len(text) > 2 and text[-1] in "smhd" and text[1:-1].isdigit():
        from datetime import timedelta

        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[text[-1]]
        return now + timedelta(**{unit: int(text[1:-1])})
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"'{text}' is not a date: use ISO 8601 like 2026-12-01T17:00:00Z, or a relative +4h / +30m / +2d"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_duration(seconds: float) -> str:
    """A short human duration: ``42s``, ``3m05s``, ``2h10m``."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    return f"{seconds // 86400}d{(seconds % 86400) // 3600:02d}h"
