"""``coordinator ingest``: one GitHub event in, at most one commit to the state branch, and GitHub told.

The event is planned against the state branch (:mod:`coordinator.github.triage`); anything that would make a
machine run something passes the gate first (the sender's permission must be write, maintain or admin; a bot
must be allow-listed). The change is committed (compare-and-swap: the same delivery twice, or two workflow runs
racing on one issue, give one task), then its GitHub side effects are delivered, and deliveries other tasks
left pending are retried.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from coordinator.core.state import State
from coordinator.core.transitions import Change, SubmitRequest
from coordinator.core.transitions.followups import cancel_with_follow_ups, follow_ups_of
from coordinator.core.transitions.github import IssueSettings, retrigger, submit_issue, update_issue_task
from coordinator.core.transitions.plans import GITHUB_MAX_SUBTASKS
from coordinator.errors import InvalidTransition, UsageError
from coordinator.github.api import WRITE_PERMISSIONS, GitHubAPI
from coordinator.github.conversation import CommentPlan, plan_comment
from coordinator.github.courier import Courier
from coordinator.github.events import (
    IssueCommentEvent,
    IssuesEvent,
    PullRequestReviewCommentEvent,
    PullRequestReviewEvent,
    User,
)
from coordinator.github.followups import FollowUpPlan
from coordinator.github.labels import read_labels
from coordinator.github.missed import as_labeled, latest_trigger, may_have_missed
from coordinator.github.review_ingest import FollowUps, PullEvent, plan_pull_event
from coordinator.github.run_reporter import RunReporter
from coordinator.github.steer import Steering
from coordinator.github.text import issue_body, issue_title
from coordinator.github.tracking import untrusted_reply
from coordinator.github.triage import Plan, plan, task_id_of, trigger_time
from coordinator.models import GitHubConfig, GitHubLink, Source, TaskStatus, Trigger
from coordinator.store.store import StateStore

_UNTRUSTED_MARKER = "<!-- coordinator:untrusted -->"


@dataclass(frozen=True)
class Outcome:
    """What the ingest did, in one line for the workflow's log."""

    message: str
    task_id: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def plan_for(state: State, event: IssuesEvent | PullEvent) -> Plan | CommentPlan | FollowUpPlan:
    """What ``event`` asks of its issue's task, on the state branch as ``state`` holds it (no GitHub call)."""
    if isinstance(event, (PullRequestReviewEvent, PullRequestReviewCommentEvent)) or (
        isinstance(event, IssueCommentEvent) and event.issue.is_pull
    ):
        return plan_pull_event(event, state)
    if isinstance(event, IssueCommentEvent):
        return plan_comment_for(state, event)
    tid = task_id_of(event.issue.number)
    task = state.tasks.get(tid)
    what = plan(event, task, state.github, follow_ups_active=_follow_ups_active(state, event.issue.number))
    if task is None and tid in state.archived and what.action == "submit":
        # Its id is taken for good (ids are never reused): say so rather than fail the workflow run.
        return Plan("ignore", tid, f"{tid} ended and was archived by 'coordinator gc': it does not start again")
    return what


def _follow_ups_active(state: State, issue: int) -> bool:
    return any(not t.is_terminal for t in follow_ups_of(state.tasks.values(), task_id_of(issue)))


def plan_comment_for(state: State, event: IssueCommentEvent) -> CommentPlan:
    """What a comment asks of its issue's task, on the state branch as ``state`` holds it; while a follow-up of
    that task waits for an answer to its agent's question (and the task itself does not), of that follow-up."""
    task = state.tasks.get(task_id_of(event.issue.number))
    if task is not None and task.status != TaskStatus.NEEDS_INPUT:
        asking = [t for t in follow_ups_of(state.tasks.values(), task.id) if t.status == TaskStatus.NEEDS_INPUT]
        task = asking[0] if asking else task
    return plan_comment(event, task, state.github, tuple(state.modes.modes))


