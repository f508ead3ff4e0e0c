"""One webhook delivery as the server keeps it, and the one log line written about it.

Only what identifies a delivery is ever logged: its id, the event, the action, the outcome and the time taken.
Never the payload's text (issue titles and bodies are written by anyone) and never a header that carries a
credential. The headers are not covered by the signature, so even on a signed request they are checked for
shape before they are used or shown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from coordinator.text import terminal_safe

#: GitHub's delivery ids are GUIDs; anything of this shape is accepted (a proxy or a test may use its own).
_DELIVERY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_EVENT_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_ACTION = re.compile(r"[a-z][a-z0-9_]{0,63}")
_MAX_OUTCOME_CHARS = 300


@dataclass(frozen=True)
class Delivery:
    """A verified delivery: ``id`` (``X-GitHub-Delivery``; None when the sender gave none), ``event``
    (``X-GitHub-Event``), the parsed JSON ``payload``, and ``received``: ``time.monotonic()`` at its arrival."""

    id: str | None
    event: str
    payload: Mapping[str, Any]
    received: float

    @property
    def action(self) -> str | None:
        """The payload's ``action`` (``labeled``, ``created``, ...) when it has one of the usual shape."""
        value = self.payload.get("action")
        return value if isinstance(value, str) and _ACTION.fullmatch(value) else None


def delivery_id(header: str | None) -> str | None:
    """``X-GitHub-Delivery`` when it has the shape of an id, else None."""
    return header if header is not None and _DELIVERY_ID.fullmatch(header) else None


def event_name(header: str | None) -> str | None:
    """``X-GitHub-Event`` when it has the shape of an event name (``issues``, ``issue_comment``), else None."""
    return header if header is not None and _EVENT_NAME.fullmatch(header) else None


def log_line(*, delivery: str | None, event: str | None, action: str | None, outcome: str, ms: float) -> str:
    """``delivery=ID event=NAME action=ACTION ms=N outcome=TEXT`` (``-`` for what is unknown); the outcome is
    last because it is the only part with spaces, and it is shown with control characters escaped."""
    text = terminal_safe(" ".join(outcome.split()))
    if len(text) > _MAX_OUTCOME_CHARS:
        text = text[: _MAX_OUTCOME_CHARS - 1] + "…"
    return f"delivery={delivery or '-'} event={event or '-'} action={action or '-'} ms={round(ms)} outcome={text}"
