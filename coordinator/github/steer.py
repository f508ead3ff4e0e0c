"""Acting on a comment (see :mod:`coordinator.github.conversation`): the commenter must have write access; the
command's effect is one commit, acknowledged with a reaction on the comment and shown in the tracking comment
(never a new comment per command); a person without write access gets the polite refusal (or silence)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from coordinator.core.state import State
from coordinator.core.transitions import Change, cancel
from coordinator.core.transitions.github import retrigger
from coordinator.core.transitions.plan_approval import approve_plan, replan
from coordinator.core.transitions.questions import answer
from coordinator.core.transitions.steering import (
    add_feedback,
    escalate,
    escalation_target,
    feedback_text,
    retry_with_feedback,
    set_priority,
)
from coordinator.errors import InvalidTransition, UsageError
from coordinator.github.api import GitHubError
from coordinator.github.conversation import CommentPlan
from coordinator.github.events import IssueCommentEvent
from coordinator.github.labels import read_labels
from coordinator.github.sanitize import sanitize
from coordinator.github.text import issue_body, issue_title
from coordinator.models import Feedback, Priority, Trigger

if TYPE_CHECKING:
    from coordinator.github.ingest import Ingest

#: The reaction that acknowledges a command carried out, a comment taken for the next attempt, a command that
#: does not apply now.
DONE, NOTED, NOT_NOW = "+1", "eyes", "confused"
#: The hidden first line of a reply to one comment (found again, so a re-run of the same event replies no twice).
_REPLY_MARKER = "<!-- coordinator:help comment={} -->"


class Steering:
    """Carries out comment plans for one ingest (its store, GitHub client, gate and courier)."""

    def __init__(self, ingest: Ingest) -> None:
        self.ingest = ingest

    def act(self, event: IssueCommentEvent, what: CommentPlan, state: State) -> tuple[str, str | None]:
        """Carry out ``what``; returns the outcome's message and the task changed (to deliver for)."""
        ingest, config = self.ingest, state.github
        if what.action == "ignore":
            return f"ignored: {what.why}", None
        permission, trusted = ingest.gate(event.repository, event.comment.author, config)
        if not trusted:
            if not what.is_command:
                return f"ignored: a comment by {event.comment.author.login} ({permission} access)", None
            return ingest.untrusted(event, config, permission, starts=True).message, None
        if what.action == "help":
            replied = self._reply(event, what.why)
            return f"answered: {what.why}" if replied else f"ignored: {what.why} (already answered)", None
        if what.action == "not-now":
            self._react(event, NOT_NOW)
            return f"ignored: {what.why}", None
        transition = self._transition(event, what, permission)
        try:
            outcome = ingest.commit(event, what, transition, trusted=what.action in ("retry", "plan"))
        except (InvalidTransition, UsageError) as exc:
            # The command does not apply to the task as it is (no stronger mode to escalate to): the person who
            # asked is told why on the issue, where they asked, not only in a failed workflow run's log.
            why = exc.reason if isinstance(exc, InvalidTransition) else str(exc)
            self._react(event, NOT_NOW)
            name = what.command.name if what.command is not None else what.action
            self._reply(event, f"`/{name}` was not carried out: {why}.")
            return f"ignored: {why}", None
        done = not outcome.message.startswith("ignored")
        self._react(event, (NOTED if what.action == "feedback" else DONE) if done else NOT_NOW)
        return outcome.message, outcome.task_id if done else None

    def _transition(
        self, event: IssueCommentEvent, what: CommentPlan, permission: str
    ) -> Callable[[State, datetime], Change]:
        tid, command, who = what.task_id, what.command, event.comment.author.login
        # Cut before the model sees it: a comment may be longer than feedback is allowed to be at all.
        text = feedback_text(sanitize(command.text if command is not None else event.comment.body))
        feedback = Feedback(
            author=who,
            at=event.comment.created_at,
            text=text,
            kind="retry" if what.action in ("retry", "replan") else "answer" if what.action == "answer" else "comment",
            url=event.comment.html_url,
        )
        if what.action == "feedback":
            return lambda s, now: add_feedback(s, task_id=tid, feedback=feedback, now=now)
        if what.action == "answer":
            return lambda s, now: answer(s, task_id=tid, feedback=feedback, now=now)
        if what.action == "cancel":
            return lambda s, now: cancel(s, task_id=tid, now=now, by=f"{who} on GitHub", reason="/cancel")
        if what.action == "priority":
            level = Priority(command.argument if command is not None and command.argument else "medium")
            return lambda s, now: set_priority(s, task_id=tid, priority=level, by=who, now=now)
        if what.action == "escalate":
            mode = command.argument if command is not None else None
            return lambda s, now: escalate(s, task_id=tid, by=who, now=now, mode=mode)
        if what.action == "approve":
            return lambda s, now: approve_plan(s, task_id=tid, by=f"{who} on GitHub", now=now)
        if what.action == "replan":
            return lambda s, now: replan(s, task_id=tid, feedback=feedback, now=now)
        if what.action == "plan":
            return self._plan(event, tid, permission)
        return self._retry(event, tid, feedback if text else None, permission)

    def _plan(self, event: IssueCommentEvent, tid: str, permission: str) -> Callable[[State, datetime], Change]:
        """``/plan``: the issue's plan, made (or its ended task's new round made a plan) with the comment as its
        trigger, which the runner checks on GitHub before the planning attempt runs."""

        def transition(state: State, now: datetime) -> Change:
            config = state.github
            trigger = self._comment_trigger(event, permission, config.plan_label)
            settings = read_labels(event.issue.labels, default_pr=config.default_pr)
            title, body = issue_title(event, state), issue_body(event, state)
            if tid in state.tasks:
                return retrigger(
                    state,
                    task_id=tid,
                    trigger=trigger,
                    title=title,
                    body=body,
                    settings=settings,
                    now=now,
                    as_plan=True,
                )
            return self.ingest.submit_plan(state, now, event, trigger, settings)

        return transition

    @staticmethod
    def _comment_trigger(event: IssueCommentEvent, permission: str, label: str) -> Trigger:
        """The comment as the trigger of a new round (``/retry``, ``/escalate``, ``/plan``)."""
        return Trigger(
            actor=event.comment.author.login,
            actor_id=event.comment.author.id,
            permission=permission,
            event=event.name,
            delivery=event.delivery,
            label=label,
            at=event.comment.created_at,
            comments=event.issue.comments,
            comment_id=event.comment.id,
        )

    def _retry(
        self, event: IssueCommentEvent, tid: str, feedback: Feedback | None, permission: str
    ) -> Callable[[State, datetime], Change]:
        """A new round started by ``/retry`` or ``/escalate`` on an ended task: the comment is its trigger."""
        escalating = event.comment.body.strip().lower().startswith("/escalate")

        def transition(state: State, now: datetime) -> Change:
            config = state.github
            trigger = self._comment_trigger(event, permission, config.trigger_label)
            task = state.tasks[tid]
            command = event.comment.body.strip().split("\n", 1)[0].split()
            named = command[1] if escalating and len(command) > 1 else None
            mode = escalation_target(state, task, named) if escalating else None
            return retry_with_feedback(
                state,
                task_id=tid,
                trigger=trigger,
                title=issue_title(event, state),
                body=issue_body(event, state),
                settings=read_labels(event.issue.labels, default_pr=config.default_pr),
                feedback=feedback,
                now=now,
                mode=mode,
            )

        return transition

    def _react(self, event: IssueCommentEvent, content: str) -> None:
        try:
            self.ingest.api.add_reaction(event.repository, event.comment.id, content)
        except GitHubError as exc:  # the effect is on the branch and in the tracking comment: a reaction is a nicety
            self.ingest.echo(f"warning: could not react to comment {event.comment.id}: {exc}")

    def _reply(self, event: IssueCommentEvent, text: str) -> bool:
        """Answer the comment on its issue, once: False when an earlier run of the same event already did."""
        api, mark = self.ingest.api, _REPLY_MARKER.format(event.comment.id)
        try:
            if any(mark in c.body for c in api.comments(event.repository, event.issue.number)):
                return False
            api.create_comment(event.repository, event.issue.number, f"{mark}\n{text}")
        except GitHubError as exc:  # a reply is advice: the event was still handled (redelivery answers again)
            self.ingest.echo(f"warning: could not reply to comment {event.comment.id}: {exc}")
            return False
        return True
