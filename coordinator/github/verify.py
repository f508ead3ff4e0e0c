"""Checking on GitHub that a task's trigger is real before anything runs or is delivered for it.

A task on the state branch is only a claim: anyone (or any agent) able to write that branch could write one, or
copy a genuine task onto another issue. So a runner asks GitHub, not the branch: the issue's event timeline must
show the recorded actor applying the trigger label (or reopening the issue) at the recorded time, the issue must
still be open and labelled, and the actor must still have write access. Two REST calls: the events, the
permission.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from coordinator.github.api import WRITE_PERMISSIONS, Comment, GitHubAPI, GitHubError, IssueEvent
from coordinator.github.events import User
from coordinator.models import GitHubConfig, GitHubLink

#: How far the event's time on GitHub may be from the time the ingest recorded (taken from the payload).
TRIGGER_TIME_TOLERANCE = timedelta(minutes=2)


@dataclass(frozen=True)
class Verdict:
    """``why`` is None when the trigger is verified; ``transient`` when GitHub could not be asked (try later)."""

    why: str | None = None
    transient: bool = False
    retry_after: float | None = None
    #: GitHub answered, and its record shows no such trigger: the task was not made from a real event.
    unfounded: bool = False

    @property
    def ok(self) -> bool:
        """The trigger is verified."""
        return self.why is None


def trigger_seen(events: Sequence[IssueEvent], link: GitHubLink) -> str | None:
    """Why the issue's ``events`` do not show ``link``'s trigger (None: they do)."""
    trigger = link.trigger
    kind = "reopened" if trigger.event == "issues.reopened" else "labeled"
    for event in events:
        if event.event != kind or event.actor != trigger.actor:
            continue
        if kind == "labeled" and event.label != trigger.label:
            continue
        if abs(event.created_at - trigger.at) <= TRIGGER_TIME_TOLERANCE:
            return None
    what = f"label '{trigger.label}' applied" if kind == "labeled" else "reopening of the issue"
    return (
        f"issue #{link.issue} of {link.repository} shows no {what} by {trigger.actor} at "
        f"{trigger.at.isoformat()} (the recorded trigger): the task was not made by coordinator ingest from a real "
        "event, so it is not run"
    )


#: The commands whose comment starts a round (and is its trigger).
TRIGGER_COMMANDS = ("/retry", "/escalate", "/plan")


def comment_seen(comment: Comment, link: GitHubLink) -> str | None:
    """Why the comment a ``/retry`` or ``/escalate`` round names is not that trigger (None: it is)."""
    trigger = link.trigger
    first = comment.body.strip().split("\n", 1)[0].strip().lower()
    if (
        comment.author == trigger.actor
        and (comment.issue is None or comment.issue == link.issue)
        and abs(comment.created_at - trigger.at) <= TRIGGER_TIME_TOLERANCE
        and first.startswith(TRIGGER_COMMANDS)
    ):
        return None
    return (
        f"comment {trigger.comment_id} on issue #{link.issue} of {link.repository} is not a command by "
        f"{trigger.actor} at {trigger.at.isoformat()} (the recorded trigger): the task was not made by coordinator "
        "ingest from a real event, so it is not run"
    )


def still_wanted(events: Sequence[IssueEvent], label: str, *, or_label: str | None = None) -> str | None:
    """Why the issue no longer asks for work, judged from its events (None: it is open and has ``label``, or
    ``or_label`` when given)."""
    if _closed(events):
        return "the issue is closed"
    for name in (label, or_label) if or_label is not None else (label,):
        changes = (e.event for e in reversed(events) if e.event in ("labeled", "unlabeled") and e.label == name)
        if next(changes, "unlabeled") == "labeled":
            return None
    return f"the label '{label}' was removed"


def wanted_why(events: Sequence[IssueEvent], link: GitHubLink, config: GitHubConfig) -> str | None:
    """Why the issue no longer asks for ``link``'s task: closed, or neither the trigger nor the plan label on it.
    A plan that a writer's ``/plan`` made needs no label (the comment asked for it): only closing stops it."""
    trigger = link.trigger
    if trigger.comment_id is not None and trigger.label == config.plan_label:
        return "the issue is closed" if _closed(events) else None
    return still_wanted(events, config.trigger_label, or_label=config.plan_label)


