"""A small, stateful fake of GitHub's REST API on 127.0.0.1, faithful enough to run the real adapter
(:class:`coordinator.github.rest.RestGitHub`, PyGithub underneath) against it.

It serves what coordinator calls: repositories, issues, issue comments, issue events, labels, collaborator
permissions and pull requests (list, create, request reviewers). Answers have GitHub's shapes (see
:mod:`tests.fakes.github_json`), its status codes and its JSON error bodies ``{"message", "documentation_url"[,
"errors"]}``: 401 ``Bad credentials``, 404 ``Not Found``, 422 ``A pull request already exists for o:b.``, 422
``Body is too long (maximum is 65536 characters)``, 422 for a reviewer who is not a collaborator. Listings page
like GitHub's (``per_page``, ``page``, a ``Link`` header pointing at ``/repositories/{id}/…``); every answer has
``X-RateLimit-*`` headers. Changing labels through the API appends ``labeled``/``unlabeled`` events by the token's
user (``token_user``); the seeding helpers append them "as" whoever ``by`` names.

Test controls: :meth:`FakeGitHub.fail` (a route answers an error for N requests or S seconds, optionally after
carrying the write out, like a gateway that times out after GitHub did the work), :attr:`FakeGitHub.requests`
and :meth:`FakeGitHub.call_count`, seeding helpers (:meth:`add_issue`, :meth:`label`, :meth:`add_comment`,
:meth:`set_permission`, ...) and readers (:meth:`issue_comments`, :meth:`pulls`, ...).

Usage::

    with FakeGitHub("octo/repo") as gh:
        number = gh.add_issue("Fix the bug", labels=["coordinator"], author="alice")
        gh.set_permission("alice", "write")
        env = {"GITHUB_API_URL": gh.url, "GITHUB_TOKEN": "t0ken-for-tests"}
        ...
        assert gh.call_count("POST *") == 1
"""

from __future__ import annotations

import fnmatch
import json
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from tests.fakes import github_graphql
from tests.fakes.github_json import (
    LABEL_COLORS,
    CommentRecord,
    EventRecord,
    IssueRecord,
    Label,
    Pull,
    Render,
    Repository,
)
from tests.fakes.github_reviews import REVIEW_ROUTES, ReviewCommentRecord, ReviewRecord, branch_head
from tests.fakes.github_routes import DOCS, ROUTES, Answer, Reply, Request

