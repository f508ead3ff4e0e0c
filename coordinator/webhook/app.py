"""The WSGI application of ``coordinator webhook serve``: every request is checked, answered at once, and a
verified delivery handed to the worker, which does the work after the answer.

In order: ``POST`` only (405); a ``Content-Length`` within the limit (411, 413: decided from the header, before a
byte of the body is read, and never more than the limit is read); ``X-Hub-Signature-256`` over the raw body
(401); a JSON object as body and an ``X-GitHub-Event`` (400); then ``ping`` is answered 200; a delivery the
screen finds malformed 400, one it ignores (an event coordinator does not act on, another repository) 200; a
delivery id seen lately 200 without doing anything; any other delivery 202 once queued (503 when the queue is
full or the server is stopping). One log line per request that is not queued; the worker writes the line of a
queued one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from coordinator.errors import UsageError
from coordinator.webhook.delivery import Delivery, delivery_id, event_name, log_line
from coordinator.webhook.signature import SECRET_VARIABLE, signature_matches
from coordinator.webhook.worker import Offer

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

#: The events coordinator acts on carry a few texts of at most 65,536 characters each (an issue's body, a
#: comment's): under 2 MB even with every character escaped. GitHub caps payloads at 25 MB; anything that big is
#: an event coordinator does not act on (a push of many commits), so it is refused before it is read.
DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024
_READ_CHUNK = 64 * 1024


class Queue(Protocol):
    """Where verified deliveries go (:class:`~coordinator.webhook.worker.DeliveryWorker`)."""

    def offer(self, delivery: Delivery) -> Offer:
        """Take ``delivery`` or say why not."""
        ...


#: Looks at a verified delivery before it is queued: returns why it is ignored (None: it is for the ingest), or
#: raises :class:`~coordinator.errors.UsageError` when its payload is not what GitHub sends for its event.
Screen = Callable[[Delivery], "str | None"]


def screen_nothing(delivery: Delivery) -> str | None:
    """The default screen: every delivery goes to the worker."""
    return None


@dataclass(frozen=True)
class _Answer:
    status: str
    message: str
    #: The log line's outcome; None when the worker logs the delivery after processing it.
    outcome: str | None
    headers: tuple[tuple[str, str], ...] = ()


class _Refused(Exception):
    def __init__(self, answer: _Answer) -> None:
        super().__init__(answer.message)
        self.answer = answer


def _refuse(status: str, message: str, *headers: tuple[str, str]) -> _Refused:
    return _Refused(_Answer(status, message, f"rejected: {status.split(maxsplit=1)[0]} {message}", headers))


class WebhookApp:
    """Checks and answers GitHub's webhook requests; ``secret`` is the HMAC key, ``queue`` takes the deliveries,
    ``screen`` looks at each one first (see :data:`Screen`), ``log`` gets one line per request (it must be
    thread-safe: requests are served by several threads)."""

    def __init__(
        self,
        secret: bytes,
        queue: Queue,
        *,
        log: Callable[[str], None],
        screen: Screen = screen_nothing,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secret, self._queue, self._log, self._screen = secret, queue, log, screen
        self.max_body_bytes, self._clock = max_body_bytes, clock

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        received = self._clock()
        answer, ids = self._answer(environ, received)
        if answer.outcome is not None:
            ms = (self._clock() - received) * 1000
            self._log(log_line(delivery=ids[0], event=ids[1], action=ids[2], outcome=answer.outcome, ms=ms))
        body = (answer.message + "\n").encode("utf-8")
        headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
        start_response(answer.status, [*headers, *answer.headers])
        return [body]

    def _answer(self, environ: WSGIEnvironment, received: float) -> tuple[_Answer, tuple[str | None, ...]]:
        """The answer, and (delivery id, event, action) as far as they are known, for the log line."""
        ids: tuple[str | None, ...] = (
            delivery_id(environ.get("HTTP_X_GITHUB_DELIVERY")),
            event_name(environ.get("HTTP_X_GITHUB_EVENT")),
            None,
        )
        try:
            delivery = self._verified(environ, received)
            ids = (delivery.id, delivery.event, delivery.action)
            if delivery.event == "ping":
                return _Answer("200 OK", "pong", "pong"), ids
            ignored = self._screened(delivery)
            if ignored is not None:
                return _Answer("200 OK", f"ignored: {ignored}", f"ignored ({ignored})"), ids
            return self._queued(delivery), ids
        except _Refused as refused:
            return refused.answer, ids
        except Exception as exc:  # a bug must cost one answer, not the server
            return _Answer("500 Internal Server Error", "internal error", f"error: {type(exc).__name__}"), ids

    def _screened(self, delivery: Delivery) -> str | None:
        try:
            return self._screen(delivery)
        except UsageError as exc:
            # The message names the field that is wrong, never its value (see coordinator.github.events).
            raise _refuse("400 Bad Request", f"not a {delivery.event} payload as GitHub sends it: {exc}") from None

    def _verified(self, environ: WSGIEnvironment, received: float) -> Delivery:
        if environ.get("REQUEST_METHOD") != "POST":
            raise _refuse("405 Method Not Allowed", "only POST: this is a GitHub webhook endpoint", ("Allow", "POST"))
        body = self._body(environ)
        if not signature_matches(self._secret, body, environ.get("HTTP_X_HUB_SIGNATURE_256")):
            if not environ.get("HTTP_X_HUB_SIGNATURE_256"):
                raise _refuse("401 Unauthorized", "no X-Hub-Signature-256: set a secret on the GitHub webhook")
            raise _refuse(
                "401 Unauthorized",
                f"signature does not match: the webhook's secret on GitHub must equal {SECRET_VARIABLE}",
            )
        event = event_name(environ.get("HTTP_X_GITHUB_EVENT"))
        if event is None:
            raise _refuse("400 Bad Request", "no X-GitHub-Event header of the usual shape (e.g. issues)")
        given_id = environ.get("HTTP_X_GITHUB_DELIVERY")
        if given_id and delivery_id(given_id) is None:
            raise _refuse("400 Bad Request", "X-GitHub-Delivery is not a delivery id")
        return Delivery(id=delivery_id(given_id), event=event, payload=_json_object(body), received=received)

    def _body(self, environ: WSGIEnvironment) -> bytes:
        """The raw body, read only after its declared length passed the limit, and never past that length."""
        text = str(environ.get("CONTENT_LENGTH") or "").strip()
        if not text.isdigit():
            raise _refuse("411 Length Required", "a Content-Length is required (GitHub always sends one)")
        length = int(text)
        if length > self.max_body_bytes:
            raise _refuse("413 Content Too Large", f"the body is over {self.max_body_bytes} bytes")
        stream: Any = environ["wsgi.input"]
        chunks: list[bytes] = []
        left = length
        while left > 0:
            chunk = stream.read(min(left, _READ_CHUNK))
            if not chunk:
                raise _refuse("400 Bad Request", "the body is shorter than its Content-Length")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _queued(self, delivery: Delivery) -> _Answer:
        offer = self._queue.offer(delivery)
        if offer is Offer.QUEUED:
            return _Answer("202 Accepted", "accepted", None)
        if offer is Offer.DUPLICATE:
            return _Answer("200 OK", "already received", "duplicate (already received)")
        why = "the queue is full" if offer is Offer.FULL else "the server is stopping"
        retry_later = (("Retry-After", "60"),)
        return _Answer("503 Service Unavailable", f"{why}: redeliver later", f"refused: {why}", retry_later)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        raise _refuse(
            "400 Bad Request", "the body is not JSON: set the webhook's content type to application/json"
        ) from None
    if not isinstance(payload, dict):
        raise _refuse("400 Bad Request", "the body is not a JSON object")
    return payload
