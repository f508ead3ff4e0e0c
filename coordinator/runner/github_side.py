"""The runner's GitHub side: before a GitHub task runs, its trigger is verified on GitHub and the issue's
writers' comments are read for the prompt; after every change the runner commits, GitHub is told (tracking
comment, status label, pushed branch, pull request); deliveries left pending anywhere are retried now and then;
pipeline runs that report to an issue get their tracking comment brought up to date on every pass of the loop.

A runner without a GitHub token has none of this and claims no GitHub task (see ``GITHUB_CAPABILITY``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from coordinator.core.run_reports import reports
from coordinator.core.transitions.followups import follow_ups_of
from coordinator.github.api import GitHubAPI, GitHubError
from coordinator.github.courier import Courier
from coordinator.github.prompt import issue_description, writers_comments
from coordinator.github.pushing import BranchStarter, TipFetcher
from coordinator.github.run_reporter import RunReporter
from coordinator.github.tracking import pushed_branch
from coordinator.ids import task_branch
from coordinator.models import GitHubConfig, Task
from coordinator.runner.trailers import co_author_trailer

_CATCH_UP_EVERY_SECONDS = 60.0


@dataclass(frozen=True)
class Gate:
    """May a GitHub task run? ``refusal`` says why not (``transient``: GitHub could not be asked; try later);
    otherwise ``description`` is the issue's part of the prompt and ``trailer`` credits the person, and
    ``catch_up_to`` is a commit the task's branch must continue from (its pull request's branch, which follow-ups
    moved on)."""

    description: str | None = None
    trailer: str | None = None
    catch_up_to: str | None = None
    refusal: str | None = None
    transient: bool = False
    retry_after: float | None = None


class RunnerGitHub:
    """GitHub for one runner: one client, one courier, and (``reports``) the tracking comments of pipeline runs."""

    def __init__(
        self,
        *,
        api: GitHubAPI,
        courier: Courier,
        config: Callable[[], GitHubConfig],
        monotonic: Callable[[], float],
        echo: Callable[[str], None],
        reports: RunReporter | None = None,
    ) -> None:
        self.api, self.courier, self.reports = api, courier, reports
        self._config, self._monotonic, self._echo = config, monotonic, echo
        self._last_catch_up: float | None = None

    def gate(self, task: Task) -> Gate:
        """Verify ``task``'s trigger and read what the prompt needs; tells GitHub the task is running."""
        link = task.github
        assert link is not None
        config = self._config()
        if task.follow_up is not None:
            return self._follow_up_gate(task, config)
        verdict = self.courier.check.runnable(link, config)
        if not verdict.ok:
            return Gate(refusal=verdict.why, transient=verdict.transient, retry_after=verdict.retry_after)
        try:
            comments = writers_comments(self.api, link, config, task_id=task.id)
        except GitHubError as exc:
            return Gate(refusal=f"cannot read the issue's comments: {exc}", transient=exc.transient)
        tip, why = self._pull_request_tip(task, config)
        if why is not None:
            return Gate(refusal=why, transient=True)
        self.courier.deliver(task.id)
        return Gate(
            description=issue_description(task, comments),
            trailer=co_author_trailer(link.trigger.actor, link.trigger.actor_id),
            catch_up_to=tip,
        )

    def _pull_request_tip(self, task: Task, config: GitHubConfig) -> tuple[str | None, str | None]:
        """For an issue's task whose follow-ups pushed to its branch: that branch's tip on the repository now
        (fetched), which a new round continues from; (None, why) when it cannot be fetched; (None, None) when
        no follow-up pushed anything."""
        follow_ups = follow_ups_of(self.courier.store.state.tasks.values(), task.id)
        pushed = [t for t in follow_ups if t.github is not None and t.github.pushed]
        pusher = self.courier.deliverer.pusher
        if not pushed or not isinstance(pusher, TipFetcher):
            return None, None
        return pusher.fetch_tip(pushed_branch(task, config))

    def _follow_up_gate(self, task: Task, config: GitHubConfig) -> Gate:
        """A follow-up: its review verified, the pull request's branch as it is on the repository now (people may
        push to it) as the start of the task's branch, and the issue's part of the prompt."""
        follow_up, link = task.follow_up, task.github
        assert follow_up is not None and link is not None
        original = self.courier.store.state.tasks.get(follow_up.of)
        verdict = self.courier.follow_ups.runnable(task, original, config)
        if not verdict.ok:
            return Gate(refusal=verdict.why, transient=verdict.transient, retry_after=verdict.retry_after)
        waiting = self._unpushed_before(task)
        if waiting is not None:
            return Gate(refusal=f"{waiting} has work not pushed to the pull request yet", transient=True)
        pusher = self.courier.deliverer.pusher
        if isinstance(pusher, BranchStarter):
            why = pusher.start_branch(pushed_branch(task, config), task_branch(task.id))
            if why is not None:
                return Gate(refusal=why, transient=True)
        self.courier.deliver(task.id)
        assert original is not None  # runnable() refuses a follow-up of no issue task
        issue = task.model_copy(update={"title": original.title, "body": original.body})
        return Gate(
            description=issue_description(issue, []),
            trailer=co_author_trailer(link.trigger.actor, link.trigger.actor_id),
        )

    def _unpushed_before(self, task: Task) -> str | None:
        """The issue's task or an earlier follow-up whose work still waits to be pushed (tried once more now): a
        follow-up starts from the pull request's branch, which must hold that work first."""
        follow_up = task.follow_up
        assert follow_up is not None
        state = self.courier.store.state
        before = [state.tasks[follow_up.of]] if follow_up.of in state.tasks else []
        earlier_ones = follow_ups_of(state.tasks.values(), follow_up.of)
        before += [t for t in earlier_ones if t.follow_up is not None and t.follow_up.number < follow_up.number]
        for earlier in before:
            if earlier.github is not None and "push" in earlier.github.pending and earlier.github.refused is None:
                self.tell(earlier.id)
                again = self.courier.store.state.tasks.get(earlier.id)
                if again is not None and again.github is not None and "push" in again.github.pending:
                    return earlier.id
        return None

    def tell(self, task_id: str) -> None:
        """Deliver what the runner's last commit left pending for ``task_id`` (never raises)."""
        try:
            self.courier.deliver(task_id)
        except Exception as exc:  # GitHub trouble must never cost a result: it stays pending and is retried
            self._echo(f"warning: GitHub delivery for {task_id} failed, retried later: {exc!r}")

    def say_what_waits(self) -> None:
        """At exit: bring the runs' tracking comments up to date a last time (a run this runner ended shows how it
        ended), then name the tasks and runs whose GitHub deliveries failed and wait (retried by the next runner
        or ingest)."""
        self.report_runs()
        if self.reports is not None:
            runs = [
                f"{r.run} (tracking comment on #{r.issue}: {r.last_error})"
                for r in reports(self.courier.store.state)
                if r.pending and r.last_error
            ]
            if runs:
                self._echo(f"pipeline runs not shown on GitHub yet; retried by the next runner: {'; '.join(runs)}")
        waiting = [
            f"{t.id} ({', '.join(t.github.pending)}: {t.github.last_error})"
            for t in self.courier.store.state.tasks.values()
            if t.github is not None and t.github.pending and t.github.last_error and not t.github.refused
        ]
        if waiting:
            self._echo(
                f"GitHub has not been told everything yet; retried by the next runner or ingest: {'; '.join(waiting)}"
            )

    def report_runs(self) -> None:
        """Bring the tracking comments of pipeline runs that are pending and due up to date (never raises; costs
        no GitHub call when none is pending)."""
        if self.reports is None:
            return
        try:
            self.reports.deliver_due()
        except Exception as exc:  # GitHub trouble must never stop the runner: the reports stay pending
            self._echo(f"warning: updating the tracking comments of pipeline runs failed: {exc!r}")

    def catch_up_if_due(self) -> None:
        """Bring the runs' tracking comments up to date (on every pass: a phase that ended shows at once) and,
        now and then, retry task deliveries that stayed pending (this runner's or anyone's)."""
        self.report_runs()
        now = self._monotonic()
        if self._last_catch_up is not None and now - self._last_catch_up < _CATCH_UP_EVERY_SECONDS:
            return
        self._last_catch_up = now
        try:
            self.courier.catch_up()
        except Exception as exc:
            self._echo(f"warning: retrying GitHub deliveries failed: {exc!r}")
