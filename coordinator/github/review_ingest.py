"""Acting on a review of (or a comment on) an issue task's pull request (see :mod:`coordinator.github.followups`):
the reviewer must have write access; the review's comments are fetched in one call (the review is the unit), made
safe (sanitized, cut to size) and the follow-up is queued in one compare-and-swap commit. Nobody else gets an
answer: a pull request is not where people trigger coordinator, so a review by a reader is ignored silently."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from coordinator.core.state import State
from coordinator.core.transitions.followups import FollowUpRequest, add_follow_up
from coordinator.errors import InvalidTransition, UsageError
from coordinator.github.api import GitHubError, ReviewComment
from coordinator.github.events import IssueCommentEvent, PullRequestReviewCommentEvent, PullRequestReviewEvent
from coordinator.github.followups import FollowUpPlan, mentions, plan_pull_comment, plan_review, plan_review_comment
from coordinator.github.sanitize import clip, sanitize
from coordinator.models import ReviewNote

if TYPE_CHECKING:
    from coordinator.github.ingest import Ingest

PullEvent = PullRequestReviewEvent | PullRequestReviewCommentEvent | IssueCommentEvent
_OURS = "<!-- coordinator:"
#: What of a review is kept on the state branch (the prompt shows less of a hunk: its last lines).
_BODY_CHARS, _NOTE_CHARS, _HUNK_CHARS, _PATH_CHARS = 20_000, 8_000, 4_000, 1_000
#: A review with more comments than this is cut there (the prompt says so through the missing numbers).
MAX_NOTES = 50
#: The reaction that acknowledges a comment on a pull request that made a follow-up.
NOTED = "eyes"


def plan_pull_event(event: PullEvent, state: State) -> FollowUpPlan:
    """What a pull request event asks for, on the state branch as ``state`` holds it (no GitHub call)."""
    if isinstance(event, PullRequestReviewEvent):
        return plan_review(event, state.tasks, state.github)
    if isinstance(event, PullRequestReviewCommentEvent):
        return plan_review_comment(event)
    return plan_pull_comment(event, state.tasks, state.github)


class FollowUps:
    """Carries out follow-up plans for one ingest (its store, GitHub client, gate and courier)."""

    def __init__(self, ingest: Ingest) -> None:
        self.ingest = ingest

    def act(self, event: PullEvent, state: State) -> tuple[str, str | None]:
        """Act on ``event``; returns the outcome's message and the task made (to deliver for)."""
        what = plan_pull_event(event, state)
        if what.action == "ignore" or what.task_id is None or isinstance(event, PullRequestReviewCommentEvent):
            return f"ignored: {what.why}", None
        author = event.review.author if isinstance(event, PullRequestReviewEvent) else event.comment.author
        permission, trusted = self.ingest.gate(event.repository, author, state.github)
        if not trusted:
            return f"ignored: a {_kind(event)} by {author.login} ({permission} access) makes no follow-up", None
        notes: tuple[ReviewNote, ...] = ()
        if isinstance(event, PullRequestReviewEvent):
            comments = self.ingest.api.review_comments(event.repository, event.pull.number, event.review.id)
            mention = state.github.mention
            if what.action == "if-mentioned" and not any(
                mentions(c.body, mention) for c in comments if _OURS not in c.body
            ):
                return f"ignored: a review by {author.login} that does not mention {mention}", None
            notes = review_notes(comments)
        request = _request(event, what.task_id, permission, notes)
        try:
            change = self.ingest.store.update(lambda s, now: add_follow_up(s, request=request, now=now))
        except (InvalidTransition, UsageError) as exc:
            return f"ignored: {exc}", None
        task = change.task
        if task is None or not change.tasks:
            return f"ignored: {change.message}", None
        self.ingest.courier.created(task)
        if isinstance(event, IssueCommentEvent):
            self._react(event)
        return f"{change.message} ({what.why})", task.id

    def _react(self, event: IssueCommentEvent) -> None:
        try:
            self.ingest.api.add_reaction(event.repository, event.comment.id, NOTED)
        except GitHubError as exc:  # the follow-up is queued and shown in the tracking comment: a nicety
            self.ingest.echo(f"warning: could not react to comment {event.comment.id}: {exc}")


def review_notes(comments: Sequence[ReviewComment]) -> tuple[ReviewNote, ...]:
    """A review's comments as kept on the follow-up: sanitized and cut to size (coordinator's own left out)."""
    kept = [c for c in comments if _OURS not in c.body][:MAX_NOTES]
    return tuple(
        ReviewNote(
            id=c.id,
            author=c.author,
            body=clip(sanitize(c.body).strip(), _NOTE_CHARS),
            path=c.path[:_PATH_CHARS],
            line=c.line,
            start_line=c.start_line,
            diff_hunk=_tail(c.diff_hunk, _HUNK_CHARS),
            url=c.html_url,
            in_reply_to=c.in_reply_to,
        )
        for c in kept
    )


def _tail(text: str, limit: int) -> str:
    """The end of ``text`` (a diff hunk's last lines are the ones a comment is on), at most ``limit`` characters."""
    return text if len(text) <= limit else text[-limit:]


def _kind(event: PullEvent) -> str:
    return "review" if isinstance(event, PullRequestReviewEvent) else "comment"


def _request(
    event: PullRequestReviewEvent | IssueCommentEvent, of: str, permission: str, notes: tuple[ReviewNote, ...]
) -> FollowUpRequest:
    if isinstance(event, PullRequestReviewEvent):
        review = event.review
        assert review.submitted_at is not None  # plan_review ignores a review without it
        return FollowUpRequest(
            of=of,
            pull=event.pull.number,
            pull_url=event.pull.html_url,
            kind="review",
            author=review.author.login,
            author_id=review.author.id,
            permission=permission,
            event=event.name,
            delivery=event.delivery,
            at=review.submitted_at,
            body=clip(sanitize(review.body).strip(), _BODY_CHARS),
            url=review.html_url,
            review_id=review.id,
            state=review.state,
            notes=notes,
        )
    comment = event.comment
    return FollowUpRequest(
        of=of,
        pull=event.issue.number,
        pull_url=event.issue.html_url,
        kind="comment",
        author=comment.author.login,
        author_id=comment.author.id,
        permission=permission,
        event=event.name,
        delivery=event.delivery,
        at=comment.created_at,
        body=clip(sanitize(comment.body).strip(), _BODY_CHARS),
        url=comment.html_url,
        comment_id=comment.id,
    )
