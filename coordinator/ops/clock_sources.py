"""Other clocks to compare this machine's with: an HTTP server's ``Date`` header (the state remote's server, the
GitHub API). One cheap request, no credentials sent."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime

import requests

_TIMEOUT = 10.0


def http_date_skew(url: str, now: Callable[[], datetime]) -> float | None:
    """Seconds the clock of the server at ``url`` is ahead of ``now()`` (negative: behind), from the ``Date`` header
    of a ``HEAD`` request; None when the server cannot be reached or sends no usable date."""
    try:
        answer = requests.head(url, timeout=_TIMEOUT, allow_redirects=False)
    except requests.RequestException:
        return None
    return date_skew(answer.headers, now())


def date_skew(headers: Mapping[str, str], at: datetime) -> float | None:
    """Seconds the ``Date`` of ``headers`` is ahead of ``at`` (HTTP dates have whole seconds), or None."""
    value = headers.get("Date") or headers.get("date")
    if not value:
        return None
    try:
        stamp = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if stamp.tzinfo is None:
        return None
    return (stamp - at).total_seconds()
