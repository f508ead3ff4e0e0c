"""``coordinator webhook serve``: GitHub's webhook deliveries, checked against a shared secret, straight into the
queue through the same ingest as ``coordinator ingest`` (no Actions run per event)."""

from __future__ import annotations

import os
import threading

import click

from coordinator.cli.app import Settings, cli, state_options
from coordinator.webhook import DEFAULT_HOST, DEFAULT_PORT

_LOG_LOCK = threading.Lock()


@cli.group()
def webhook() -> None:
    """A GitHub webhook endpoint: events reach the queue in a second, without an Actions run per event."""


@webhook.command()
@click.option(
    "--host", default=DEFAULT_HOST, show_default=True, help="Address to listen on (keep it local behind a proxy)."
)
@click.option(
    "--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True, help="Port to listen on."
)
@click.option(
    "--shutdown-grace",
    type=click.FloatRange(0, 3600),
    default=30,
    show_default=True,
    metavar="SECONDS",
    help="On SIGTERM/Ctrl-C, how long the deliveries already queued may take to finish.",
)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, shutdown_grace: float) -> None:
    """Serve GitHub's webhook deliveries for one repository until SIGTERM or Ctrl-C.

    \b
    The secret is COORDINATOR_WEBHOOK_SECRET (the same as the webhook's Secret on GitHub); the GitHub token and
    API are read as `coordinator ingest` reads them; the repository is GITHUB_REPOSITORY, else the state
    remote's. Exit codes: 0 stopped with every delivery processed, 1 some were left unfinished (logged), 2 bad
    configuration.
    """
    from coordinator.github.settings import GitHubSettings
    from coordinator.redaction import Redactor
    from coordinator.webhook.service import ServeOptions, repository_for
    from coordinator.webhook.service import serve as serve_webhook
    from coordinator.webhook.signature import SECRET_VARIABLE, checked_secret

    secret = checked_secret(os.environ.get(SECRET_VARIABLE))
    settings: Settings = ctx.obj
    store = settings.open_store()
    try:
        github = GitHubSettings.from_env(repository=repository_for(os.environ, store.remote.url))
        store.read()  # fail before listening when the state branch is missing (the error names the init command)
        options = ServeOptions(host=host, port=port, shutdown_grace=shutdown_grace)
        redactor = Redactor.from_env(dict(os.environ))
        code = serve_webhook(store, github, secret=secret, redactor=redactor, options=options, log=_log_line)
    finally:
        store.close()
    ctx.exit(code)


def _log_line(line: str) -> None:
    """One line of the log on stdout, UTC-stamped, with anything a terminal would act on escaped; whole lines
    even when several threads log at once."""
    from coordinator.text import terminal_safe
    from coordinator.timeutil import utcnow

    stamp = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    with _LOG_LOCK:
        click.echo(f"{stamp} {terminal_safe(line)}")


def _accept_state_options_after_serve() -> None:
    """``coordinator webhook serve --remote URL``: the global options after the subcommand too, as every command
    takes them after itself (app.py gives them to ``webhook``, the group)."""
    serve.params += state_options()


_accept_state_options_after_serve()
