"""The runner's GitHub side: before a GitHub task runs, its trigger is verified on GitHub and the issue's
writers' comments are read for the prompt; after every change the runner commits, GitHub is told (tracking
comment, status label, pushed branch, pull request); deliveries left pending anywhere are retried now and then.

A runner without a GitHub token has none of this and claims no GitHub task (see ``GITHUB_CAPABILITY``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from coordinator.github.api import GitHubAPI, GitHubError
from coordinator.github.courier import Courier
from coordinator.github.prompt import issue_description, writers_comments
from coordinator.models import GitHubConfig, Task
from coordinator.runner.trailers import co_author_trailer

_CATCH_UP_EVERY_SECONDS = 60.0


@dataclass(frozen=True)
class Gate:
    """May a GitHub task run? ``refusal`` says why not (``transient``: GitHub could not be asked; try later);
    otherwise ``description`` is the issue's part of the prompt and ``trailer`` credits the person."""

    description: str | None = None
    trailer: str | None = None
    refusal: str | None = None
    transient: bool = False
    retry_after: float | None = None


class RunnerGitHub:
    """GitHub for one runner: one client, one courier."""

    def __init__(
        self,
        *,
        api: GitHubAPI,
        courier: Courier,
        config: Callable[[], GitHubConfig],
        monotonic: Callable[[], float],
        echo: Callable[[str], None],
    ) -> None:
        self.api, self.courier = api, courier
        self._config, self._monotonic, self._echo = config, monotonic, echo
        self._last_catch_up: float | None = None

    def gate(self, task: Task) -> Gate:
        """Verify ``task``'s trigger and read what the prompt needs; tells GitHub the task is running."""
        link = task.github
        assert link is not None
        config = self._config()
        verdict = self.courier.check.runnable(link, config)
        if not verdict.ok:
            return Gate(refusal=verdict.why, transient=verdict.transient, retry_after=verdict.retry_after)
        try:
            comments = writers_comments(self.api, link, config, task_id=task.id)
        except GitHubError as exc:
            return Gate(refusal=f"cannot read the issue's comments: {exc}", transient=exc.transient)
        self.courier.deliver(task.id)
        return Gate(
            description=issue_description(task, comments),
            trailer=co_author_trailer(link.trigger.actor, link.trigger.actor_id),
        )

    def tell(self, task_id: str) -> None:
        """Deliver what the runner's last commit left pending for ``task_id`` (never raises)."""
        try:
            self.courier.deliver(task_id)
        except Exception as exc:  # GitHub trouble must never cost a result: it stays pending and is retried
            self._echo(f"warning: GitHub delivery for {task_id} failed, retried later: {exc!r}")

    def say_what_waits(self) -> None:
        """At exit: name the tasks whose GitHub deliveries failed and wait (retried by the next runner or ingest)."""
        waiting = [
            f"{t.id} ({', '.join(t.github.pending)}: {t.github.last_error})"
            for t in self.courier.store.state.tasks.values()
            if t.github is not None and t.github.pending and t.github.last_error and not t.github.refused
        ]
        if waiting:
            self._echo(
                f"GitHub has not been told everything yet; retried by the next runner or ingest: {'; '.join(waiting)}"
            )

    def catch_up_if_due(self) -> None:
        """Now and then, retry deliveries that stayed pending (this runner's or anyone's)."""
        now = self._monotonic()
        if self._last_catch_up is not None and now - self._last_catch_up < _CATCH_UP_EVERY_SECONDS:
            return
        self._last_catch_up = now
        try:
            self.courier.catch_up()
        except Exception as exc:
            self._echo(f"warning: retrying GitHub deliveries failed: {exc!r}")
