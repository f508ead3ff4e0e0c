"""A task's GitHub side: the branch-wide GitHub settings, where a task came from (who triggered it, how, with what
permission), and what has been delivered back (the tracking comment, status labels, the pushed branch, the pull
request) or is still waiting to be."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from coordinator.ids import TASK_BRANCH_PREFIX
from coordinator.models.base import StateModel, UtcDateTime

#: The capability a runner has when it can reach GitHub (a token): only such runners claim tasks of issues.
GITHUB_CAPABILITY = "github"
#: What happens with a task branch that has commits: nothing, a compare link, a draft PR, a ready PR.
PrPolicy = Literal["none", "link", "draft", "ready"]
#: The GitHub side effects of a task, delivered in this order (a PR needs the pushed branch; the comment links
#: the PR; the labels come last).
DELIVERY_ORDER = ("push", "pull", "comment", "labels")


_BRANCH_PREFIX = re.compile(r"^(?!.*\.\.)(?!.*//)[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")
_MENTION = re.compile(r"^@[A-Za-z0-9][A-Za-z0-9_/-]{0,38}$")
_TEAM = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?$")


def _printable(value: str, what: str) -> str:
    if value != value.strip() or not value.isprintable():
        raise ValueError(f"{what} must be printable text without leading or trailing spaces")
    return value


class GitHubConfig(StateModel):
    """``github`` in ``config.json``: how issues become tasks, for every runner and every ingest."""

    trigger_label: str = Field(default="claude", min_length=1, max_length=50, description="The label that triggers.")
    plan_label: str = Field(
        default="claude:plan",
        min_length=1,
        max_length=50,
        description="The label that makes the issue a plan: its first attempt splits the work into subtasks.",
    )
    untrusted_reply: Literal["polite", "silent"] = Field(
        default="polite", description="Answer a trigger by someone without write access once, or say nothing."
    )
    allowed_bots: list[str] = Field(default_factory=list, description="Bot accounts allowed to trigger (logins).")
    branch_prefix: str = Field(default=TASK_BRANCH_PREFIX, description="Task branches pushed are PREFIX<task id>.")
    default_pr: PrPolicy = Field(default="draft", description="PR policy when the issue has no pr:* label.")
    status_label_prefix: str = Field(default="coordinator:", description="Status labels are PREFIX<status>.")
    status_labels: bool = Field(default=True, description="Keep a status label (PREFIX<status>) on the issue.")
    push_workflow_changes: bool = Field(
        default=False,
        description="Push an agent's changes to .github/workflows or .github/actions (they would run with the "
        "repository's secrets on the pull request); off: such a branch stays on its runner for a person to push.",
    )
    maintainers: list[str] = Field(
        default_factory=list,
        description="Who is called (mentioned) when a task fails for good: logins, or org/team for a team.",
    )
    needs_human_label: str = Field(
        default="needs-human", min_length=1, max_length=50, description="The label of an issue that needs a person."
    )
    mention: str = Field(
        default="@claude",
        min_length=2,
        max_length=40,
        description="What a review or a comment on a task's pull request must say to make a follow-up "
        "(a review that requests changes needs none).",
    )

    @field_validator("maintainers")
    @classmethod
    def _maintainers(cls, value: list[str]) -> list[str]:
        bad = [name for name in value if not (_LOGIN.match(name) or _TEAM.match(name))]
        if bad:
            raise ValueError(f"not GitHub logins or org/team names: {', '.join(bad)} (e.g. alice or my-org/ops)")
        return value

    @field_validator("trigger_label", "plan_label", "status_label_prefix", "needs_human_label")
    @classmethod
    def _label_text(cls, value: str) -> str:
        return _printable(value, "a label")

    @field_validator("mention")
    @classmethod
    def _mention(cls, value: str) -> str:
        if not _MENTION.match(value):
            raise ValueError("a mention is @ and a name of letters, digits, '-', '_' or '/' (e.g. @claude)")
        return value

    @field_validator("branch_prefix")
    @classmethod
    def _branch(cls, value: str) -> str:
        if not _BRANCH_PREFIX.match(value) or value.endswith((".", ".lock")):
            raise ValueError("a branch prefix is letters, digits, '.', '_', '-' and '/' (e.g. coordinator/ or ai-)")
        return value

    @field_validator("allowed_bots")
    @classmethod
    def _logins(cls, value: list[str]) -> list[str]:
        bad = [login for login in value if not _LOGIN.match(login)]
        if bad:
            raise ValueError(f"not GitHub logins: {', '.join(bad)} (e.g. renovate[bot])")
        return value


class Trigger(StateModel):
    """Who asked for the work on GitHub and how: checked again by the runner before anything runs."""

    actor: str = Field(description="The login that applied the trigger label (not the issue's author).")
    actor_id: int | None = Field(default=None, description="The actor's numeric id (for Co-authored-by trailers).")
    permission: str = Field(description="The actor's permission when the event was ingested.")
    event: str = Field(description="e.g. issues.labeled")
    delivery: str | None = Field(default=None, description="The webhook delivery id (X-GitHub-Delivery), if known.")
    label: str = Field(description="The trigger label applied.")
    at: UtcDateTime = Field(description="When the trigger happened (the event's time).")
    comments: int = Field(default=0, ge=0, description="How many comments the issue had at the trigger.")
    comment_id: int | None = Field(default=None, description="The comment that triggered it (/retry, /escalate).")


class GitHubLink(StateModel):
    """A task that came from a GitHub issue: its trigger, and the state of everything delivered back."""

    repository: str = Field(description="owner/name")
    issue: int = Field(ge=1)
    url: str = ""
    trigger: Trigger
    pr_policy: PrPolicy = "draft"
    comment_id: int | None = Field(default=None, description="The tracking comment (found again by its marker).")
    issue_node: str | None = Field(
        default=None, max_length=120, description="The issue's GraphQL node id (from the event that made the task)."
    )
    comment_node: str | None = Field(default=None, max_length=120, description="The tracking comment's node id.")
    pushed: str | None = Field(default=None, description="The commit last pushed to the task branch.")
    pull_number: int | None = None
    pull_url: str | None = None
    status_label: str | None = Field(default=None, description="The status label last set on the issue.")
    needs_human: bool = Field(default=False, description="The needs-human label is on the issue (as last set).")
    pending: list[str] = Field(default_factory=list, description="Side effects still to deliver, e.g. comment.")
    revision: int = Field(default=0, ge=0, description="Counts the changes GitHub must be told about.")
    creating_by: str | None = Field(
        default=None, description="Who may create the tracking comment until creating_until (never two at once)."
    )
    creating_until: UtcDateTime | None = None
    refused: str | None = Field(
        default=None, description="Why nothing is delivered for this task (its trigger could not be verified)."
    )
    delivery_attempts: int = Field(default=0, ge=0, description="Failed tries of the pending side effects in a row.")
    retry_at: UtcDateTime | None = Field(default=None, description="Not before then (the backoff).")
    github_wait_until: UtcDateTime | None = Field(
        default=None, description="GitHub asked not to be called before then (Retry-After, rate-limit reset)."
    )
    last_error: str | None = None


class ReviewNote(StateModel):
    """One review comment a follow-up addresses: where it is in the diff and what it says (sanitized, cut)."""

    id: int = Field(ge=1, description="The review comment's id (its thread gets the follow-up's reply).")
    author: str
    body: str = Field(default="", max_length=8_000)
    path: str = Field(default="", max_length=1_000, description="The file it is on.")
    line: int | None = Field(default=None, ge=1, description="The line of the file (the last one of a range).")
    start_line: int | None = Field(default=None, ge=1, description="The first line of a multi-line comment.")
    diff_hunk: str = Field(default="", max_length=4_000, description="The end of the diff hunk it is on.")
    url: str = ""
    in_reply_to: int | None = Field(default=None, description="The thread's first comment, for a reply.")


class FollowUp(StateModel):
    """What a follow-up task follows: a review of (or a comment on) the pull request of issue task ``of``. It works
    on that task's branch, pushes to the same pull request and reports in the same tracking comment."""

    of: str = Field(description="The issue's task whose pull request was reviewed (e.g. issue-12).")
    number: int = Field(ge=1, description="k of issue-<N>-f<k>: the how-manieth follow-up of the issue.")
    pull: int = Field(ge=1, description="The pull request's number.")
    kind: Literal["review", "comment"] = "review"
    review_id: int | None = Field(default=None, description="The review (kind review).")
    comment_id: int | None = Field(default=None, description="The comment on the pull request (kind comment).")
    state: str | None = Field(default=None, description="The review's state: changes_requested or commented.")
    author: str
    body: str = Field(default="", max_length=20_000, description="The review's body or the comment (sanitized).")
    url: str = ""
    at: UtcDateTime = Field(description="When the review was submitted (the comment made).")
    notes: list[ReviewNote] = Field(default_factory=list, description="The review's comments, in order.")
    replied: bool = Field(default=False, description="Every thread it addressed has its reply.")
    reply_error: str | None = Field(default=None, description="Why the last try at the replies failed.")
    reply_tries: int = Field(default=0, ge=0, description="Failed tries of the replies in a row.")
    reply_retry_at: UtcDateTime | None = Field(default=None, description="Not before then (the backoff).")

    @property
    def key(self) -> tuple[str, int]:
        """What makes a follow-up unique: the review, or the comment (the same delivered twice is one)."""
        return (self.kind, self.review_id or self.comment_id or 0)
