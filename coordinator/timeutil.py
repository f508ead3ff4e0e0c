"""Time helpers. The core never reads the clock: callers pass ``now``."""

from __future__ import annotations

import re
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
        return _after(now, text)
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"'{text}' is not a date: use ISO 8601 like 2026-12-01T17:00:00Z, or a relative +4h / +30m / +2d"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-05:00 is past the last instant Python can hold in UTC
        raise ValueError(
            f"'{text}' is too far in the past or future: use a date between the years 1 and 9998"
        ) from None


_WINDOW = re.compile(r"^(\d{1,6})([mhdw])$")
_WINDOW_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str, now: datetime) -> datetime | None:
    """The start of a look back: ``7d``, ``24h``, ``90m``, ``2w`` before ``now``, a date or instant (ISO 8601), or
    ``all`` (None: the whole history). Raises ``ValueError`` naming the accepted forms."""
    from datetime import timedelta

    text = text.strip()
    if text.lower() == "all":
        return None
    span = _WINDOW.match(text.lower())
    if span:
        return now - timedelta(seconds=int(span.group(1)) * _WINDOW_SECONDS[span.group(2)])
    if not text.startswith("+"):  # parse_when reads "+4h" as ahead of now: a window never starts in the future
        try:
            return parse_when(text, now=now)
        except ValueError:
            pass
    raise ValueError(f"'{text}' is not a window: use a span like 7d, 24h, 2w, a date like 2026-11-01, or all")


#: The furthest a relative time may reach: far enough for any real deadline, near enough to stay a valid date.
_MAX_AHEAD_SECONDS = 100 * 366 * 86400
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _after(now: datetime, text: str) -> datetime:
    """``now`` plus a relative ``+<digits><s|m|h|d>``, or ``ValueError`` when that is absurdly far ahead."""
    from datetime import timedelta

    digits = text[1:-1]
    # Checked in whole seconds before building a timedelta (which overflows); int() refuses 4300+ digits.
    seconds = int(digits) * _UNIT_SECONDS[text[-1]] if len(digits) <= 20 else _MAX_AHEAD_SECONDS + 1
    if seconds > _MAX_AHEAD_SECONDS:
        shown = text if len(text) <= 24 else text[:20] + "…"
        raise ValueError(f"'{shown}' is too far in the future (at most 100 years ahead): use e.g. +4h, +2d or a date")
    return now + timedelta(seconds=seconds)


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