ROLES = ("admin", "maintain", "write", "triage", "read")


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received: path without the API prefix, query, parsed JSON body (or None)."""

    method: str
    path: str
    query: Mapping[str, str]
    body: Any
    headers: Mapping[str, str]


@dataclass
class _Failure:
    pattern: str
    status: int
    times: int | None
    until: float | None
    headers: Mapping[str, str]
    message: str | None
    carry_out: bool

    def active(self) -> bool:
        return (self.times is None or self.times > 0) and (self.until is None or time.monotonic() < self.until)


def matches(pattern: str, method: str, path: str) -> bool:
    """``pattern`` is ``"METHOD /glob"`` or ``"/glob"`` (any method); ``*`` matches anything, ``/`` included."""
    verb, _, glob = pattern.partition(" ") if not pattern.startswith("/") else ("*", "", pattern)
    return fnmatch.fnmatchcase(method, verb.upper()) and fnmatch.fnmatchcase(path, glob or "*")


class FakeGitHub:
    """The fake server; a context manager. ``url`` is the value for ``GITHUB_API_URL``.

    ``repository``: the first repository (``owner/name``; its owner is an admin, as on GitHub), the default of
    every helper's ``repo``. ``token``: when set, any other token gets 401 ``Bad credentials``. ``token_user``: the
    login the token belongs to (author of what the API creates). ``prefix``: an API path prefix, e.g.
    ``/api/v3`` to look like GitHub Enterprise Server.
    """

    def __init__(
        self,
        repository: str = "octo/repo",
        *,
        default_branch: str = "main",
        token: str | None = None,
        token_user: str = "coordinator-bot",
        prefix: str = "",
    ) -> None:
        self._lock = threading.RLock()
        self._repos: dict[str, Repository] = {}
        self._next_id = 1000
        self._failures: list[_Failure] = []
        self._requests: list[RecordedRequest] = []
        self._graphql_rate_limited = 0
        self._known_users: set[str] = {token_user.lower()}
        self.token = token
        self.token_user = token_user
        self.prefix = prefix.rstrip("/")
        self.default_repository = repository
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.reviews: dict[int, ReviewRecord] = {}
        self.review_comments: dict[int, ReviewCommentRecord] = {}
        #: The bare repository pull requests' branches live in (their ``head.sha`` is read there), if any.
        self.git_dir: Path | None = None
        self.add_repository(repository, default_branch=default_branch)

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> FakeGitHub:
        """Start serving in a daemon thread."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        # A short poll interval: shutdown() waits for it, and every test stops a server.
        server = self._server
        self._thread = threading.Thread(
            target=lambda: server.serve_forever(poll_interval=0.05), name="fake-github", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT``."""
        if self._server is None:
            raise RuntimeError("FakeGitHub is not running: use it as a context manager")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def url(self) -> str:
        """The API root, for ``GITHUB_API_URL``."""
        return self.origin + self.prefix

    # -- test controls ---------------------------------------------------------------------------------------

    def fail(
        self,
        pattern: str,
        status: int = 502,
        *,
        times: int | None = None,
        seconds: float | None = None,
        headers: Mapping[str, str] | None = None,
        message: str | None = None,
        carry_out: bool = False,
    ) -> None:
        """Answer ``status`` to requests matching ``pattern`` (see :func:`matches`, e.g. ``"POST */comments"``)
        for the next ``times`` of them or for ``seconds`` (neither: until :meth:`clear_failures`).
        ``carry_out``: do the work first, then answer the error (a gateway timing out after GitHub wrote)."""
        until = time.monotonic() + seconds if seconds is not None else None
        failure = _Failure(pattern, status, times, until, dict(headers or {}), message, carry_out)
        with self._lock:
            self._failures.append(failure)

    def graphql_rate_limited(self, times: int = 1) -> None:
        """Answer the next ``times`` GraphQL requests with GitHub's primary rate limit (200, ``RATE_LIMITED``)."""
        with self._lock:
            self._graphql_rate_limited = times

    def clear_failures(self) -> None:
        """Forget every :meth:`fail` rule."""
        with self._lock:
            self._failures.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, in order (failed ones included)."""
        with self._lock:
            return list(self._requests)

    def call_count(self, pattern: str | None = None) -> int:
        """How many requests were received (matching ``pattern``, see :func:`matches`)."""
        return sum(1 for r in self.requests if pattern is None or matches(pattern, r.method, r.path))

    def graphql_count(self, field: str) -> int:
        """How many GraphQL requests asked for ``field`` (e.g. ``addComment``)."""
        return sum(
            1
            for r in self.requests
            if r.path.endswith("/graphql") and isinstance(r.body, dict) and field in str(r.body.get("query", ""))
        )

    def comments_made(self) -> int:
        """How many requests made an issue comment, by REST or GraphQL (never more than one per tracking comment)."""
        return self.call_count("POST */issues/*/comments") + self.graphql_count("addComment")

    # -- seeding ---------------------------------------------------------------------------------------------

    def add_repository(self, full_name: str, *, default_branch: str = "main", private: bool = False) -> None:
        """Another repository; its owner is an admin."""
        owner, _, name = full_name.partition("/")
        with self._lock:
            repo = Repository(self._new_id(), owner, name, default_branch=default_branch, private=private)
            repo.roles[owner.lower()] = "admin"
            self._repos[full_name.lower()] = repo
            self._known_users.add(owner.lower())

    def add_user(self, login: str) -> None:
        """A GitHub account that is no collaborator (its permission reads ``read`` on a public repository)."""
        with self._lock:
            self._known_users.add(login.lower())

    def set_permission(self, user: str, role: str, *, repo: str | None = None) -> None:
        """Make ``user`` a collaborator with ``role`` (admin, maintain, write, triage, read)."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        with self._lock:
            self._repo(repo).roles[user.lower()] = role
            self._known_users.add(user.lower())

    def add_issue(
        self,
        title: str,
        body: str | None = "",
        *,
        labels: Iterable[str] = (),
        author: str | None = None,
        repo: str | None = None,
    ) -> int:
        """A new open issue; its labels carry ``labeled`` events by the author. Returns its number."""
        with self._lock:
            target = self._repo(repo)
            who = author or target.owner
            now = _now()
            issue = IssueRecord(self._new_id(), self._next_number(target), title, body, who, now, now)
            target.issues[issue.number] = issue
            self._known_users.add(who.lower())
            for name in labels:
                self._add_label(target, issue, name, who)
            return issue.number

    def add_pull(
        self,
        head: str,
        *,
        base: str | None = None,
        title: str = "A pull request",
        body: str = "",
        draft: bool = False,
        author: str | None = None,
        state: str = "open",
        repo: str | None = None,
    ) -> int:
        """An existing pull request (``head`` is ``owner:branch`` or ``branch``). Returns its number."""
        with self._lock:
            target = self._repo(repo)
            issue = self._new_pull(target, head, base or target.default_branch, title, body, draft, author)
            if state == "closed":
                issue.state, issue.closed_at = "closed", _now()
            return issue.number

    def label(self, issue: int, label: str, *, by: str | None = None, repo: str | None = None) -> None:
        """Apply ``label`` as user ``by`` (a ``labeled`` event by them)."""
        with self._lock:
            target = self._repo(repo)
            self._add_label(target, self._issue(target, issue), label, by or target.owner)

    def unlabel(self, issue: int, label: str, *, by: str | None = None, repo: str | None = None) -> None:
        """Remove ``label`` as user ``by`` (an ``unlabeled`` event)."""
        with self._lock:
            target = self._repo(repo)
            self._remove_label(target, self._issue(target, issue), label, by or target.owner)

    def close(self, issue: int, *, by: str | None = None, reason: str = "completed", repo: str | None = None) -> None:
        """Close an issue as ``by`` (a ``closed`` event)."""
        with self._lock:
            target = self._repo(repo)
            record, who, now = self._issue(target, issue), by or target.owner, _now()
            record.state, record.closed_at, record.closed_by, record.state_reason = "closed", now, who, reason
            record.updated_at = now
            self._event(target, record, "closed", who)

    def reopen(self, issue: int, *, by: str | None = None, repo: str | None = None) -> None:
        """Reopen an issue as ``by`` (a ``reopened`` event)."""
        with self._lock:
            target = self._repo(repo)
            record, who = self._issue(target, issue), by or target.owner
            record.state, record.closed_at, record.closed_by, record.state_reason = "open", None, None, "reopened"
            record.updated_at = _now()
            self._event(target, record, "reopened", who)

    def edit_issue(
        self, issue: int, *, title: str | None = None, body: str | None = None, repo: str | None = None
    ) -> None:
        """Change an issue's title or body (GitHub records no issue event for that)."""
        with self._lock:
            record = self._issue(self._repo(repo), issue)
            record.title = title if title is not None else record.title
            record.body = body if body is not None else record.body
            record.updated_at = _now()

    def add_comment(self, issue: int, body: str, *, by: str | None = None, repo: str | None = None) -> int:
        """A comment by ``by``. Returns its id."""
        with self._lock:
            target = self._repo(repo)
            return self._new_comment(target, self._issue(target, issue), body, by or target.owner).id

    def add_review(
        self,
        pull: int,
        *,
        by: str,
        state: str = "CHANGES_REQUESTED",
        body: str = "",
        comments: Iterable[tuple[str, int, str]] = (),
        repo: str | None = None,
    ) -> tuple[int, list[int]]:
        """A review of pull request ``pull`` submitted now by ``by``, with review comments given as
        ``(path, line, body)``. Returns the review's id and its comments' ids."""
        with self._lock:
            target = self._repo(repo)
            self._issue(target, pull)
            review = ReviewRecord(self._new_id(), target.full_name, pull, by, state.upper(), body, _now())
            self.reviews[review.id] = review
            self._known_users.add(by.lower())
            made = [
                self.add_review_comment(pull, text, by=by, path=path, line=line, review=review.id, repo=repo)
                for path, line, text in comments
            ]
            return review.id, made

    def add_review_comment(
        self,
        pull: int,
        body: str,
        *,
        by: str,
        path: str,
        line: int | None,
        review: int | None = None,
        in_reply_to: int | None = None,
        repo: str | None = None,
    ) -> int:
        """A review comment on ``path`` at ``line`` (in review ``review``, or a one-comment review of its own).
        Returns its id."""
        with self._lock:
            target = self._repo(repo)
            if review is None:
                review = self._new_id()
                record = ReviewRecord(review, target.full_name, pull, by, "COMMENTED", "", _now())
                self.reviews[review] = record
            hunk = f"@@ -1,3 +1,4 @@\n line one\n+line {line} as changed\n line three"
            comment = ReviewCommentRecord(
                self._new_id(), target.full_name, pull, review, by, body, path, line, hunk, _now(), in_reply_to
            )
            self.review_comments[comment.id] = comment
            return comment.id

    def pull_review_comments(self, pull: int, *, repo: str | None = None) -> list[dict[str, Any]]:
        """The review comments of a pull request (replies included), oldest first."""
        from tests.fakes.github_reviews import render_review_comment

        with self._lock:
            target = self._repo(repo)
            kept = [c for c in self.review_comments.values() if (c.repo, c.pull) == (target.full_name, pull)]
            return [render_review_comment(self, target, c) for c in kept]

    def review(self, review_id: int, *, repo: str | None = None) -> dict[str, Any]:
        """A review as ``GET …/pulls/{n}/reviews/{id}`` shows it."""
        from tests.fakes.github_reviews import render_review

        with self._lock:
            return render_review(self, self._repo(repo), self.reviews[review_id])

    # -- readers (the same JSON the API answers) -------------------------------------------------------------

    def issue(self, number: int, *, repo: str | None = None) -> dict[str, Any]:
        """The issue as ``GET /repos/{o}/{r}/issues/{n}`` shows it."""
        with self._lock:
            target = self._repo(repo)
            return self._render.issue(target, self._issue(target, number), self._association(target, number))

    def repo_labels(self, *, repo: str | None = None) -> dict[str, tuple[str, str | None]]:
        """The repository's labels: name → (colour, description)."""
        with self._lock:
            return {name: (label.color, label.description) for name, label in self._repo(repo).labels.items()}

    def issue_labels(self, number: int, *, repo: str | None = None) -> list[str]:
        """The issue's label names."""
        with self._lock:
            return list(self._issue(self._repo(repo), number).labels)

    def issue_comments(self, number: int, *, repo: str | None = None) -> list[dict[str, Any]]:
        """The issue's comments, oldest first."""
        with self._lock:
            target = self._repo(repo)
            return [self._render_comment(target, c) for c in target.comments.values() if c.issue == number]

    def reactions(self, comment_id: int, *, repo: str | None = None) -> list[tuple[str, str]]:
        """The (user, content) reactions on a comment."""
        with self._lock:
            return list(self._repo(repo).comments[comment_id].reactions)

    def delete_comment(self, comment_id: int, *, repo: str | None = None) -> None:
        """Someone deletes a comment."""
        with self._lock:
            del self._repo(repo).comments[comment_id]

    def issue_events(self, number: int, *, repo: str | None = None) -> list[dict[str, Any]]:
        """The issue's events, oldest first."""
        with self._lock:
            target = self._repo(repo)
            return [self._render.event(target, e) for e in target.events if e.issue == number]

    def pulls(self, *, repo: str | None = None) -> list[dict[str, Any]]:
        """Every pull request, oldest first."""
        with self._lock:
            target = self._repo(repo)
            return [
                self._render.pull(target, i, self._author_association(target, i.author))
                for i in target.issues.values()
                if i.pull is not None
            ]

    # -- state (callers hold the lock) -----------------------------------------------------------------------

    @property
    def _render(self) -> Render:
        return Render(self.url, self.origin, lambda ref: branch_head(self.git_dir, ref))

    def _clock(self) -> datetime:
        return _now()

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _next_number(self, repo: Repository) -> int:
        return max(repo.issues, default=0) + 1

    def _repo(self, full_name: str | None) -> Repository:
        name = (full_name or self.default_repository).lower()
        if name not in self._repos:
            raise Answer(404, "Not Found")
        return self._repos[name]

    def _issue(self, repo: Repository, number: int) -> IssueRecord:
        if number not in repo.issues:
            raise Answer(404, "Not Found")
        return repo.issues[number]

    def _event(self, repo: Repository, issue: IssueRecord, event: str, actor: str, label: str | None = None) -> None:
        repo.events.append(EventRecord(self._new_id(), issue.number, event, actor, _now(), label))
        self._known_users.add(actor.lower())

    def _add_label(self, repo: Repository, issue: IssueRecord, name: str, actor: str) -> None:
        if name not in repo.labels:
            repo.labels[name] = Label(self._new_id(), name, LABEL_COLORS[len(repo.labels) % len(LABEL_COLORS)])
        if name not in issue.labels:
            issue.labels.append(name)
            issue.updated_at = _now()
            self._event(repo, issue, "labeled", actor, name)

    def _remove_label(self, repo: Repository, issue: IssueRecord, name: str, actor: str) -> None:
        if name in issue.labels:
            issue.labels.remove(name)
            issue.updated_at = _now()
            self._event(repo, issue, "unlabeled", actor, name)

    def _new_comment(self, repo: Repository, issue: IssueRecord, body: str, author: str) -> CommentRecord:
        now = _now()
        comment = CommentRecord(self._new_id(), issue.number, author, body, now, now)
        repo.comments[comment.id] = comment
        issue.updated_at = now
        self._known_users.add(author.lower())
        return comment

    def _new_pull(
        self, repo: Repository, head: str, base: str, title: str, body: str | None, draft: bool, author: str | None
    ) -> IssueRecord:
        owner, _, ref = head.rpartition(":")
        who = author or self.token_user
        now = _now()
        issue = IssueRecord(self._new_id(), self._next_number(repo), title, body, who, now, now)
        issue.pull = Pull(owner or repo.owner, ref, base, draft)
        repo.issues[issue.number] = issue
        self._known_users.add(who.lower())
        return issue

    def _author_association(self, repo: Repository, login: str) -> str:
        if login.lower() == repo.owner.lower():
            return "OWNER"
        return "COLLABORATOR" if login.lower() in repo.roles else "NONE"

    def _association(self, repo: Repository, number: int) -> str:
        return self._author_association(repo, repo.issues[number].author)

    def _render_comment(self, repo: Repository, comment: CommentRecord) -> dict[str, Any]:
        return self._render.comment(repo, comment, self._author_association(repo, comment.author))

    # -- serving ---------------------------------------------------------------------------------------------

    def _handle(self, method: str, raw_path: str, headers: Mapping[str, str], raw_body: bytes) -> Reply:
        """Record the request, apply failure rules and answer it."""
        split = urlsplit(raw_path)
        path = split.path.removeprefix(self.prefix) if self.prefix else split.path
        # GraphQL lives beside the REST root: /graphql, or /api/graphql on GitHub Enterprise (REST: /api/v3).
        graphql = split.path == self.prefix.removesuffix("/v3") + "/graphql" and method == "POST"
        # ... so /api/v3/graphql is recorded (and answered 404) under its full path, not as GraphQL
        path = "/graphql" if graphql else split.path if path == "/graphql" else path
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        body = _json_or_none(raw_body)
        with self._lock:
            self._requests.append(RecordedRequest(method, path, query, body, dict(headers)))
            failure = next((f for f in self._failures if f.active() and matches(f.pattern, method, path)), None)
            if failure is not None and failure.times is not None:
                failure.times -= 1
            if failure is not None and not failure.carry_out:
                return self._failure_reply(failure)
            reply = self._authorized(headers) or (
                github_graphql.serve(self, body) if graphql else self._dispatch(method, path, query, body)
            )
            return self._failure_reply(failure) if failure is not None else reply

    def _failure_reply(self, failure: _Failure) -> Reply:
        try:
            phrase = HTTPStatus(failure.status).phrase
        except ValueError:
            phrase = "Error"
        body = {"message": failure.message or phrase, "documentation_url": DOCS}
        return Reply(failure.status, body, dict(failure.headers))

    def _authorized(self, headers: Mapping[str, str]) -> Reply | None:
        given = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        scheme, _, token = given.partition(" ")
        if not token or scheme.lower() not in {"token", "bearer"}:
            return Reply(401, {"message": "Requires authentication", "documentation_url": DOCS})
        if self.token is not None and token != self.token:
            return Reply(401, {"message": "Bad credentials", "documentation_url": DOCS})
        return None

    def _dispatch(self, method: str, path: str, query: Mapping[str, str], body: Any) -> Reply:
        path = self._canonical(path)
        for verb, pattern, route in [*ROUTES, *REVIEW_ROUTES]:
            found = re.fullmatch(pattern, path)
            if verb == method and found:
                try:
                    repo = self._repo(f"{found['owner']}/{found['name']}")
                    params = {k: unquote(v) for k, v in found.groupdict().items()}
                    return route(self, repo, Request(path, params, query, body))
                except Answer as answer:
                    return Reply(answer.status, answer.body)
                except Exception as error:  # a bug of the fake: answer it, loudly, instead of hanging up
                    return Reply(500, {"message": f"fake GitHub failed: {error!r}", "documentation_url": DOCS})
        return Reply(404, {"message": "Not Found", "documentation_url": DOCS})

    def _canonical(self, path: str) -> str:
        """``/repositories/{id}/…`` (GitHub's page links) → ``/repos/{owner}/{name}/…``."""
        found = re.match(r"/repositories/(\d+)(/.*)?$", path)
        if found:
            for repo in self._repos.values():
                if repo.id == int(found.group(1)):
                    return f"/repos/{repo.full_name}{found.group(2) or ''}"
        return path

    def _page(self, repo: Repository, path: str, items: list[Any], query: Mapping[str, str]) -> Reply:
        per_page = min(100, max(1, int(query.get("per_page", "30"))))
        page = max(1, int(query.get("page", "1")))
        last = max(1, -(-len(items) // per_page))
        reply = Reply(200, items[(page - 1) * per_page : page * per_page])
        if last > 1:
            # GitHub points page links at the repository's id, not its name (they survive a rename).
            link = f"{self.url}/repositories/{repo.id}{path.removeprefix(f'/repos/{repo.full_name}')}"
            params = {k: v for k, v in query.items() if k != "page"}
            rels = [("prev", page - 1), ("first", 1)] if page > 1 else []
            rels += [("next", page + 1), ("last", last)] if page < last else []
            reply.headers["Link"] = ", ".join(
                f'<{link}?{urlencode({**params, "page": target})}>; rel="{rel}"' for rel, target in rels
            )
        return reply


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _json_or_none(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _make_handler(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive with Content-Length, as requests' connection pool expects
        disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall

        def log_message(self, format: str, *args: Any) -> None:
            """Stay quiet: test output should not fill with access logs."""

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            reply = fake._handle(self.command, self.path, dict(self.headers), raw)
            data = b"" if reply.status == 204 else json.dumps(reply.body).encode()
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "Content-Length": str(len(data)),
                "X-GitHub-Media-Type": "github.v3; format=json",
                "X-RateLimit-Limit": "5000",
                "X-RateLimit-Remaining": str(max(0, 5000 - fake.call_count())),
                "X-RateLimit-Reset": str(int(time.time()) + 3600),
                "X-RateLimit-Resource": "core",
            }
            for name, value in reply.headers.items():  # a failure rule's headers win (X-RateLimit-Remaining: 0)
                headers = {k: v for k, v in headers.items() if k.lower() != name.lower()} | {name: value}
            self.send_response(reply.status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    return Handler
