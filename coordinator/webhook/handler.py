"""One delivery through the ingest: parsed as ``coordinator ingest`` parses an event file, then handled by the
same :class:`~coordinator.github.ingest.Ingest`. The outcome written to the log names what was done and to which
task, never the issue's text."""

from __future__ import annotations

import re
from collections.abc import Callable

from coordinator.errors import ContentionError, RemoteError
from coordinator.github.api import GitHubError
from coordinator.github.events import Unsupported, parse
from coordinator.github.ingest import Ingest, Outcome
from coordinator.github.settings import repository_parts
from coordinator.webhook.delivery import Delivery

#: Tries of a delivery whose ingest failed for a reason that may pass (GitHub 5xx or rate limit, git remote
#: unreachable, the state branch too busy), and the waits between them. GitHub itself never redelivers.
TRIES = 3
_WAITS = (2.0, 8.0)
#: A longer wait GitHub asks for (a rate limit's reset) is not waited out: the delivery fails, to be redelivered.
_LONGEST_WAIT = 30.0
_SUMMARY_WORDS = 8


class IngestHandler:
    """Handles deliveries for ``repository`` (``owner/name``) with ``ingest``; deliveries of other repositories
    are ignored (one secret may be shared by several webhooks; this endpoint acts for one repository)."""

    def __init__(self, ingest: Ingest, *, repository: str, redact: Callable[[str], str]) -> None:
        self.ingest, self.repository, self._redact = ingest, repository, redact

    def screen(self, delivery: Delivery) -> str | None:
        """Why ``delivery`` is ignored (None: it is for the ingest), decided before it is answered; raises
        :class:`~coordinator.github.events.EventError` for a payload GitHub would not send for its event."""
        event = parse(delivery.event, delivery.payload, delivery=delivery.id)
        if isinstance(event, Unsupported):
            return event.why
        if event.repository.lower() != self.repository.lower():
            shown = event.repository if repository_parts(event.repository) else "another repository"
            return f"the delivery is for {shown}; this endpoint serves {self.repository}"
        return None

    def __call__(self, delivery: Delivery) -> str:
        """Process ``delivery``; returns the outcome for the log (raises what the ingest raises)."""
        event = parse(delivery.event, delivery.payload, delivery=delivery.id)
        if isinstance(event, Unsupported):  # screened out before; kept for a handler used without the screen
            return f"ignored ({event.why})"
        before = self.ingest.api.calls
        outcome = self.ingest.handle(event)
        return f"{summary(outcome, self._redact)} github_calls={self.ingest.api.calls - before}"


def summary(outcome: Outcome, redact: Callable[[str], str] = lambda text: text) -> str:
    """What the ingest did, without the text it quotes (an issue's title, a comment's words, which always follow a
    ``:``): ``submit issue-7``, ``cancel issue-7 by alice on GitHub``, ``issue-7 unchanged``, ``ignored``."""
    head = re.split(r"[:;(]", outcome.message, maxsplit=1)[0]
    shown = " ".join(head.split()[:_SUMMARY_WORDS]) or "done"
    if outcome.task_id and outcome.task_id not in shown and shown != "ignored":
        shown += f" {outcome.task_id}"
    return redact(shown)


def retry_delay(error: Exception, tries: int) -> float | None:
    """How long to wait before trying a failed delivery again (None: give up and log the error)."""
    if tries >= TRIES:
        return None
    if isinstance(error, GitHubError):
        if not error.transient:
            return None
        if error.retry_after is not None:
            return error.retry_after if error.retry_after <= _LONGEST_WAIT else None
    elif not isinstance(error, RemoteError | ContentionError):
        return None
    return _WAITS[min(tries, len(_WAITS)) - 1]
