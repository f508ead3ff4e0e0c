"""The GitHub adapter: :class:`RestGitHub` implements :class:`~coordinator.github.api.GitHubAPI` with PyGithub,
and this is the only module of coordinator that imports PyGithub.

Every protocol method is one REST request (a listing: one per page of 100), sent through PyGithub's requester
with a path built here. PyGithub's objects are not used: reading an attribute a response lacked makes them fetch
the object again, a hidden GET that spends rate limit and breaks the budget of a task's life (8 calls).

Retries are decided here, not by PyGithub (``retry=None``): its default re-sends a POST that GitHub carried out
but answered 502, which is how tools post duplicate comments. A read (GET) is tried up to three times on a
transient error within ten seconds, waiting what GitHub asked (``Retry-After``, ``X-RateLimit-Reset``); a write
is sent once and its :class:`GitHubError` says whether and when the caller (which keeps pending deliveries and
makes them idempotent) may send it again.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import requests
from github import Auth, Github
from github.Requester import HTTPRequestsConnectionClass, HTTPSRequestsConnectionClass, Requester, RequestsResponse

from coordinator import __version__
from coordinator.errors import ConfigError
from coordinator.github import checks, graphql, review_shapes, shapes
from coordinator.github.api import (
    Batch,
    Comment,
    GitHubAPI,
    GitHubError,
    Issue,
    IssueEvent,
    PullRequest,
    Review,
    ReviewComment,
)
from coordinator.github.failures import bad_answer, check_body_length, http_error, moved, no_answer
from coordinator.github.settings import GitHubSettings

PER_PAGE = 100
READ_TRIES = 3
READ_RETRY_BUDGET = 10.0  # seconds a read may spend waiting between its tries
MAX_PAGES = 100  # 10,000 comments or events: past that something is wrong, not the issue

T = TypeVar("T")

_ACCEPT = {"Accept": "application/vnd.github+json"}


class _RequestCounter:
    """HTTP requests sent, counted where they leave (thread-safe: runner slots share one adapter)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def add(self) -> None:
        with self._lock:
            self.value += 1


