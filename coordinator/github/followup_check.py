"""Checking on GitHub that a follow-up's trigger is real before anything runs or is delivered for it (the
counterpart of :mod:`coordinator.github.verify` for issue tasks).

A follow-up on the state branch is only a claim, like any task there: the review (or the comment) it names must
be on GitHub, on that pull request, by the recorded person at the recorded time; before it runs, the pull request
must still be open with the issue task's branch as its head, and the person must still have write access (an
allow-listed bot counts). Three REST calls before a run: the review or comment, the pull request, the permission.
"""

from __future__ import annotations

from coordinator.github.api import WRITE_PERMISSIONS, GitHubAPI, GitHubError
from coordinator.github.events import User
from coordinator.github.verify import TRIGGER_TIME_TOLERANCE, Verdict
from coordinator.models import FollowUp, GitHubConfig, GitHubLink, Task

_Key = tuple[str, str, int, int, str, str]


class FollowUpCheck:
    """Verifies follow-ups with one GitHub client, remembering what it verified (one process, one answer)."""

    def __init__(self, api: GitHubAPI, *, repository: str | None) -> None:
        self.api = api
        self.repository = repository
        self._known: dict[_Key, str | None] = {}

    def trust(self, task: Task) -> None:
        """Remember ``task``'s trigger as genuine (this process made it from a real event)."""
        self._known[_key(task)] = None

    def happened(self, task: Task) -> Verdict:
        """Whether the review or comment the follow-up names is on GitHub as recorded (enough to deliver)."""
        follow_up, link = _parts(task)
        where = self._wrong_repository(link)
        if where is not None:
            return Verdict(where)
        key = _key(task)
        if key not in self._known:
            try:
                self._known[key] = self._trigger_why(follow_up, link)
            except GitHubError as exc:
                return _unanswered(exc)
        why = self._known[key]
        return Verdict(why, unfounded=why is not None)

    def runnable(self, task: Task, original: Task | None, config: GitHubConfig) -> Verdict:
        """Whether the follow-up may run now: it follows a real issue task of the same issue and pull request,
        its trigger happened, the pull request is open on that task's branch, and its author may still ask."""
        follow_up, link = _parts(task)
        why = self._wrong_repository(link) or _not_of(task, original)
        if why is not None:
            return Verdict(why)
        try:
            why = self._trigger_why(follow_up, link)
            self._known[_key(task)] = why
            why = why or self._pull_why(follow_up, link, config) or self._actor_refusal(link, config)
        except GitHubError as exc:
            return _unanswered(exc)
        return Verdict(why)

    def _trigger_why(self, follow_up: FollowUp, link: GitHubLink) -> str | None:
        actor, at = link.trigger.actor, link.trigger.at
        try:
            if follow_up.kind == "review" and follow_up.review_id is not None:
                review = self.api.review(link.repository, follow_up.pull, follow_up.review_id)
                when_ok = review.submitted_at is None or abs(review.submitted_at - at) <= TRIGGER_TIME_TOLERANCE
                if review.author == actor and when_ok and review.state in ("changes_requested", "commented"):
                    return None
                what = f"review {follow_up.review_id}"
            elif follow_up.comment_id is not None:
                comment = self.api.comment(link.repository, follow_up.comment_id)
                on_pull = comment.issue is None or comment.issue == follow_up.pull
                if comment.author == actor and on_pull and abs(comment.created_at - at) <= TRIGGER_TIME_TOLERANCE:
                    return None
                what = f"comment {follow_up.comment_id}"
            else:
                return "the follow-up names neither a review nor a comment"
        except GitHubError as exc:
            if exc.status != 404:
                raise
            return f"the {follow_up.kind} that asked for the follow-up is not on pull request #{follow_up.pull}"
        return (
            f"{what} on pull request #{follow_up.pull} of {link.repository} is not one by {actor} at "
            f"{at.isoformat()} (the recorded trigger): the follow-up was not made by coordinator ingest from a real "
            "event, so it is not run"
        )

    def _pull_why(self, follow_up: FollowUp, link: GitHubLink, config: GitHubConfig) -> str | None:
        pull = self.api.pull(link.repository, follow_up.pull)
        if pull.state != "open":
            return f"pull request #{follow_up.pull} is closed"
        branch = config.branch_prefix + follow_up.of
        if pull.head_ref != branch:
            return f"pull request #{follow_up.pull} merges {pull.head_ref}, not {branch}"
        return None

    def _actor_refusal(self, link: GitHubLink, config: GitHubConfig) -> str | None:
        actor = link.trigger.actor
        if actor in config.allowed_bots:
            return None
        if User(actor).is_bot:
            return f"{actor} who asked for it is a bot that is not in github.allowed_bots on the state branch"
        permission = self.api.permission(link.repository, actor)
        if permission not in WRITE_PERMISSIONS:
            return f"{actor} who asked for it has {permission} access now, not write"
        return None

    def _wrong_repository(self, link: GitHubLink) -> str | None:
        if self.repository is not None and link.repository.lower() != self.repository.lower():
            return f"the task names repository {link.repository}, but this runner serves {self.repository}"
        return None


def _not_of(task: Task, original: Task | None) -> str | None:
    """Why ``task`` is not a follow-up of ``original`` as the state branch holds it (None: it is)."""
    follow_up, link = _parts(task)
    if original is None or original.github is None or original.follow_up is not None:
        return f"{follow_up.of}, which it follows up, is not the task of an issue"
    mine, theirs = (link.repository.lower(), link.issue), (original.github.repository.lower(), original.github.issue)
    if mine != theirs or original.github.pull_number != follow_up.pull:
        return f"{task.id} names issue #{link.issue} and pull request #{follow_up.pull}, which {original.id} does not"
    if task.id != f"{original.id}-f{follow_up.number}":
        return f"{task.id} is not named as a follow-up of {original.id} is ({original.id}-f{follow_up.number})"
    return None


def _parts(task: Task) -> tuple[FollowUp, GitHubLink]:
    if task.follow_up is None or task.github is None:
        raise ValueError(f"{task.id} is not a follow-up of an issue's task")
    return task.follow_up, task.github


def _key(task: Task) -> _Key:
    follow_up, link = _parts(task)
    source = follow_up.review_id or follow_up.comment_id or 0
    trigger = link.trigger
    return (link.repository.lower(), follow_up.kind, source, follow_up.pull, trigger.actor, trigger.at.isoformat())


def _unanswered(exc: GitHubError) -> Verdict:
    if exc.transient:
        return Verdict(f"GitHub did not answer: {exc}", transient=True, retry_after=exc.retry_after)
    return Verdict(f"GitHub refused to show the review: {exc}")
