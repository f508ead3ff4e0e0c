"""Pull request reviews in the fake GitHub (:mod:`tests.fakes.github_server`): reviews and their comments as
records, their JSON (the shapes of ``tests/fixtures/github/rest/pull-review*.json`` and ``review-comments.json``),
and the routes coordinator calls: one pull request, one review, a review's comments, a pull request's review
comments, and a reply in a thread (201; 404 for a comment that is not on that pull request; 422 for a reply to a
reply, which GitHub does not support)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.fakes.github_json import Repository, iso, node_id
from tests.fakes.github_routes import MAX_BODY, TOO_LONG, Answer, Reply, Request, invalid

if TYPE_CHECKING:
    from tests.fakes.github_server import FakeGitHub

#: The head commit the fake shows for a pull request whose branch it cannot look up.
NO_SHA = "0" * 40


@dataclass
class ReviewRecord:
    """A submitted review of a pull request."""

    id: int
    repo: str
    pull: int
    author: str
    state: str  # upper case, as the REST API writes it: CHANGES_REQUESTED, COMMENTED, APPROVED
    body: str
    submitted_at: datetime
    commit_id: str = NO_SHA


@dataclass
class ReviewCommentRecord:
    """A comment on a line of a pull request's diff, in a review (or a reply in its thread)."""

    id: int
    repo: str
    pull: int
    review_id: int
    author: str
    body: str
    path: str
    line: int | None
    diff_hunk: str
    created_at: datetime
    in_reply_to: int | None = None
    start_line: int | None = None


def branch_head(git_dir: Path | None, branch: str) -> str:
    """The commit ``branch`` points at in the bare repository ``git_dir`` (the remote the fake stands for)."""
    if git_dir is None:
        return NO_SHA
    done = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
        cwd=git_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or NO_SHA


def render_review(fake: FakeGitHub, repo: Repository, review: ReviewRecord) -> dict[str, Any]:
    """A review object (``pull-request-review``)."""
    html = f"{fake.origin}/{repo.full_name}/pull/{review.pull}#pullrequestreview-{review.id}"
    pull_url = f"{fake.url}/repos/{repo.full_name}/pulls/{review.pull}"
    return {
        "id": review.id,
        "node_id": node_id("PullRequestReview", review.id),
        "user": fake._render.user(review.author),
        "body": review.body,
        "state": review.state,
        "html_url": html,
        "pull_request_url": pull_url,
        "_links": {"html": {"href": html}, "pull_request": {"href": pull_url}},
        "submitted_at": iso(review.submitted_at),
        "commit_id": review.commit_id,
        "author_association": fake._author_association(repo, review.author),
    }


def render_review_comment(fake: FakeGitHub, repo: Repository, comment: ReviewCommentRecord) -> dict[str, Any]:
    """A review-comment object (``pull-request-review-comment``)."""
    api = f"{fake.url}/repos/{repo.full_name}/pulls"
    html = f"{fake.origin}/{repo.full_name}/pull/{comment.pull}#discussion_r{comment.id}"
    data: dict[str, Any] = {
        "url": f"{api}/comments/{comment.id}",
        "pull_request_review_id": comment.review_id,
        "id": comment.id,
        "node_id": node_id("PullRequestReviewComment", comment.id),
        "diff_hunk": comment.diff_hunk,
        "path": comment.path,
        "commit_id": NO_SHA,
        "original_commit_id": NO_SHA,
        "user": fake._render.user(comment.author),
        "body": comment.body,
        "created_at": iso(comment.created_at),
        "updated_at": iso(comment.created_at),
        "html_url": html,
        "pull_request_url": f"{api}/{comment.pull}",
        "author_association": fake._author_association(repo, comment.author),
        "_links": {
            "self": {"href": f"{api}/comments/{comment.id}"},
            "html": {"href": html},
            "pull_request": {"href": f"{api}/{comment.pull}"},
        },
        "start_line": comment.start_line,
        "original_start_line": comment.start_line,
        "start_side": "RIGHT" if comment.start_line else None,
        "line": comment.line,
        "original_line": comment.line,
        "side": "RIGHT",
        "subject_type": "line",
    }
    if comment.in_reply_to is not None:
        data["in_reply_to_id"] = comment.in_reply_to
    return data


