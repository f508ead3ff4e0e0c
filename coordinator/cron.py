"""Cron expressions read in a time zone: validation, and the occurrences of one as UTC instants.

croniter parses and steps through the expression (no hand-written cron parser); zoneinfo supplies the time
zones. Both work the same on Linux, macOS and Windows (where the ``tzdata`` package provides the zone data).

Daylight saving time, the way cron daemons (Vixie cron, cronie) handle it:

- a local time the clock skips in spring (02:30 when 02:00 jumps to 03:00) happens once, right after the jump
  (croniter's own rule), so a daily job still runs that day;
- a local time the clock repeats in autumn (02:30 happens twice when 03:00 falls back to 02:00) happens once,
  the first time, unless the hour field starts with ``*`` (``0 * * * *``, ``*/15 * * * *``, ``0 */2 * * *``):
  those are about elapsed time, so they run in the repeated hour too.

An occurrence is identified by its UTC instant (its *slot*), so the two readings of a repeated local time are
different slots and a skipped local time never produces a slot twice.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, CroniterError, croniter

#: Aliases croniter expands; ``@reboot`` (there is no boot here) is not one of them.
_ALIASES = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})
_FIELDS = "minute hour day-of-month month day-of-week"
# An IANA zone name as the tz database spells them (Europe/Berlin, America/Argentina/Buenos_Aires, Etc/GMT+5).
_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+-]{0,30}(/[A-Za-z0-9_+-]{1,30}){0,2}")
#: How far back the latest occurrence is looked for, in steps; past that a schedule has no latest occurrence
#: (an expression that matches once in years, e.g. 29 February on a Monday, still finds one).
_MAX_STEPS_BACK = 16
_MINUTE = timedelta(minutes=1)


def check_cron(expression: str) -> str:
    """A cron expression of five fields (or an alias like ``@daily``), normalised; ``ValueError`` otherwise."""
    text = " ".join(expression.split())
    example = "e.g. '0 3 * * *' (every day at 03:00) or '*/15 * * * 1-5' (every 15 minutes on weekdays)"
    if not text:
        raise ValueError(f"the cron expression is empty: give five fields ({_FIELDS}), {example}")
    if text.startswith("@"):
        if text.lower() not in _ALIASES:
            raise ValueError(f"unknown cron alias {text!r}: use one of {', '.join(sorted(_ALIASES))}, or five fields")
        return text.lower()
    if len(text.split(" ")) != 5:
        raise ValueError(f"cron expression {text!r} has {len(text.split(' '))} fields, not five ({_FIELDS}): {example}")
    try:
        croniter(text, datetime(2000, 1, 1, tzinfo=UTC))
    except (CroniterError, ValueError, KeyError, IndexError) as exc:  # croniter's parser raises these for bad input
        reason = str(exc).replace(f"[{text}] ", "").replace("is not acceptable", "").strip(" ,") or "a bad field"
        raise ValueError(f"cron expression {text!r} is not valid ({reason}): {example}") from None
    if next_occurrence(text, ZoneInfo("UTC"), datetime(2000, 1, 1, tzinfo=UTC)) is None:
        raise ValueError(f"cron expression {text!r} never matches a date (e.g. 31 February): {example}")
    return text


def check_zone_name(name: str) -> str:
    """A time zone name that looks like the tz database's (``Europe/Berlin``); ``ValueError`` otherwise.

    Only the spelling is checked, so a file naming a zone this machine lacks is still readable.
    """
    if name != "UTC" and not _ZONE_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a time zone name: use an IANA name such as UTC, Europe/Berlin, Asia/Tokyo")
    return name


def zone(name: str) -> ZoneInfo:
    """The time zone ``name`` as this machine knows it; ``ValueError`` saying how to fix a missing one."""
    check_zone_name(name)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name such as UTC, Europe/Berlin or America/New_York "
            "(if it is one, this machine lacks the zone data: pip install tzdata)"
        ) from None


def _steps_by_wall_clock(expression: str) -> bool:
    """True when the hour field starts with ``*``: the job runs in a repeated hour too (see the module doc)."""
    fields = expression.split(" ")
    return expression.startswith("@hourly") or (len(fields) == 5 and fields[1].startswith("*"))


def _repeated(local: datetime) -> bool:
    """True for the second reading of a local time the clock shows twice (autumn's repeated hour)."""
    return local.fold == 1 and local.replace(fold=0).utcoffset() != local.utcoffset()


def _accepted(expression: str, local: datetime) -> bool:
    return not _repeated(local) or _steps_by_wall_clock(expression)


def latest_occurrence(expression: str, tz: ZoneInfo, now: datetime) -> datetime | None:
    """The latest occurrence at or before ``now``, in UTC (None when there is none within the search bound)."""
    # croniter steps back from its start exclusively: start at the next minute so an occurrence at this very
    # minute counts (cron has no finer resolution).
    start = now.astimezone(UTC).replace(second=0, microsecond=0) + _MINUTE
    steps = croniter(expression, start.astimezone(tz))
    for _ in range(_MAX_STEPS_BACK):
        try:
            local = steps.get_prev(datetime)
        except CroniterBadDateError:
            return None
        if _accepted(expression, local.astimezone(tz)):
            return local.astimezone(UTC)
    return None


def next_occurrence(expression: str, tz: ZoneInfo, after: datetime) -> datetime | None:
    """The first occurrence strictly after ``after``, in UTC (None when the expression never matches)."""
    steps = croniter(expression, after.astimezone(tz))
    for _ in range(_MAX_STEPS_BACK):
        try:
            local = steps.get_next(datetime)
        except CroniterBadDateError:
            return None
        if _accepted(expression, local.astimezone(tz)):
            return local.astimezone(UTC)
    return None


def slot_key(slot: datetime) -> str:
    """A slot as it appears in a task id: its UTC time, ``YYYYMMDDtHHMM`` (ids are lower case)."""
    return slot.astimezone(UTC).strftime("%Y%m%dt%H%M")
