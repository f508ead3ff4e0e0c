"""``coordinator webhook serve`` put together: the same ingest as ``coordinator ingest`` (built by
:func:`coordinator.github.wiring.ingest_for`), one worker thread feeding it, the WSGI application answering
GitHub, waitress serving it, and the graceful stop: no new deliveries, the queued ones finished within a bound.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from coordinator.errors import ConfigError
from coordinator.github.settings import GitHubSettings, github_repository, repository_parts
from coordinator.github.wiring import ingest_for
from coordinator.redaction import Redactor
from coordinator.store.store import StateStore
from coordinator.webhook.app import DEFAULT_MAX_BODY_BYTES, WebhookApp
from coordinator.webhook.handler import IngestHandler, retry_delay
from coordinator.webhook.server import DEFAULT_HOST, DEFAULT_PORT, WebhookServer, forward_waitress_logs, stop_signals
from coordinator.webhook.worker import DEFAULT_QUEUE_SIZE, DeliveryWorker

#: How long the deliveries queued at a stop signal may take to finish before the process exits anyway.
DEFAULT_SHUTDOWN_GRACE = 30.0

#: Exit codes: every queued delivery was processed; some were left unfinished (logged with their ids).
EXIT_STOPPED, EXIT_LEFT_UNFINISHED = 0, 1


@dataclass(frozen=True)
class ServeOptions:
    """Where to listen and the bounds of the server."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    queue_size: int = DEFAULT_QUEUE_SIZE
    shutdown_grace: float = DEFAULT_SHUTDOWN_GRACE


def repository_for(env: Mapping[str, str], remote_url: str) -> str:
    """The repository the endpoint serves: ``GITHUB_REPOSITORY``, else the state remote's when it is on
    github.com (as a runner decides); else a :class:`ConfigError` saying what to set."""
    repository = env.get("GITHUB_REPOSITORY", "").strip() or github_repository(remote_url)
    if not repository:
        raise ConfigError(
            f"which repository does this webhook serve? The state remote {remote_url} is not on github.com: "
            "set GITHUB_REPOSITORY=owner/name (the repository whose webhook posts here)"
        )
    if repository_parts(repository) is None:
        raise ConfigError(f"GITHUB_REPOSITORY {repository!r} is not a GitHub repository: give it as owner/name")
    return repository


def serve(
    store: StateStore,
    settings: GitHubSettings,
    *,
    secret: bytes,
    redactor: Redactor,
    options: ServeOptions,
    log: Callable[[str], None],
) -> int:
    """Serve deliveries for ``settings.repository`` into ``store`` until SIGTERM or Ctrl-C; ``log`` (thread-safe)
    gets one line per delivery and the server's own lines. Returns the exit code."""
    repository = settings.repository or ""
    with ingest_for(
        store,
        settings,
        who="webhook",
        redactor=redactor,
        echo=lambda line: log(redactor.redact(line)),
        long_running=True,
    ) as side:
        handler = IngestHandler(side.ingest, repository=repository, redact=redactor.redact)
        worker = DeliveryWorker(
            handler, log=log, redact=redactor.redact, retry=retry_delay, queue_size=options.queue_size
        )
        app = WebhookApp(secret, worker, log=log, screen=handler.screen, max_body_bytes=options.max_body_bytes)
        forward_waitress_logs(log)
        server = WebhookServer(app, host=options.host, port=options.port)
        worker.start()
        log(
            f"webhook: listening on {server.url}/ for {repository}; state branch {store.branch} on {store.remote}; "
            "SIGTERM or Ctrl-C stops it"
        )
        return _run_until_stopped(server, worker, options, log)


def _run_until_stopped(
    server: WebhookServer, worker: DeliveryWorker, options: ServeOptions, log: Callable[[str], None]
) -> int:
    def on_stop(count: int) -> None:
        if count == 1:
            return
        log("webhook: stopping now: the deliveries still queued are left unfinished")
        worker.hurry()

    with stop_signals(on_stop) as done_serving:
        server.serve_until_stopped()
        done_serving()
        server.close()  # the answers of requests already received are sent first
        log(
            f"webhook: stopping: no new deliveries; finishing {worker.pending} queued (up to "
            f"{options.shutdown_grace:g} s; press Ctrl-C again to stop now)"
        )
        left = worker.stop(options.shutdown_grace)
    if left:
        log(
            f"webhook: stopped with {len(left)} deliveries unfinished: {', '.join(left)} (answered but not "
            "processed: redeliver them from the webhook's Recent Deliveries page on GitHub)"
        )
        return EXIT_LEFT_UNFINISHED
    log("webhook: stopped; every delivery received was processed")
    return EXIT_STOPPED