class Ingest:
    """Handles ``issues`` events for one state branch with one GitHub client."""

    def __init__(
        self,
        *,
        store: StateStore,
        api: GitHubAPI,
        courier: Courier,
        echo: Callable[[str], None],
        long_running: bool = False,
        reports: RunReporter | None = None,
    ) -> None:
        """``long_running``: a process that handles many events (the webhook) retries what other tasks left
        pending on their backoff; a one-shot ``coordinator ingest`` tries it at once. ``reports``: brings the
        pipeline runs' tracking comments that wait up to date too."""
        self.store, self.api, self.courier, self.echo = store, api, courier, echo
        self.long_running = long_running
        self.reports = reports

    def handle(self, event: IssuesEvent | PullEvent) -> Outcome:
        """Act on ``event``, deliver to GitHub, and retry what other tasks left pending."""
        state = self.store.read()
        if isinstance(event, (PullRequestReviewEvent, PullRequestReviewCommentEvent)) or (
            isinstance(event, IssueCommentEvent) and event.issue.is_pull
        ):
            message, task_id = FollowUps(self).act(event, state)
            outcome = Outcome(message, task_id)
        elif isinstance(event, IssueCommentEvent):
            message, task_id = Steering(self).act(event, plan_comment_for(state, event), state)
            outcome = Outcome(message, task_id)
        else:
            what = plan_for(state, event)
            assert isinstance(what, Plan)
            if what.action == "ignore":
                event, what = self._missed(event, what, state)
            outcome = self._act(event, what, state.github)
        if outcome.task_id is not None:
            self.courier.deliver(outcome.task_id)
        # An ingest run by the workflow is rare: it tries what waits at once. A webhook sees every event: during an
        # outage of GitHub it would retry everything at each one, so it keeps to the backoff.
        self.courier.catch_up(honour_backoff=self.long_running)
        if self.reports is not None:
            self.reports.deliver_due(honour_backoff=self.long_running)
        return outcome

    def _act(self, event: IssuesEvent, what: Plan, config: GitHubConfig) -> Outcome:
        if what.action == "ignore":
            return Outcome(f"ignored: {what.why}")
        if what.action == "cancel":
            return self.commit(
                event,
                what,
                lambda s, now: cancel_with_follow_ups(
                    s, task_id=what.task_id, now=now, by=f"{event.sender.login} on GitHub"
                ),
            )
        permission, trusted = self.gate(event.repository, event.sender, config)
        if not trusted:
            label = config.plan_label if what.as_plan else config.trigger_label
            starts = what.action in ("submit", "retrigger")
            return self.untrusted(event, config, permission, starts=starts, label=label)
        settings = read_labels(event.issue.labels, default_pr=config.default_pr)
        if settings.ignored:
            self.echo(f"note: labels not understood (ignored): {', '.join(settings.ignored)}")
        if what.action in ("update-text", "update-labels"):
            text = what.action == "update-text"
            return self.commit(
                event,
                what,
                lambda s, now: update_issue_task(
                    s,
                    task_id=what.task_id,
                    by=event.sender.login,
                    now=now,
                    title=issue_title(event, s) if text else None,
                    body=issue_body(event, s) if text else None,
                    settings=None if text else settings,
                ),
            )
        return self._start(event, what, config, permission, settings)

    def _start(
        self, event: IssuesEvent, what: Plan, config: GitHubConfig, permission: str, settings: IssueSettings
    ) -> Outcome:
        """A writer's trigger: the issue's task (a plan, for the plan label) made, or its new round."""
        trigger = Trigger(
            actor=event.sender.login,
            actor_id=event.sender.id,
            permission=permission,
            event=event.name,
            delivery=event.delivery,
            label=config.plan_label if what.as_plan else config.trigger_label,
            at=trigger_time(event),
            comments=event.issue.comments,
        )
        if what.action == "retrigger":
            return self.commit(
                event,
                what,
                lambda s, now: retrigger(
                    s,
                    task_id=what.task_id,
                    trigger=trigger,
                    title=issue_title(event, s),
                    body=issue_body(event, s),
                    settings=settings,
                    now=now,
                    as_plan=what.as_plan,
                ),
                trusted=True,
            )
        return self.commit(
            event,
            what,
            lambda s, now: self._submit(s, now, event, trigger, settings, as_plan=what.as_plan),
            trusted=True,
        )

    def submit_plan(
        self, state: State, now: datetime, event: IssueCommentEvent, trigger: Trigger, settings: IssueSettings
    ) -> Change:
        """The plan of an issue that has no task, made by a writer's ``/plan`` (``trigger``: the comment)."""
        return self._submit(state, now, event, trigger, settings, as_plan=True)

    def _submit(
        self,
        state: State,
        now: datetime,
        event: IssuesEvent | IssueCommentEvent,
        trigger: Trigger,
        settings: IssueSettings,
        *,
        as_plan: bool = False,
    ) -> Change:
        link = GitHubLink(
            repository=event.repository,
            issue=event.issue.number,
            url=event.issue.html_url,
            trigger=trigger,
            pr_policy=settings.pr_policy,
            issue_node=event.issue.node_id or None,
        )
        source = Source(
            kind="github-issue",
            actor=trigger.actor,
            permission=trigger.permission,
            at=trigger.at,
            repository=event.repository,
            issue=event.issue.number,
            url=event.issue.html_url,
            event=trigger.event,
        )
        request = SubmitRequest(
            title=issue_title(event, state),
            body=issue_body(event, state),
            priority=settings.priority,
            mode=settings.mode if settings.mode in state.modes.modes else None,
            requires=settings.requires,
            locks=settings.locks,
            source=source,
            group=f"issue-{event.issue.number}",
            task_id=f"issue-{event.issue.number}",
            github=link,
        )
        if as_plan:  # the repository's plan settings (never a verify command from the event)
            request = replace(request, kind="plan", max_subtasks=GITHUB_MAX_SUBTASKS)
        return submit_issue(state, request, by=self.courier.who, now=now)

    def _missed(self, event: IssuesEvent, what: Plan, state: State) -> tuple[IssuesEvent, Plan]:
        """The trigger whose own event never reached ingest (see :mod:`coordinator.github.missed`), handled as
        that event; else ``event`` and ``what`` unchanged."""
        config, task = state.github, state.tasks.get(what.task_id)
        if what.task_id in state.archived or not may_have_missed(event, task, config):
            return event, what
        found = latest_trigger(self.api.issue_events(event.repository, event.issue.number), task, config, _now())
        if found is None:
            return event, what
        if found.actor != event.sender.login and not self.gate(event.repository, event.sender, config)[1]:
            # The text may have changed since the label, by someone who may not change what runs.
            self.echo(
                f"note: the label '{found.label}' that {found.actor} applied was never handled, and the "
                f"issue has changed since: apply the label again to start the task"
            )
            return event, what
        self.echo(
            f"note: the label '{found.label}' that {found.actor} applied at {found.created_at.isoformat()} "
            "never reached coordinator (GitHub drops a pending run of a busy issue): handling it now"
        )
        rebuilt = as_labeled(event, found)
        return rebuilt, plan(rebuilt, task, config)

    def commit(
        self,
        event: IssuesEvent | IssueCommentEvent,
        what: Plan | CommentPlan,
        transition: Callable[[State, datetime], Change],
        *,
        trusted: bool = False,
    ) -> Outcome:
        try:
            change = self.store.update(transition)
        except (InvalidTransition, UsageError) as exc:
            # Another run got there first (the same event delivered twice, opened + labeled), so the change no
            # longer applies: nothing to do. Anything else that refuses it is an error to report.
            if plan_for(self.store.read(), event).action != "ignore":
                raise
            return Outcome(f"ignored: {exc}")
        task = change.task
        if trusted and task is not None and task.github is not None:
            if what.action == "submit":
                self.courier.created(task)
            else:
                self.courier.check.trust(task.github)
        return Outcome(f"{change.message or 'no change'} ({what.why})", what.task_id)

    def gate(self, repo: str, sender: User, config: GitHubConfig) -> tuple[str, bool]:
        """The sender's permission, and whether it may trigger work."""
        if sender.is_bot:
            allowed = sender.login in config.allowed_bots
            return ("bot (allow-listed)" if allowed else "bot"), allowed
        permission = self.api.permission(repo, sender.login)
        return permission, permission in WRITE_PERMISSIONS

    def untrusted(
        self,
        event: IssuesEvent | IssueCommentEvent,
        config: GitHubConfig,
        permission: str,
        *,
        starts: bool,
        label: str | None = None,
    ) -> Outcome:
        """No task change for a sender who may not trigger. Only a trigger gets the polite reply (``starts``): an
        edit or a label change by them leaves the task as a writer asked for it, and it still runs, so telling
        them "nothing will run" would be wrong."""
        who = event.sender.login
        if event.sender.is_bot:
            why = f"{who} is a bot that is not in github.allowed_bots on the state branch"
        else:
            what = "triggering" if starts else "changing a waiting task"
            why = f"{who} has {permission} access; {what} needs write, maintain or admin"
        if config.untrusted_reply == "silent" or event.sender.is_bot or not starts:
            return Outcome(f"ignored: {why}")
        comments = self.api.comments(event.repository, event.issue.number) if event.issue.comments else []
        if any(_UNTRUSTED_MARKER in c.body for c in comments):
            return Outcome(f"ignored: {why} (already answered on the issue)")
        self.api.create_comment(
            event.repository, event.issue.number, untrusted_reply(who, permission, label or config.trigger_label)
        )
        return Outcome(f"ignored: {why}; replied on the issue")