def _closed(events: Sequence[IssueEvent]) -> bool:
    """Whether the issue's latest close or reopen closed it."""
    return next((e.event for e in reversed(events) if e.event in ("closed", "reopened")), "reopened") == "closed"


class TriggerCheck:
    """Verifies triggers with one GitHub client, remembering what it verified (one process, one answer)."""

    def __init__(self, api: GitHubAPI, *, repository: str | None) -> None:
        self.api = api
        self.repository = repository
        self._known: dict[tuple[str, int, str, str, int | None], str | None] = {}

    def trust(self, link: GitHubLink) -> None:
        """Remember ``link``'s trigger as genuine (this process made it from a real event)."""
        self._known[_key(link)] = None

    def happened(self, link: GitHubLink) -> Verdict:
        """Whether the trigger really happened (enough to deliver for the task)."""
        where = self._wrong_repository(link)
        if where is not None:
            return Verdict(where)
        key = _key(link)
        if key not in self._known:
            try:
                self._known[key] = self._trigger_why(link, None)
            except GitHubError as exc:
                return _unanswered(exc)
        why = self._known[key]
        return Verdict(why, unfounded=why is not None)

    def runnable(self, link: GitHubLink, config: GitHubConfig) -> Verdict:
        """Whether the task may run now: the trigger happened, the issue is open and labelled, and the actor
        still has write access (or is an allow-listed bot)."""
        where = self._wrong_repository(link)
        if where is not None:
            return Verdict(where)
        try:
            events = self.api.issue_events(link.repository, link.issue)
            why = self._trigger_why(link, events)
            self._known[_key(link)] = why
            why = why or wanted_why(events, link, config) or self._actor_refusal(link, config)
        except GitHubError as exc:
            return _unanswered(exc)
        return Verdict(why)

    def _trigger_why(self, link: GitHubLink, events: Sequence[IssueEvent] | None) -> str | None:
        """Why GitHub does not show ``link``'s trigger: its comment for a command, else the label in ``events``
        (fetched when None)."""
        comment_id = link.trigger.comment_id
        if comment_id is None:
            return trigger_seen(
                events if events is not None else self.api.issue_events(link.repository, link.issue), link
            )
        try:
            return comment_seen(self.api.comment(link.repository, comment_id), link)
        except GitHubError as exc:
            if exc.status != 404:
                raise
            return f"the comment {comment_id} that triggered it is not on GitHub (deleted, or never there)"

    def _actor_refusal(self, link: GitHubLink, config: GitHubConfig) -> str | None:
        """Why the actor may not make this task run now (None: an allow-listed bot, or write access still);
        as at ingest, a bot counts only when allow-listed, whatever access it has."""
        actor = link.trigger.actor
        if actor in config.allowed_bots:
            return None
        if User(actor).is_bot:
            return f"{actor} who triggered it is a bot that is not in github.allowed_bots on the state branch"
        permission = self.api.permission(link.repository, actor)
        if permission not in WRITE_PERMISSIONS:
            return f"{actor} who triggered it has {permission} access now, not write"
        return None

    def _wrong_repository(self, link: GitHubLink) -> str | None:
        if self.repository is not None and link.repository.lower() != self.repository.lower():
            return f"the task names repository {link.repository}, but this runner serves {self.repository}"
        return None


def _key(link: GitHubLink) -> tuple[str, int, str, str, int | None]:
    trigger = link.trigger
    return (link.repository.lower(), link.issue, trigger.actor, trigger.at.isoformat(), trigger.comment_id)


def _unanswered(exc: GitHubError) -> Verdict:
    if exc.transient:
        return Verdict(f"GitHub did not answer: {exc}", transient=True, retry_after=exc.retry_after)
    return Verdict(f"GitHub refused to show the issue: {exc}")
