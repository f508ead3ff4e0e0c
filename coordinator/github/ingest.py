"""``coordinator ingest``: one GitHub event in, at most one commit to the state branch, and GitHub told.

The event is planned against the state branch (:mod:`coordinator.github.triage`); anything that would make a
machine run something passes the gate first (the sender's permission must be write, maintain or admin; a bot
must be allow-listed). The change is committed (compare-and-swap: the same delivery twice, or two workflow runs
racing on one issue, give one task), then its GitHub side effects are delivered, and deliveries other tasks
left pending are retried.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from coordinator.core.state import State
from coordinator.core.transitions import Change, SubmitRequest, cancel
from coordinator.core.transitions.github import IssueSettings, retrigger, submit_issue, update_issue_task
from coordinator.errors import InvalidTransition, UsageError
from coordinator.github.api import WRITE_PERMISSIONS, GitHubAPI
from coordinator.github.courier import Courier
from coordinator.github.events import IssuesEvent, User
from coordinator.github.labels import read_labels
from coordinator.github.missed import as_labeled, latest_trigger, may_have_missed
from coordinator.github.sanitize import strip_invisible
from coordinator.github.tracking import untrusted_reply
from coordinator.github.triage import Plan, plan, task_id_of, trigger_time
from coordinator.models import GitHubConfig, GitHubLink, Source, Trigger
from coordinator.store.store import StateStore
from coordinator.text import is_unsafe

_UNTRUSTED_MARKER = "<!-- coordinator:untrusted -->"


@dataclass(frozen=True)
class Outcome:
    """What the ingest did, in one line for the workflow's log."""

    message: str
    task_id: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def plan_for(state: State, event: IssuesEvent) -> Plan:
    """What ``event`` asks of its issue's task, on the state branch as ``state`` holds it (no GitHub call)."""
    return plan(event, state.tasks.get(task_id_of(event.issue.number)), state.github)


