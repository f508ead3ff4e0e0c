"""The pipeline commands' GitHub side: ``pipeline run`` posts the run's tracking comment right after its commit
(when a GitHub token is set), and ``pipeline show`` says where the comment stands."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from coordinator.core.transitions import Change
from coordinator.errors import CoordinatorError
from coordinator.models import RunReport
from coordinator.store.store import StateStore
from coordinator.text import terminal_safe

if TYPE_CHECKING:
    from coordinator.github.settings import GitHubSettings


def post_run_comment(store: StateStore, change: Change) -> None:
    """Post the tracking comment of the run ``change`` started, when it reports to an issue and a GitHub token
    is set; otherwise (or when GitHub fails) say who will, and when. Never fails the command: the run is queued."""
    report = next((r for r in change.records if isinstance(r, RunReport)), None)
    if report is None:
        return
    from coordinator.github.settings import TOKEN_VARIABLES, GitHubSettings, github_repository, token_in

    later = f"a runner with GitHub access posts it; 'coordinator pipeline show {report.pipeline}' shows the run"
    if not token_in(os.environ):
        note(f"no GitHub token here ({TOKEN_VARIABLES[0]}): the tracking comment on #{report.issue} waits; {later}")
        return
    repository = os.environ.get("GITHUB_REPOSITORY", "").strip() or github_repository(store.remote.url)
    if not repository:
        note(f"GITHUB_REPOSITORY is unset and the state remote is not on github.com: set it to post now; {later}")
        return
    try:
        _deliver(store, GitHubSettings.from_env(repository=repository), report)
    except CoordinatorError as exc:
        note(f"warning: the tracking comment on #{report.issue} was not posted ({exc}); {later}")


def _deliver(store: StateStore, settings: GitHubSettings, report: RunReport) -> None:
    from coordinator.github.rest import RestGitHub
    from coordinator.github.run_reporter import RunReporter
    from coordinator.redaction import Redactor

    assert settings.repository is not None
    redactor = Redactor.from_env(dict(os.environ))
    with RestGitHub(settings) as api:
        reporter = RunReporter(
            store=store,
            api=api,
            who="cli",
            repository=settings.repository,
            redact=redactor.redact,
            now=lambda: datetime.now(UTC),
            echo=note,
        )
        if reporter.deliver(report.run):
            click.echo(f"tracking comment of {report.run} on {settings.repository}#{report.issue}")


def report_line(report: RunReport | None) -> str | None:
    """Where a run's tracking comment stands, for ``pipeline show`` (None: the run reports nowhere)."""
    if report is None:
        return None
    where = f"tracking comment on #{report.issue}"
    if not report.pending:
        return f"{where}: up to date (comment {report.comment_id})"
    if report.last_error:
        retry = f"; next try after {report.retry_at:%Y-%m-%d %H:%M} UTC" if report.retry_at else ""
        error = terminal_safe(report.last_error)
        return f"{where}: to be updated; failed tries: {report.attempts}, the last: {error}{retry}"
    made = "to be updated" if report.comment_id is not None else "to be posted"
    return f"{where}: {made} by the next process with GitHub access (a runner, or 'coordinator pipeline run')"


def note(line: str) -> None:
    """A note or warning of the command, on stderr."""
    click.echo(line, err=True)
