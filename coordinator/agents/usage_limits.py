"""Usage limits of a Claude subscription: recognising them and reading when they reset.

The CLI reports a subscription limit as text (``You've hit your 5-hour limit · resets 2:30am (UTC)``; older
versions ``Claude AI usage limit reached|<epoch>``) and, in stream-json, as a rejected ``rate_limit_event``
with ``resetsAt``. The machine must cool down until then: it is not the task's fault.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

USAGE_LIMIT_TEXT = re.compile(
    r"you.?ve hit your\b.*\blimit|usage limit reached|claude ai usage limit", re.IGNORECASE | re.DOTALL
)
_EPOCH_IN_TEXT = re.compile(r"\|\s*(\d{9,13})\b")  # older CLIs: "Claude AI usage limit reached|1750000000"
_RESETS_TEXT = re.compile(
    r"resets\s+(?:at\s+)?"
    r"(?:(?P<month>[A-Za-z]{3,9})\.?\s+(?P<day>\d{1,2}),?\s+(?:(?P<year>\d{4}),?\s+)?(?:at\s+)?)?"
    r"(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?\s*(?P<ampm>[ap]\.?m\.?)?"
    r"(?:\s*\((?P<tz>[^)]+)\))?",
    re.IGNORECASE,
)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1
    )
}


def _epoch(value: object) -> datetime | None:
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        return None
    seconds = value / 1000 if value > 1e11 else value  # tolerate milliseconds
    return datetime.fromtimestamp(seconds, UTC)


def rejected_reset(events: Iterable[Mapping[str, Any]]) -> tuple[bool, datetime | None]:
    """Usage-limit evidence in the events: a rejected ``rate_limit_event`` or ``api_error: usage_limit_reached``."""
    limited = False
    reset: datetime | None = None
    for event in events:
        infos: list[object] = []
        if event.get("type") == "rate_limit_event":
            infos.append(event.get("rate_limit_info"))
        if event.get("api_error") == "usage_limit_reached":
            limited = True
            params = event.get("api_error_params")
            if isinstance(params, Mapping):
                infos.append(params.get("rate_limit_info"))
        for info in infos:
            if isinstance(info, Mapping) and info.get("status") == "rejected":
                limited = True
                reset = _epoch(info.get("resetsAt")) or reset
    return limited, reset


def _zone(name: str | None, now: datetime) -> tzinfo:
    # The CLI runs on this machine and prints its local time, so our local zone is the best guess whenever the
    # name is missing or unknown here (Windows without the tzdata package knows no IANA names).
    local = now.astimezone().tzinfo or UTC
    if not name:
        return local
    if name.strip().upper() in {"UTC", "GMT", "Z"}:
        return UTC
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        return local


def parse_reset_text(text: str, now: datetime) -> datetime | None:
    """The reset time in a usage-limit message, as an aware UTC datetime, or ``None``.

    Understands ``…|<epoch>`` (older CLIs) and ``resets 2:30am (UTC)``, ``resets 4am (Europe/Berlin)``,
    ``resets Nov 25, 2:10am (UTC)``. A time without a date is the next such time after ``now``. The CLI shows
    minutes only, so a minute is added: resuming early would just hit the limit again.
    """
    epoch_match = _EPOCH_IN_TEXT.search(text)
    if epoch_match:
        return _epoch(int(epoch_match.group(1)))
    match = _RESETS_TEXT.search(text)
    if not match:
        return None
    hour = int(match.group("hour"))
    minute = int(match.group("minute") or 0)
    ampm = (match.group("ampm") or "").lower().replace(".", "")
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    if hour > 23 or minute > 59:
        return None
    zone = _zone(match.group("tz"), now)
    local_now = now.astimezone(zone)
    slack = timedelta(minutes=1)  # "resets 3:10am" seen at 3:10:30 still means this minute, not tomorrow
    try:
        if match.group("month"):
            month = _MONTHS.get(match.group("month")[:3].lower())
            if month is None:
                return None
            year = int(match.group("year") or local_now.year)
            when = datetime(year, month, int(match.group("day")), hour, minute, tzinfo=zone)
            if not match.group("year") and when < local_now - timedelta(days=1):
                when = when.replace(year=year + 1)  # "resets Jan 2" seen on Dec 30
        else:
            when = local_now.replace(hour=hour, minute=minute, second=0, microsecond=0)
            if when < local_now - slack:
                when += timedelta(days=1)
    except ValueError:
        return None
    return (when + slack).astimezone(UTC)