class Ingest:
    """Handles ``issues`` events for one state branch with one GitHub client."""

    def __init__(self, *, store: StateStore, api: GitHubAPI, courier: Courier, echo: Callable[[str], None]) -> None:
        self.store, self.api, self.courier, self.echo = store, api, courier, echo

    def handle(self, event: IssuesEvent) -> Outcome:
        """Act on ``event``, deliver to GitHub, and retry what other tasks left pending."""
        state = self.store.read()
        what = plan_for(state, event)
        if what.action == "ignore":
            event, what = self._missed(event, what, state)
        outcome = self._act(event, what, state.github)
        if outcome.task_id is not None:
            self.courier.deliver(outcome.task_id)
        self.courier.catch_up(honour_backoff=False)  # an ingest runs rarely: it tries what waits, at once
        return outcome

    def _act(self, event: IssuesEvent, what: Plan, config: GitHubConfig) -> Outcome:
        if what.action == "ignore":
            return Outcome(f"ignored: {what.why}")
        if what.action == "cancel":
            return self._commit(
                event,
                what,
                lambda s, now: cancel(s, task_id=what.task_id, now=now, by=f"{event.sender.login} on GitHub"),
            )
        permission, trusted = self._gate(event.repository, event.sender, config)
        if not trusted:
            return self._untrusted(event, config, permission, starts=what.action in ("submit", "retrigger"))
        settings = read_labels(event.issue.labels, default_pr=config.default_pr)
        if settings.ignored:
            self.echo(f"note: labels not understood (ignored): {', '.join(settings.ignored)}")
        if what.action in ("update-text", "update-labels"):
            text = what.action == "update-text"
            return self._commit(
                event,
                what,
                lambda s, now: update_issue_task(
                    s,
                    task_id=what.task_id,
                    by=event.sender.login,
                    now=now,
                    title=_title(event, s) if text else None,
                    body=_body(event, s) if text else None,
                    settings=None if text else settings,
                ),
            )
        trigger = Trigger(
            actor=event.sender.login,
            actor_id=event.sender.id,
            permission=permission,
            event=event.name,
            delivery=event.delivery,
            label=config.trigger_label,
            at=trigger_time(event),
            comments=event.issue.comments,
        )
        if what.action == "retrigger":
            return self._commit(
                event,
                what,
                lambda s, now: retrigger(
                    s,
                    task_id=what.task_id,
                    trigger=trigger,
                    title=_title(event, s),
                    body=_body(event, s),
                    settings=settings,
                    now=now,
                ),
                trusted=True,
            )
        return self._commit(event, what, lambda s, now: self._submit(s, now, event, trigger, settings), trusted=True)

    def _submit(
        self, state: State, now: datetime, event: IssuesEvent, trigger: Trigger, settings: IssueSettings
    ) -> Change:
        link = GitHubLink(
            repository=event.repository,
            issue=event.issue.number,
            url=event.issue.html_url,
            trigger=trigger,
            pr_policy=settings.pr_policy,
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
            title=_title(event, state),
            body=_body(event, state),
            priority=settings.priority,
            mode=settings.mode if settings.mode in state.modes.modes else None,
            requires=settings.requires,
            source=source,
            group=f"issue-{event.issue.number}",
            task_id=f"issue-{event.issue.number}",
            github=link,
        )
        return submit_issue(state, request, by=self.courier.who, now=now)

    def _missed(self, event: IssuesEvent, what: Plan, state: State) -> tuple[IssuesEvent, Plan]:
        """The trigger whose own event never reached ingest (see :mod:`coordinator.github.missed`), handled as
        that event; else ``event`` and ``what`` unchanged."""
        config, task = state.github, state.tasks.get(what.task_id)
        if not may_have_missed(event, task, config):
            return event, what
        found = latest_trigger(self.api.issue_events(event.repository, event.issue.number), task, config, _now())
        if found is None:
            return event, what
        if found.actor != event.sender.login and not self._gate(event.repository, event.sender, config)[1]:
            # The text may have changed since the label, by someone who may not change what runs.
            self.echo(
                f"note: the label '{config.trigger_label}' that {found.actor} applied was never handled, and the "
                f"issue has changed since: apply the label again to start the task"
            )
            return event, what
        self.echo(
            f"note: the label '{config.trigger_label}' that {found.actor} applied at {found.created_at.isoformat()} "
            "never reached coordinator (GitHub drops a pending run of a busy issue): handling it now"
        )
        rebuilt = as_labeled(event, found)
        return rebuilt, plan_for(state, rebuilt)

    def _commit(
        self,
        event: IssuesEvent,
        what: Plan,
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

    def _gate(self, repo: str, sender: User, config: GitHubConfig) -> tuple[str, bool]:
        """The sender's permission, and whether it may trigger work."""
        if sender.is_bot:
            allowed = sender.login in config.allowed_bots
            return ("bot (allow-listed)" if allowed else "bot"), allowed
        permission = self.api.permission(repo, sender.login)
        return permission, permission in WRITE_PERMISSIONS

    def _untrusted(self, event: IssuesEvent, config: GitHubConfig, permission: str, *, starts: bool) -> Outcome:
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
            event.repository, event.issue.number, untrusted_reply(who, permission, config.trigger_label)
        )
        return Outcome(f"ignored: {why}; replied on the issue")


def _title(event: IssuesEvent, state: State) -> str:
    """The issue's title as a task title: visible characters only, one line, within the branch's limit."""
    flat = " ".join(strip_invisible(event.issue.title).split())
    # What strip_invisible keeps that a title may not hold (unassigned tag characters, lone surrogates) goes too:
    # a writer's trigger must never be dropped for a character nobody can see.
    flat = "".join(ch for ch in flat if not is_unsafe(ch)).strip() or f"Issue #{event.issue.number}"
    limit = state.limits.max_title_chars
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _body(event: IssuesEvent, state: State) -> str:
    """The issue's body as the event carried it (the text when triggered), cut to the branch's size limit in
    bytes (GitHub allows 65,536 characters, up to four bytes each) with a note saying so when it fits."""
    limit = state.limits.max_body_bytes
    # A lone surrogate (JSON can spell one; GitHub never sends it) becomes "?" rather than dropping the trigger.
    data = event.issue.body.encode("utf-8", "replace")
    if len(data) <= limit:
        return data.decode("utf-8")
    note = f"\n[... the rest of the issue's body is not shown: it is over {limit} bytes]"
    room = limit - len(note.encode("utf-8"))
    if room < len(note):  # a tiny limit: the text is worth more than the note
        return data[:limit].decode("utf-8", "ignore")
    return data[:room].decode("utf-8", "ignore") + note