class _CountingHTTPS(HTTPSRequestsConnectionClass):
    def __init__(self, *args: Any, counter: _RequestCounter, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._counter = counter

    def getresponse(self) -> RequestsResponse:
        self._counter.add()
        return super().getresponse()


class _CountingHTTP(HTTPRequestsConnectionClass):
    def __init__(self, *args: Any, counter: _RequestCounter, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._counter = counter

    def getresponse(self) -> RequestsResponse:
        self._counter.add()
        return super().getresponse()


def _count_requests(requester: Requester, counter: _RequestCounter) -> None:
    """Make ``requester`` open connections that count every request they send (redirects and pages included).

    PyGithub has no public per-instance hook for its connection class (``injectConnectionClasses`` is global and
    turns keep-alive off), so the instance's own attribute is replaced before its first connection is made.
    """
    attribute = "_Requester__connectionClass"
    if not hasattr(requester, attribute):
        raise ConfigError(
            "this PyGithub version is not supported: install PyGithub 2.x ('pip install \"PyGithub>=2.1,<3\"')"
        )
    base = _CountingHTTPS if requester.scheme == "https" else _CountingHTTP

    def connection(*args: Any, **kwargs: Any) -> HTTPRequestsConnectionClass | HTTPSRequestsConnectionClass:
        return base(*args, counter=counter, **kwargs)

    setattr(requester, attribute, connection)


class RestGitHub:
    """:class:`~coordinator.github.api.GitHubAPI` over GitHub's REST API (github.com or GitHub Enterprise Server).

    ``timeout``: seconds to wait for an answer (GitHub ends a REST request itself after 10 s). ``sleep`` and
    ``clock`` are the waits between read retries and the time ``X-RateLimit-Reset`` is measured from (tests pass
    their own). Use as a context manager or call :meth:`close` to free the connection.
    """

    def __init__(
        self,
        settings: GitHubSettings,
        *,
        timeout: int = 15,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._sleep = sleep
        self._clock = clock
        self._counter = _RequestCounter()
        self._github = Github(
            base_url=settings.api_url,
            auth=Auth.Token(settings.token),
            timeout=timeout,
            user_agent=f"coordinator/{__version__}",
            per_page=PER_PAGE,
            retry=None,
            seconds_between_requests=0,
            seconds_between_writes=0,
            lazy=True,
        )
        self._requester = self._github.requester
        _count_requests(self._requester, self._counter)

    def __repr__(self) -> str:
        return f"RestGitHub(api_url={self._settings.api_url!r}, calls={self.calls})"

    def __enter__(self) -> RestGitHub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connection."""
        self._github.close()

    @property
    def calls(self) -> int:
        """HTTP requests sent so far (retries, redirects and pages included)."""
        return self._counter.value

    # -- the protocol ----------------------------------------------------------------------------------------

    def permission(self, repo: str, user: str) -> str:
        """``user``'s role on ``repo`` (admin, maintain, write, triage, read, none); unknown users: none."""
        checks.check_login(user)
        try:
            data = self._call("GET", f"{checks.repo_path(repo)}/collaborators/{quote(user, safe='')}/permission")
        except GitHubError as error:
            if error.status == 404:
                return "none"
            raise
        return self._read(shapes.permission_from, data, "collaborator permission")

    def issue(self, repo: str, number: int) -> Issue:
        """One issue (a pull request is an issue too, for this endpoint)."""
        data = self._call("GET", f"{checks.repo_path(repo)}/issues/{checks.number(number)}")
        return self._read(shapes.issue_from, data, "issue")

    def issue_events(self, repo: str, number: int) -> list[IssueEvent]:
        """The issue's events, oldest first (every page)."""
        items = self._all_pages(f"{checks.repo_path(repo)}/issues/{checks.number(number)}/events")
        return self._read(shapes.events_from, items, "issue events")

    def comments(self, repo: str, number: int) -> list[Comment]:
        """The issue's comments, oldest first (every page)."""
        items = self._all_pages(f"{checks.repo_path(repo)}/issues/{checks.number(number)}/comments")
        return self._read(shapes.comments_from, items, "comments")

    def comment(self, repo: str, comment_id: int) -> Comment:
        """One issue comment."""
        data = self._call("GET", f"{checks.repo_path(repo)}/issues/comments/{checks.number(comment_id)}")
        return self._read(shapes.comment_from, data, "comment")

    def add_reaction(self, repo: str, comment_id: int, content: str) -> None:
        """React to an issue comment, once (GitHub answers 200 when the reaction is there already)."""
        path = f"{checks.repo_path(repo)}/issues/comments/{checks.number(comment_id)}/reactions"
        self._call("POST", path, body={"content": content})

    def create_comment(self, repo: str, number: int, body: str) -> Comment:
        """Post a comment, once (a failure is never re-sent here)."""
        check_body_length(body, "comment")
        data = self._call(
            "POST", f"{checks.repo_path(repo)}/issues/{checks.number(number)}/comments", body={"body": body}
        )
        return self._read(shapes.comment_from, data, "created comment")

    def edit_comment(self, repo: str, comment_id: int, body: str) -> Comment:
        """Replace a comment's body; the comment as it is now."""
        check_body_length(body, "comment")
        path = f"{checks.repo_path(repo)}/issues/comments/{checks.number(comment_id)}"
        return self._read(shapes.comment_from, self._call("PATCH", path, body={"body": body}), "edited comment")

    def set_labels(self, repo: str, number: int, labels: list[str]) -> None:
        """Replace the issue's labels with ``labels`` (an empty list removes them all)."""
        self._call(
            "PUT", f"{checks.repo_path(repo)}/issues/{checks.number(number)}/labels", body={"labels": list(labels)}
        )

    def add_labels(self, repo: str, number: int, labels: list[str]) -> dict[str, str]:
        """Add ``labels`` (GitHub creates unknown ones; adding one already there changes nothing); returns the
        issue's labels after (name → node id)."""
        for label in labels:
            checks.check_label(label)
        path = f"{checks.repo_path(repo)}/issues/{checks.number(number)}/labels"
        return self._read(shapes.label_ids, self._call("POST", path, body={"labels": list(labels)}), "labels")

    def remove_label(self, repo: str, number: int, label: str) -> None:
        """Take ``label`` off the issue; a label that is not on it is no error (GitHub's 404 "Label does not
        exist"), a missing issue or repository is."""
        checks.check_label(label)
        path = f"{checks.repo_path(repo)}/issues/{checks.number(number)}/labels/{quote(label, safe='')}"
        try:
            self._call("DELETE", path)
        except GitHubError as error:
            if error.status != 404 or "label does not exist" not in str(error).lower():
                raise

    def create_label(self, repo: str, name: str, *, color: str, description: str) -> tuple[str, bool]:
        """Make a label, or look up the one of that name (GitHub's 422 ``already_exists``): (node id, made)."""
        checks.check_label(name)
        path = f"{checks.repo_path(repo)}/labels"
        try:
            data = self._call("POST", path, body={"name": name, "color": color, "description": description})
        except GitHubError as error:
            if error.status != 422 or "already_exists" not in str(error):
                raise
            return self._read(shapes.node_id, self._call("GET", f"{path}/{quote(name, safe='')}"), "label"), False
        return self._read(shapes.node_id, data, "created label"), True

    def create_with_labels(
        self, repo: str, number: int, *, issue_node: str, body: str, add: Mapping[str, str]
    ) -> Batch:
        """Post a comment and add labels in one GraphQL request, once (never re-sent here)."""
        check_body_length(body, "comment")
        return graphql.send_create(
            self._graphql, repo, checks.number(number), issue_node=issue_node, body=body, add=add
        )

    def edit_with_labels(
        self,
        repo: str,
        number: int,
        *,
        issue_node: str,
        comment: tuple[str, str] | None,
        add: Mapping[str, str],
        remove: Mapping[str, str],
    ) -> Batch:
        """Edit a comment and change labels in one GraphQL request."""
        if comment is not None:
            check_body_length(comment[1], "comment")
        return graphql.send_edit(
            self._graphql, repo, checks.number(number), issue_node=issue_node, comment=comment, add=add, remove=remove
        )

    def find_pull(self, repo: str, head: str) -> PullRequest | None:
        """The newest pull request, open or closed, whose head is ``head`` (``owner:branch``); or None."""
        checks.check_head(head)
        params = {"head": head, "state": "all", "sort": "created", "direction": "desc", "per_page": PER_PAGE}
        data = self._call("GET", f"{checks.repo_path(repo)}/pulls", params=params)
        # GitHub filters by head already; checking again guards against a server that ignored the filter (it
        # does so silently for a head without an owner) and would hand back somebody else's pull request.
        wanted = head.lower()
        for item in self._read(shapes.listing, data, "pull requests"):
            if self._read(shapes.pull_head, item, "pull request").lower() == wanted:
                return self._read(shapes.pull_from, item, "pull request")
        return None

    def create_pull(self, repo: str, *, base: str, head: str, title: str, body: str, draft: bool) -> PullRequest:
        """Open a pull request; status 422 when one exists for ``head`` already (or it has no commits)."""
        check_body_length(body, "pull request body")
        payload = {"title": title, "body": body, "head": head, "base": base, "draft": draft}
        data = self._call("POST", f"{checks.repo_path(repo)}/pulls", body=payload)
        return self._read(shapes.pull_from, data, "created pull request")

    def request_reviewers(self, repo: str, number: int, reviewers: list[str]) -> None:
        """Ask ``reviewers`` to review pull request ``number`` (no request at all for an empty list)."""
        for reviewer in reviewers:
            checks.check_login(reviewer)
        if reviewers:
            path = f"{checks.repo_path(repo)}/pulls/{checks.number(number)}/requested_reviewers"
            self._call("POST", path, body={"reviewers": list(reviewers)})

    def default_branch(self, repo: str) -> str:
        """The repository's default branch."""
        return self._read(shapes.default_branch_from, self._call("GET", checks.repo_path(repo)), "repository")

    def pull(self, repo: str, number: int) -> PullRequest:
        """One pull request, with its head branch and commit."""
        data = self._call("GET", f"{checks.repo_path(repo)}/pulls/{checks.number(number)}")
        return self._read(review_shapes.pull_detail_from, data, "pull request")

    def review(self, repo: str, number: int, review_id: int) -> Review:
        """One review of pull request ``number``."""
        data = self._call(
            "GET", f"{checks.repo_path(repo)}/pulls/{checks.number(number)}/reviews/{checks.number(review_id)}"
        )
        return self._read(review_shapes.review_from, data, "review")

    def review_comments(self, repo: str, number: int, review_id: int) -> list[ReviewComment]:
        """The comments of one review (every page)."""
        path = f"{checks.repo_path(repo)}/pulls/{checks.number(number)}/reviews/{checks.number(review_id)}/comments"
        return self._read(review_shapes.review_comments_from, self._all_pages(path), "review comments")

    def pull_comments(self, repo: str, number: int) -> list[ReviewComment]:
        """Every review comment of pull request ``number``, oldest first (every page)."""
        items = self._all_pages(f"{checks.repo_path(repo)}/pulls/{checks.number(number)}/comments")
        return self._read(review_shapes.review_comments_from, items, "review comments")

    def reply_to_review_comment(self, repo: str, number: int, comment_id: int, body: str) -> ReviewComment:
        """Reply in the thread of review comment ``comment_id``, once (a failure is never re-sent here)."""
        check_body_length(body, "reply")
        path = f"{checks.repo_path(repo)}/pulls/{checks.number(number)}/comments/{checks.number(comment_id)}/replies"
        return self._read(review_shapes.review_comment_from, self._call("POST", path, body={"body": body}), "reply")

    # -- transport -------------------------------------------------------------------------------------------

    def _call(self, verb: str, path: str, *, params: Mapping[str, Any] | None = None, body: Any = None) -> Any:
        """One request's JSON answer; a GET is retried on transient errors (bounded), a write never."""
        return self._call_with_headers(verb, path, params=params, body=body)[1]

    def _call_with_headers(
        self, verb: str, path: str, *, params: Mapping[str, Any] | None = None, body: Any = None
    ) -> tuple[dict[str, Any], Any]:
        tries = READ_TRIES if verb == "GET" else 1
        waited = 0.0
        for attempt in range(1, tries + 1):
            try:
                return self._send(verb, path, params, body)
            except GitHubError as error:
                delay = _retry_delay(error, attempt=attempt, tries=tries, waited=waited)
                if delay is None:
                    raise
                self._sleep(delay)
                waited += delay
        raise AssertionError("unreachable: the last try returns or raises")

    def _send(self, verb: str, path: str, params: Mapping[str, Any] | None, body: Any) -> tuple[dict[str, Any], Any]:
        """One request. PyGithub's ``requestJson`` gives the status, so a 3xx it did not follow (GitHub answers
        307 to a write on a renamed repository) is an error here, not a success with a "Moved" body."""
        call = f"{verb} {urlsplit(path).path}"
        try:
            status, headers, output = self._requester.requestJson(
                verb, path, parameters=dict(params) if params else None, headers=dict(_ACCEPT), input=body
            )
        except (requests.ConnectionError, requests.Timeout) as error:
            raise self._redacted(no_answer(call, type(error).__name__)) from None
        except (requests.RequestException, RuntimeError) as error:
            # RuntimeError: PyGithub refuses a redirect to another host or scheme.
            raise self._redacted(bad_answer(call, f"{type(error).__name__}: {error}")) from None
        data = _json_or_none(output)
        if status >= 400:
            now, source = self._clock(), self._settings.token_source
            raise self._redacted(http_error(status, headers, data, call=call, now=now, token_source=source))
        if status >= 300:
            raise self._redacted(moved(call, status, str(headers.get("location", ""))))
        if data is None and output.strip():
            raise self._redacted(bad_answer(call, "its body is not JSON"))
        return headers, data

    def _graphql(self, document: str, variables: dict[str, Any]) -> Any:
        """One GraphQL request (never re-sent here); GitHub's rate limit, which it answers with 200 and an error,
        raises a transient :class:`GitHubError` that says when to try again."""
        headers, data = self._send(
            "POST", self._requester.graphql_url, None, {"query": document, "variables": variables}
        )
        error = graphql.errors_of(data, call="POST /graphql")
        if error is not None and error.transient:
            reset = str(headers.get("x-ratelimit-reset", ""))
            wait = max(0.0, float(reset) - self._clock()) if reset.isdigit() else None
            raise self._redacted(GitHubError(str(error), status=error.status, transient=True, retry_after=wait))
        return data

    def _all_pages(self, path: str) -> list[Any]:
        """Every item of a listing, following GitHub's ``Link: <…>; rel="next"`` (each page one request)."""
        items: list[Any] = []
        url: str | None = path
        pages = 0
        while url is not None:
            pages += 1
            if pages > MAX_PAGES:
                raise GitHubError(f"{path} has more than {MAX_PAGES} pages: coordinator stops reading there")
            headers, data = self._call_with_headers("GET", url, params={"per_page": PER_PAGE} if url == path else None)
            items.extend(self._read(shapes.listing, data, "listing"))
            url = self._next_page(headers.get("link", ""), path)
        return items

    def _next_page(self, link: str, path: str) -> str | None:
        """The ``rel="next"`` URL of a ``Link`` header, if it points at this API (never elsewhere)."""
        for part in link.split(","):
            target, _, rest = part.partition(";")
            if 'rel="next"' not in rest.replace(" ", ""):
                continue
            url = target.strip().removeprefix("<").removesuffix(">")
            api = urlsplit(self._settings.api_url)
            there = urlsplit(url)
            if (there.scheme, there.netloc) != (api.scheme, api.netloc) or not there.path.startswith(api.path):
                raise bad_answer(f"GET {path}", "its next page is on another server")
            return url
        return None

    def _read(self, parse: Callable[[Any], T], data: Any, what: str) -> T:
        try:
            return parse(data)
        except shapes.ShapeError as error:
            raise bad_answer(what, str(error)) from None

    def _redacted(self, error: GitHubError) -> GitHubError:
        """``error`` without the token in its message (GitHub never echoes it; a proxy or a test server might)."""
        text = str(error)
        if self._settings.token not in text:
            return error
        return GitHubError(
            text.replace(self._settings.token, "***"),
            status=error.status,
            transient=error.transient,
            retry_after=error.retry_after,
        )


def _is_the_protocol(adapter: RestGitHub) -> GitHubAPI:
    """Never called: mypy checks here that :class:`RestGitHub` implements every method of the protocol."""
    return adapter


def _json_or_none(output: str) -> Any:
    """The parsed body, or None when there is none or it is not JSON (a gateway's HTML page)."""
    try:
        return json.loads(output) if output.strip() else None
    except ValueError:
        return None


def _retry_delay(error: GitHubError, *, attempt: int, tries: int, waited: float) -> float | None:
    """Seconds to wait before trying a read again, or None to give up and raise ``error`` now."""
    if not error.transient or attempt >= tries:
        return None
    backoff = 0.5 * 2.0 ** (attempt - 1)
    delay = max(backoff, error.retry_after or 0.0)
    if waited + delay > READ_RETRY_BUDGET:
        return None  # e.g. a primary rate limit resetting in half an hour: the caller decides
    return delay