def _pull_number(fake: FakeGitHub, repo: Repository, request: Request) -> int:
    issue = fake._issue(repo, int(request.params["number"]))
    if issue.pull is None:
        raise Answer(404, "Not Found")
    return issue.number


def _review(fake: FakeGitHub, repo: Repository, request: Request) -> ReviewRecord:
    number = _pull_number(fake, repo, request)
    review = fake.reviews.get(int(request.params["review_id"]))
    if review is None or review.pull != number or review.repo != repo.full_name:
        raise Answer(404, "Not Found")
    return review


def get_pull(fake: FakeGitHub, repo: Repository, request: Request) -> Reply:
    """``GET /repos/{o}/{r}/pulls/{n}``."""
    issue = fake._issue(repo, _pull_number(fake, repo, request))
    return Reply(200, fake._render.pull(repo, issue, fake._author_association(repo, issue.author)))


def get_review(fake: FakeGitHub, repo: Repository, request: Request) -> Reply:
    """``GET /repos/{o}/{r}/pulls/{n}/reviews/{id}``."""
    return Reply(200, render_review(fake, repo, _review(fake, repo, request)))


def list_review_comments(fake: FakeGitHub, repo: Repository, request: Request) -> Reply:
    """``GET /repos/{o}/{r}/pulls/{n}/reviews/{id}/comments`` (paged)."""
    review = _review(fake, repo, request)
    items = [render_review_comment(fake, repo, c) for c in fake.review_comments.values() if c.review_id == review.id]
    return fake._page(repo, request.path, items, request.query)


def list_pull_comments(fake: FakeGitHub, repo: Repository, request: Request) -> Reply:
    """``GET /repos/{o}/{r}/pulls/{n}/comments`` (paged, oldest first)."""
    number = _pull_number(fake, repo, request)
    comments = [c for c in fake.review_comments.values() if (c.repo, c.pull) == (repo.full_name, number)]
    items = [render_review_comment(fake, repo, c) for c in comments]
    return fake._page(repo, request.path, items, request.query)


def reply(fake: FakeGitHub, repo: Repository, request: Request) -> Reply:
    """``POST /repos/{o}/{r}/pulls/{n}/comments/{id}/replies``: the token's user replies in the thread."""
    number = _pull_number(fake, repo, request)
    first = fake.review_comments.get(int(request.params["comment_id"]))
    if first is None or (first.repo, first.pull) != (repo.full_name, number):
        raise Answer(404, "Not Found")
    if first.in_reply_to is not None:
        raise invalid("PullRequestReviewComment", "Replies to replies are not supported", "in_reply_to")
    body = request.body.get("body") if isinstance(request.body, dict) else None
    if not isinstance(body, str) or not body:
        raise Answer(422, 'Invalid request.\n\n"body" wasn\'t supplied.')
    if len(body) > MAX_BODY:
        raise invalid("PullRequestReviewComment", TOO_LONG, "body", "unprocessable")
    made = fake.add_review_comment(
        number, body, by=fake.token_user, path=first.path, line=first.line, in_reply_to=first.id, repo=repo.full_name
    )
    return Reply(201, render_review_comment(fake, repo, fake.review_comments[made]))


_PULL = r"/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)/pulls/(?P<number>\d+)"

#: The review routes, added to :data:`tests.fakes.github_routes.ROUTES`.
REVIEW_ROUTES = [
    ("GET", _PULL, get_pull),
    ("GET", _PULL + r"/reviews/(?P<review_id>\d+)", get_review),
    ("GET", _PULL + r"/reviews/(?P<review_id>\d+)/comments", list_review_comments),
    ("GET", _PULL + r"/comments", list_pull_comments),
    ("POST", _PULL + r"/comments/(?P<comment_id>\d+)/replies", reply),
]
