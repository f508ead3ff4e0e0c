"""The HTTP side of ``coordinator webhook serve``: the WSGI application under waitress until SIGTERM or Ctrl-C,
then a graceful stop of the HTTP side (no new connections, the requests already received answered).

waitress is a production WSGI server in pure Python, so the same code serves on Windows, macOS and Linux. It
refuses a body over ``max_request_body_size`` by its ``Content-Length`` before reading it (and stops reading a
chunked one at the limit), so an oversized request never costs more than the limit in memory.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from waitress import wasyncore

from coordinator.errors import ConfigError
from coordinator.webhook import DEFAULT_HOST, DEFAULT_PORT

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "StopServing", "WebhookServer", "forward_waitress_logs", "stop_signals"]

if TYPE_CHECKING:
    from coordinator.webhook.app import WebhookApp

#: Threads answering requests: answering only checks and queues, so a few serve hundreds of deliveries a second.
DEFAULT_THREADS = 4
#: How long a stop waits for the answers of requests already received before closing their connections.
ANSWER_GRACE_SECONDS = 5.0
_POLL_SECONDS = 0.05

#: The signals that stop the server: SIGTERM (service managers), Ctrl-C, and Ctrl-Break on Windows.
_STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGBREAK") if hasattr(signal, name))


class StopServing(wasyncore.ExitNow):
    """Raised in the main thread by the stop signal's handler to leave waitress's loop. An ``ExitNow``: waitress's
    loop lets it through from wherever it is raised (any other exception raised inside a connection's handler
    is taken for that connection's error, and the stop would be lost)."""


class WebhookServer:
    """``app`` listening on ``host``:``port`` (bound at construction: a port in use is a :class:`ConfigError`)."""

    def __init__(self, app: WebhookApp, *, host: str, port: int, threads: int = DEFAULT_THREADS) -> None:
        from waitress.server import create_server

        self._map: dict[int, Any] = {}
        try:
            self._server: Any = create_server(
                app,
                map=self._map,
                host=host,
                port=port,
                threads=threads,
                # waitress refuses a Content-Length >= this with 413 before reading the body; + 1 lets a body of
                # exactly the app's limit through.
                max_request_body_size=app.max_body_bytes + 1,
                ident="coordinator",
                expose_tracebacks=False,
            )
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc} (choose another --port, or stop what uses it)"
            ) from None
        except ValueError as exc:  # waitress: a host it cannot resolve
            raise ConfigError(
                f"cannot listen on {host}:{port}: {exc} (give --host an address, e.g. 127.0.0.1)"
            ) from None

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` as bound (the real port when 0 was asked for)."""
        host = str(self._server.effective_host)
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self._server.effective_port}"

    def serve_until_stopped(self) -> None:
        """Serve in this thread until :class:`StopServing` is raised in it (by :func:`stop_signals`)."""
        try:
            self._server.run()
        except StopServing:
            return

    def close(self, grace: float = ANSWER_GRACE_SECONDS) -> None:
        """Stop taking connections, give the requests already received up to ``grace`` seconds to be answered and
        their answers sent, then close every connection and end waitress's threads."""
        self._server.accepting = False  # the listening socket is no longer polled: nothing new is accepted
        deadline = time.monotonic() + grace
        while self._answering() and time.monotonic() < deadline:
            wasyncore.loop(timeout=_POLL_SECONDS, map=self._map, count=1)
        self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)
        wasyncore.close_all(self._map)

    def _answering(self) -> bool:
        """Whether a connection has a request being answered or an answer not yet sent."""
        return any(getattr(c, "requests", None) or getattr(c, "total_outbufs_len", 0) for c in list(self._map.values()))


@contextmanager
def stop_signals(on_stop: Callable[[int], None]) -> Iterator[Callable[[], None]]:
    """While inside: SIGTERM, Ctrl-C (and Ctrl-Break) call ``on_stop(count)`` and, the first time while serving,
    raise :class:`StopServing` in the main thread. Yields ``done_serving()``: call it once the server left its
    loop, so a later signal (while the queued deliveries finish) only calls ``on_stop``. Outside the main thread
    (tests calling the service directly) no handler is installed."""
    state = {"count": 0, "serving": True}

    def handler(signum: int, frame: object) -> None:
        state["count"] += 1
        on_stop(state["count"])
        if state["serving"]:
            state["serving"] = False
            raise StopServing

    def done_serving() -> None:
        state["serving"] = False

    if threading.current_thread() is not threading.main_thread():
        yield done_serving
        return
    previous = {number: signal.signal(number, handler) for number in _STOP_SIGNALS}
    try:
        yield done_serving
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


class _ToLog(logging.Handler):
    def __init__(self, log: Callable[[str], None]) -> None:
        super().__init__(logging.WARNING)
        self._log = log

    def emit(self, record: logging.LogRecord) -> None:
        # The message only: a traceback would quote the code's locals, and the log has one line per event.
        message = " ".join(record.getMessage().split())
        self._log(f"waitress: {record.levelname.lower()}: {message}")


def forward_waitress_logs(log: Callable[[str], None]) -> None:
    """waitress's warnings and errors as lines of ``log`` (else Python prints them with tracebacks on stderr).
    Its "task queue depth" warnings are left out: a burst of deliveries waits there by design, milliseconds."""
    logger = logging.getLogger("waitress")
    logger.handlers = [_ToLog(log)]
    logger.propagate = False
    logger.setLevel(logging.WARNING)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
