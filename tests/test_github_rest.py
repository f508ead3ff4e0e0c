"""The GitHub adapter (:mod:`coordinator.github.rest`) against recorded answers (``responses``), with bodies from
GitHub's own OpenAPI examples (``tests/fixtures/github/rest/``, see SOURCES.md): one HTTP request per method, no
write retried, reads retried within bounds, rate limits and errors read right, the token never shown."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from coordinator.errors import ConfigError
from coordinator.github.api import GitHubAPI, GitHubError
from coordinator.github.failures import MAX_BODY_CHARS, retry_after_seconds
from coordinator.github.rest import RestGitHub
from coordinator.github.settings import DEFAULT_API_URL, GitHubSettings

FIXTURES = Path(__file__).parent / "fixtures" / "github" / "rest"
TOKEN = "ghp_TestToken1234567890abcdef"
# PyGithub sends the port explicitly, and ``responses`` matches URLs as sent.
API = "https://api.github.com:443"
REPO = "octocat/Hello-World"
NOW = 1_800_000_000.0


def fixture(name: str) -> Any:
    """A REST example from GitHub's OpenAPI description (a fresh copy)."""
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


class Sleeps(list[float]):
    """Records the waits the adapter asks for (no test sleeps)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def api(sleeps: Sleeps) -> Iterator[RestGitHub]:
    settings = GitHubSettings(DEFAULT_API_URL, TOKEN, REPO, token_source="GITHUB_TOKEN")
    with RestGitHub(settings, sleep=sleeps, clock=lambda: NOW) as adapter:
        yield adapter


def body_of(call: Any) -> Any:
    return json.loads(call.request.body)


def test_it_is_the_protocol(api: RestGitHub) -> None:
    # mypy checks the signatures (rest._is_the_protocol); this checks no method of the protocol is missing.
    wanted = {name for name in vars(GitHubAPI) if not name.startswith("_")}
    assert wanted and all(callable(getattr(api, name)) or name == "calls" for name in wanted)
    assert api.calls == 0


# -- each method against GitHub's example bodies: one request each ----------------------------------------------


def test_issue(api: RestGitHub, mocked: responses.RequestsMock) -> None:
    mocked.get(f"{API}/repos/{REPO}/issues/1347", json=fixture("issue"))
    issue = api.issue(REPO, 1347)
    assert (issue.number, issue.title, issue.body, issue.state) == (
        1347,
        "Found a bug",
        "I'm having a problem with this.",
        "open",
    )
    assert issue.labels == ("bug",) and issue.author == "octocat"
    assert issue.html_url == "https://github.com/octocat/Hello-World/issues/1347"
    assert issue.updated_at == datetime(2011, 4, 22, 13, 33, 48, tzinfo=UTC)
    assert len(mocked.calls) == 1 == api.calls


def test_issue_events(api: RestGitHub, mocked: responses.RequestsMock) -> None:
    events = fixture("issue-events")
    labeled = copy.deepcopy(events[0]) | {"id": 2, "event": "labeled", "label": {"name": "coordinator", "color": "red"}}
    mocked.get(f"{API}/repos/{REPO}/issues/1347/events", json=[*events, labeled])
    found = api.issue_events(REPO, 1347)
    assert [(e.event, e.actor, e.label) for e in found] == [
        ("closed", "octocat", "label"),
        ("labeled", "octocat", "coordinator"),
    ]
    assert found[0].created_at == datetime(2011, 4, 14, 16, 0, 49, tzinfo=UTC)
    assert mocked.calls[0].request.params == {"per_page": "100"}
    assert len(mocked.calls) == 1 == api.calls


def test_comments(api: RestGitHub, mocked: responses.RequestsMock) -> None:
    mocked.get(f"{API}/repos/{REPO}/issues/1347/comments", json=fixture("issue-comments"))
    [comment] = api.comments(REPO, 1347)
    assert (comment.id, comment.author, comment.body) == (1, "octocat", "Me too")
    assert comment.html_url == "https://github.com/octocat/Hello-World/issues/1347#issuecomment-1"
    assert comment.created_at == datetime(2011, 4, 14, 16, 0, 49, tzinfo=UTC)
    assert len(mocked.calls) == 1 == api.calls


def test_create_comment(api: RestGitHub, mocked: responses.RequestsMock) -> None:
    mocked.post(f"{API}/repos/{REPO}/issues/1347/comments", json=fixture("issue-comment"), status=201)
    comment = api.create_comment(REPO, 1347, "Me too")
    assert (comment.id, comment.body, comment.author) == (1, "Me too", "octocat")
    assert body_of(mocked.calls[0]) == {"body": "Me too"}
    assert len(mocked.calls) == 1 == api.calls


def test_edit_comment(api: RestGitHub, mocked: responses.RequestsMock) -> None:
    mocked.patch(f"{API}/repos/{REPO}/issues/comments/1", json=fixture("issue-comment"))
    api.edit_comment(REPO, 1, "Me too")
    assert body_of(mocked.calls[0]) == {"body": "Me too"}
    assert len(mocked.calls) == 1 == api.calls


def test_set_labels(api: RestGitHub, mocked: responses.RequestsMock) -> None:
    mocked.put(f"{API}/repos/{REPO}/issues/1347/labels", json=fixture("labels"))
    api.set_labels(REPO, 1347, ["bug", "enhancement"])
    assert body_of(mocked.calls[0]) == {"labels": ["bug", "enhancement"]}
    assert len(mocked.calls) == 1 == api.calls


def test_add_labels_returns_the_labels_after(api: RestGitHub, mocked: responses.RequestsMock) -> None:
    mocked.post(f"{API}/repos/{REPO}/issues/1347/labels", json=fixture("labels"))
    labels = fixture("labels")
    assert api.add_labels(REPO, 1347, ["enhancement"]) == {
        "bug": labels[0]["node_id"],
        "enhancement": labels[1]["node_id"],
    }
    assert body_of(mocked.calls[0]) == {"labels": ["enhancement"]}
    assert len(mocked.calls) == 1 == api.calls


def test_remove_label_quotes_the_name_and_forgives_a_label_not_there(
    api: RestGitHub, mocked: responses.RequestsMock
) -> None:
    url = f"{API}/repos/{REPO}/issues/1347/labels/coordinator%3Arunning%20now"
    mocked.delete(url, json=fixture("labels-after-removal"))
    api.remove_label(REPO, 1347, "coordinator:running now")
    mocked.replace(
        responses.DELETE, url, status=404, json={"message": "Label does not exist", "documentation_url": "x"}
    )
    api.remove_label(REPO, 1347, "coordinator:running now")  # gone already: idempotent
    mocked.delete(f"{API}/repos/{REPO}/issues/9/labels/x", status=404, json={"message": "Not Found"})
    with pytest.raises(GitHubError) as missing_issue:
        api.remove_label(REPO, 9, "x")
    assert missing_issue.value.status == 404
    assert len(mocked.calls) == 3 == api.calls


def test_permission_reads_the_role_name(api: RestGitHub, mocked: responses.RequestsMock) -> None:
    url = f"{API}/repos/{REPO}/collaborators/octocat/permission"
    admin = fixture("collaborator-permission")
    # The legacy field says write for a maintainer and read for triage; role_name tells them apart.
    maintain = admin | {"permission": "write", "role_name": "maintain"}
    triage = admin | {"permission": "read", "role_name": "triage"}
    custom = admin | {"permission": "write", "role_name": "release-manager"}  # a custom role: its base counts
    mocked.get(url, json=admin)
    for body, expected in ((admin, "admin"), (maintain, "maintain"), (triage, "triage"), (custom, "write")):
        mocked.replace(responses.GET, url, json=body)
        assert api.permission(REPO, "octocat") == expected
    assert len(mocked.calls) == 4 == api.calls


def test_permission_of_an_unknown_user_is_none_after_one_request(
    api: RestGitHub, mocked: responses.RequestsMock
) -> None:
    mocked.get(
        f"{API}/repos/{REPO}/collaborators/nobody-here/permission",
        json={"message": "Not Found", "documentation_url": "https://docs.github.com/rest"},
        status=404,
    )
    assert api.permission(REPO, "nobody-here") == "none"
    assert len(mocked.calls) == 1 == api.calls


def test_permission_of_a_bot_quotes_its_name(api: RestGitHub, mocked: responses.RequestsMock) -> None:
    mocked.get(
        f"{API}/repos/{REPO}/collaborators/dependabot%5Bbot%5D/permission", json=fixture("collaborator-permission")
    )
    assert api.permission(REPO, "dependabot[bot]") == "admin"


def test_find_pull_asks_for_the_head_in_every_state(api: RestGitHub, mocked: responses.RequestsMock) -> None:
    mocked.get(f"{API}/repos/{REPO}/pulls", json=fixture("pulls"))
    pull = api.find_pull(REPO, "octocat:new-topic")
    assert pull is not None and (pull.number, pull.state, pull.draft) == (1347, "open", False)
    assert pull.html_url == "https://github.com/octocat/Hello-World/pull/1347"
    assert mocked.calls[0].request.params == {
        "head": "octocat:new-topic",
        "state": "all",
        "sort": "created",
        "direction": "desc",
        "per_page": "100",
    }
    assert len(mocked.calls) == 1 == api.calls


def test_find_pull_ignores_pull_requests_of_another_head(api: RestGitHub, mocked: responses.RequestsMock) -> None:
    # A server that ignored the head filter answers with every pull request: none of them is ours.
    mocked.get(f"{API}/repos/{REPO}/pulls", json=fixture("pulls"))
    assert api.find_pull(REPO, "octocat:coordinator/task-7") is None
    mocked.replace(responses.GET, f"{API}/repos/{REPO}/pulls", json=[])
    assert api.find_pull(REPO, "octocat:coordinator/task-7") is None
    assert len(mocked.calls) == 2 == api.calls


@pytest.mark.parametrize("head", ["new-topic", ":new-topic", "octocat:", "octo cat:x", "-bad:branch"])
def test_find_pull_refuses_a_head_without_owner(api: RestGitHub, mocked: responses.RequestsMock, head: str) -> None:
    with pytest.raises(GitHubError, match=r"owner:branch|not a GitHub login"):
        api.find_pull(REPO, head)
    assert len(mocked.calls) == 0 == api.calls


def test_create_pull_sends_title_body_draft_base_head(api: RestGitHub, mocked: responses.RequestsMock) -> None:
    mocked.post(f"{API}/repos/{REPO}/pulls", json=fixture("pull"), status=201)
    pull = api.create_pull(
        REPO, base="master", head="octocat:new-topic", title="Amazing new feature", body="Please pull", draft=True
    )
    assert (pull.number, pull.state) == (1347, "open")
    assert body_of(mocked.calls[0]) == {
        "title": "Amazing new feature",
        "body": "Please pull",
        "head": "octocat:new-topic",
        "base": "master",
        "draft": True,
    }
    assert len(mocked.calls) == 1 == api.calls


def test_create_pull_that_exists_is_a_422(api: RestGitHub, mocked: responses.RequestsMock) -> None:
    mocked.post(
        f"{API}/repos/{REPO}/pulls",
        status=422,
        json={
            "message": "Validation Failed",
            "errors": [
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": "A pull request already exists for octocat:new-topic.",
                }
            ],
            "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
        },
    )
    with pytest.raises(GitHubError) as raised:
        api.create_pull(REPO, base="master", head="octocat:new-topic", title="t", body="b", draft=False)
    assert raised.value.status == 422 and not raised.value.transient
    assert "A pull request already exists for octocat:new-topic." in str(raised.value)
    assert len(mocked.calls) == 1 == api.calls


def test_request_reviewers(api: RestGitHub, mocked: responses.RequestsMock) -> None:
    mocked.post(f"{API}/repos/{REPO}/pulls/1347/requested_reviewers", json=fixture("pull-review-request"), status=201)
    api.request_reviewers(REPO, 1347, ["octocat", "hubot"])
    assert body_of(mocked.calls[0]) == {"reviewers": ["octocat", "hubot"]}
    api.request_reviewers(REPO, 1347, [])  # nothing to ask: no request
    assert len(mocked.calls) == 1 == api.calls


def test_default_branch(api: RestGitHub, mocked: responses.RequestsMock) -> None:
    mocked.get(f"{API}/repos/{REPO}", json=fixture("repository"))
    assert api.default_branch(REPO) == "master"
    assert len(mocked.calls) == 1 == api.calls


def test_requests_carry_the_token_and_say_who_sends_them(api: RestGitHub, mocked: responses.RequestsMock) -> None:
    mocked.get(f"{API}/repos/{REPO}", json=fixture("repository"))
    api.default_branch(REPO)
    headers = mocked.calls[0].request.headers
    assert headers["Authorization"] == f"token {TOKEN}"
    assert headers["User-Agent"].startswith("coordinator/")
    assert headers["Accept"] == "application/vnd.github+json"


# -- writes are sent once; reads are retried within bounds ------------------------------------------------------

WRITES: list[tuple[str, str, Callable[[RestGitHub], object]]] = [
    ("POST", f"{API}/repos/{REPO}/issues/1347/comments", lambda a: a.create_comment(REPO, 1347, "hi")),
    ("PATCH", f"{API}/repos/{REPO}/issues/comments/1", lambda a: a.edit_comment(REPO, 1, "hi")),
    ("PUT", f"{API}/repos/{REPO}/issues/1347/labels", lambda a: a.set_labels(REPO, 1347, ["x"])),
    ("POST", f"{API}/repos/{REPO}/issues/1347/labels", lambda a: a.add_labels(REPO, 1347, ["x"])),
    ("DELETE", f"{API}/repos/{REPO}/issues/1347/labels/x", lambda a: a.remove_label(REPO, 1347, "x")),
    (
        "POST",
        f"{API}/repos/{REPO}/pulls",
        lambda a: a.create_pull(REPO, base="m", head="o:b", title="t", body="", draft=False),
    ),
    ("POST", f"{API}/repos/{REPO}/pulls/1/requested_reviewers", lambda a: a.request_reviewers(REPO, 1, ["hubot"])),
]


@pytest.mark.parametrize(("verb", "url", "write"), WRITES, ids=[f"{w[0]} {w[1].split('/', 6)[-1]}" for w in WRITES])
def test_a_write_answered_502_is_not_sent_again(
    api: RestGitHub,
    mocked: responses.RequestsMock,
    sleeps: Sleeps,
    verb: str,
    url: str,
    write: Callable[[RestGitHub], object],
) -> None:
    # GitHub may have carried the write out before its gateway answered 502: sending it again could duplicate it.
    mocked.add(verb, url, status=502, json={"message": "Server Error"})
    with pytest.raises(GitHubError) as raised:
        write(api)
    assert (raised.value.status, raised.value.transient) == (502, True)
    assert len(mocked.calls) == 1 == api.calls and sleeps == []


def test_a_read_answered_502_is_tried_again_and_succeeds(
    api: RestGitHub, mocked: responses.RequestsMock, sleeps: Sleeps
) -> None:
    url = f"{API}/repos/{REPO}"
    mocked.get(url, status=502, json={"message": "Server Error"})
    mocked.get(url, status=503, body="<html>unicorn</html>")
    mocked.get(url, json=fixture("repository"))
    assert api.default_branch(REPO) == "master"
    assert len(mocked.calls) == 3 == api.calls
    assert sleeps == [0.5, 1.0]


def test_a_read_gives_up_after_three_tries(api: RestGitHub, mocked: responses.RequestsMock, sleeps: Sleeps) -> None:
    mocked.get(f"{API}/repos/{REPO}/issues/1347", status=502, json={"message": "Server Error"})
    with pytest.raises(GitHubError) as raised:
        api.issue(REPO, 1347)
    assert (raised.value.status, raised.value.transient) == (502, True)
    assert len(mocked.calls) == 3 == api.calls and sum(sleeps) <= 10


def test_a_read_answered_404_is_not_retried(api: RestGitHub, mocked: responses.RequestsMock) -> None:
    mocked.get(f"{API}/repos/{REPO}/issues/9", status=404, json={"message": "Not Found"})
    with pytest.raises(GitHubError) as raised:
        api.issue(REPO, 9)
    assert (raised.value.status, raised.value.transient) == (404, False)
    assert "cannot see it" in str(raised.value)
    assert len(mocked.calls) == 1 == api.calls


def test_no_answer_is_transient_and_reads_try_again(api: RestGitHub, mocked: responses.RequestsMock) -> None:
    mocked.get(f"{API}/repos/{REPO}", body=requests.ConnectionError("connection refused"))
    mocked.post(f"{API}/repos/{REPO}/issues/1/comments", body=requests.Timeout("read timed out"))
    with pytest.raises(GitHubError) as read:
        api.default_branch(REPO)
    assert (read.value.status, read.value.transient) == (0, True)
    assert api.calls == 3
    with pytest.raises(GitHubError) as write:
        api.create_comment(REPO, 1, "hi")
    assert (write.value.status, write.value.transient) == (0, True) and "Timeout" in str(write.value)
    assert len(mocked.calls) == 4 == api.calls


# -- rate limits: transient, with the wait GitHub asked for ----------------------------------------------------


def test_secondary_rate_limit_gives_retry_after(api: RestGitHub, mocked: responses.RequestsMock) -> None:
    mocked.post(
        f"{API}/repos/{REPO}/issues/1/comments",
        status=403,
        headers={"Retry-After": "60"},
        json={"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."},
    )
    with pytest.raises(GitHubError) as raised:
        api.create_comment(REPO, 1, "hi")
    assert (raised.value.status, raised.value.transient, raised.value.retry_after) == (403, True, 60.0)
    assert "rate limited: try again in 60 s" in str(raised.value)


def test_secondary_rate_limit_by_message_alone_is_transient(api: RestGitHub, mocked: responses.RequestsMock) -> None:
    mocked.post(
        f"{API}/repos/{REPO}/issues/1/comments",
        status=403,
        json={
            "message": "You have exceeded a secondary rate limit and have been temporarily blocked from content "
            "creation."
        },
    )
    with pytest.raises(GitHubError) as raised:
        api.create_comment(REPO, 1, "hi")
    assert raised.value.transient and raised.value.retry_after is None


def test_a_403_with_retry_after_is_a_rate_limit_whatever_it_says(
    api: RestGitHub, mocked: responses.RequestsMock
) -> None:
    mocked.patch(
        f"{API}/repos/{REPO}/issues/comments/1", status=403, headers={"Retry-After": "5"}, json={"message": "Forbidden"}
    )
    with pytest.raises(GitHubError) as raised:
        api.edit_comment(REPO, 1, "hi")
    assert (raised.value.transient, raised.value.retry_after) == (True, 5.0)
    assert len(mocked.calls) == 1 == api.calls


@pytest.mark.parametrize("status", [403, 429])
def test_primary_rate_limit_waits_until_the_reset(api: RestGitHub, mocked: responses.RequestsMock, status: int) -> None:
    mocked.get(
        f"{API}/repos/{REPO}",
        status=status,
        headers={"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW) + 1200)},
        json={"message": "API rate limit exceeded for user ID 1."},
    )
    with pytest.raises(GitHubError) as raised:
        api.default_branch(REPO)
    assert (raised.value.transient, raised.value.retry_after) == (True, 1200.0)
    # Twenty minutes is past what a read may wait inside the adapter: one request, the caller decides.
    assert len(mocked.calls) == 1 == api.calls


def test_a_short_retry_after_on_a_read_is_waited_for(
    api: RestGitHub, mocked: responses.RequestsMock, sleeps: Sleeps
) -> None:
    url = f"{API}/repos/{REPO}"
    mocked.get(url, status=429, headers={"Retry-After": "3"}, json={"message": "Too Many Requests"})
    mocked.get(url, json=fixture("repository"))
    assert api.default_branch(REPO) == "master"
    assert sleeps == [3.0] and len(mocked.calls) == 2 == api.calls


def test_a_forbidden_that_is_not_a_rate_limit_is_permanent(api: RestGitHub, mocked: responses.RequestsMock) -> None:
    mocked.put(
        f"{API}/repos/{REPO}/issues/1/labels",
        status=403,
        headers={"X-RateLimit-Remaining": "4999"},
        json={"message": "Resource not accessible by integration"},
    )
    with pytest.raises(GitHubError) as raised:
        api.set_labels(REPO, 1, ["x"])
    assert (raised.value.transient, raised.value.retry_after) == (False, None)
    assert "issues: write" in str(raised.value)


def test_retry_after_reads_seconds_dates_and_resets() -> None:
    date = format_datetime(datetime.fromtimestamp(NOW + 90, tz=UTC), usegmt=True)
    assert retry_after_seconds({"retry-after": "7"}, NOW) == 7.0
    assert retry_after_seconds({"retry-after": date}, NOW) == 90.0
    assert retry_after_seconds({"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 5)}, NOW) == 5.0
    assert retry_after_seconds({"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) - 5)}, NOW) == 0.0
    assert retry_after_seconds({"x-ratelimit-remaining": "12", "x-ratelimit-reset": str(int(NOW) + 5)}, NOW) is None
    assert retry_after_seconds({"retry-after": "soon"}, NOW) is None


# -- errors: one line, actionable, never the token -------------------------------------------------------------


def test_bad_credentials_name_the_variable_not_the_token(api: RestGitHub, mocked: responses.RequestsMock) -> None:
    mocked.get(
        f"{API}/repos/{REPO}",
        status=401,
        json={"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"},
    )
    with pytest.raises(GitHubError) as raised:
        api.default_branch(REPO)
    message = str(raised.value)
    assert (raised.value.status, raised.value.transient) == (401, False)
    assert "GITHUB_TOKEN" in message and TOKEN not in message and "\n" not in message


def test_the_token_never_shows_even_when_an_answer_echoes_it(api: RestGitHub, mocked: responses.RequestsMock) -> None:
    mocked.post(
        f"{API}/repos/{REPO}/issues/1/comments", status=500, json={"message": f"proxy failed for token {TOKEN}"}
    )
    with pytest.raises(GitHubError) as raised:
        api.create_comment(REPO, 1, "hi")
    assert TOKEN not in str(raised.value) and "***" in str(raised.value)
    assert TOKEN not in repr(api) and TOKEN not in repr(raised.value)


def test_a_comment_over_githubs_limit_is_refused_before_sending(
    api: RestGitHub, mocked: responses.RequestsMock
) -> None:
    mocked.post(f"{API}/repos/{REPO}/issues/1/comments", json=fixture("issue-comment"), status=201)
    with pytest.raises(GitHubError, match="at most 65,536") as raised:
        api.create_comment(REPO, 1, "x" * (MAX_BODY_CHARS + 1))
    assert raised.value.status == 422 and not raised.value.transient
    with pytest.raises(GitHubError):
        api.edit_comment(REPO, 1, "é" * (MAX_BODY_CHARS + 1))
    assert api.calls == 0
    api.create_comment(REPO, 1, "x" * MAX_BODY_CHARS)
    assert len(mocked.calls) == 1 == api.calls


@pytest.mark.parametrize("answer", [{"body": "<html>Sign in</html>"}, {"json": {"id": 1}}, {"json": [1, 2]}])
def test_an_answer_of_another_shape_is_a_clear_error(
    api: RestGitHub, mocked: responses.RequestsMock, answer: dict[str, Any]
) -> None:
    mocked.get(f"{API}/repos/{REPO}/issues/1", status=200, **answer)
    with pytest.raises(GitHubError, match="not what the REST API sends"):
        api.issue(REPO, 1)


@pytest.mark.parametrize("repo", ["octocat", "octocat/Hello/World", "../x", "octocat/..", "a b/c", ""])
def test_a_malformed_repository_is_refused_without_a_request(api: RestGitHub, repo: str) -> None:
    with pytest.raises(GitHubError, match="owner/name"):
        api.issue(repo, 1)
    assert api.calls == 0


def test_malformed_numbers_and_logins_are_refused_without_a_request(api: RestGitHub) -> None:
    with pytest.raises(GitHubError, match="positive integer"):
        api.issue(REPO, 0)
    with pytest.raises(GitHubError, match="not a GitHub login"):
        api.permission(REPO, "../admin")
    with pytest.raises(GitHubError, match="not a GitHub login"):
        api.request_reviewers(REPO, 1, ["a/b"])
    assert api.calls == 0


# -- listings follow GitHub's Link header; calls are counted where they leave ----------------------------------


def test_comments_follow_every_page(api: RestGitHub, mocked: responses.RequestsMock) -> None:
    first, second = fixture("issue-comments"), fixture("issue-comments")
    second[0] |= {"id": 2, "body": "Me three"}
    page2 = f"{DEFAULT_API_URL}/repositories/1296269/issues/1347/comments?per_page=100&page=2"
    mocked.get(
        f"{API}/repos/{REPO}/issues/1347/comments",
        json=first,
        headers={"Link": f'<{page2}>; rel="next", <{page2}>; rel="last"'},
    )
    mocked.get(f"{API}/repositories/1296269/issues/1347/comments", json=second)
    assert [c.body for c in api.comments(REPO, 1347)] == ["Me too", "Me three"]
    assert len(mocked.calls) == 2 == api.calls


def test_a_next_page_on_another_server_is_not_followed(api: RestGitHub, mocked: responses.RequestsMock) -> None:
    mocked.get(
        f"{API}/repos/{REPO}/issues/1347/comments",
        json=fixture("issue-comments"),
        headers={"Link": '<https://evil.example/steal?page=2>; rel="next"'},
    )
    with pytest.raises(GitHubError, match="another server"):
        api.comments(REPO, 1347)
    assert len(mocked.calls) == 1 == api.calls


def test_a_redirect_is_counted_as_the_request_it_is(api: RestGitHub, mocked: responses.RequestsMock) -> None:
    # A renamed repository answers 301; PyGithub follows it: two requests sent, two counted.
    mocked.get(f"{API}/repos/{REPO}", status=301, headers={"Location": f"{DEFAULT_API_URL}/repositories/1296269"})
    mocked.get(f"{API}/repositories/1296269", json=fixture("repository"))
    assert api.default_branch(REPO) == "master"
    assert len(mocked.calls) == 2 == api.calls


def test_a_write_redirected_by_a_renamed_repository_is_an_error_not_a_success(
    api: RestGitHub, mocked: responses.RequestsMock
) -> None:
    # GitHub answers 307 to a write on a renamed repository; PyGithub does not follow it. Taking its body for the
    # answer would report labels set that never were.
    mocked.put(
        f"{API}/repos/{REPO}/issues/1/labels",
        status=307,
        headers={"Location": f"{DEFAULT_API_URL}/repositories/1296269/issues/1/labels"},
        json={"message": "Temporary Redirect", "url": f"{DEFAULT_API_URL}/repositories/1296269/issues/1/labels"},
    )
    with pytest.raises(GitHubError, match="moved") as raised:
        api.set_labels(REPO, 1, ["x"])
    assert (raised.value.status, raised.value.transient) == (307, False)
    assert len(mocked.calls) == 1 == api.calls


# -- settings ---------------------------------------------------------------------------------------------------


def test_settings_from_env_take_the_first_token_of_three() -> None:
    env = {"GITHUB_TOKEN": "from-actions-123", "GH_TOKEN": "from-gh-cli-123", "GITHUB_REPOSITORY": "o/r"}
    settings = GitHubSettings.from_env(env)
    assert (settings.api_url, settings.token, settings.repository, settings.token_source) == (
        DEFAULT_API_URL,
        "from-actions-123",
        "o/r",
        "GITHUB_TOKEN",
    )
    assert GitHubSettings.from_env(env | {"COORDINATOR_GITHUB_TOKEN": "mine-12345"}).token == "mine-12345"
    assert GitHubSettings.from_env({"GH_TOKEN": "from-gh-cli-123"}).token_source == "GH_TOKEN"
    assert GitHubSettings.from_env(env, repository="task/repo").repository == "task/repo"
    assert GitHubSettings.from_env({"GH_TOKEN": "t-123456", "GITHUB_TOKEN": ""}).token_source == "GH_TOKEN"


def test_settings_without_a_token_say_what_to_set() -> None:
    with pytest.raises(ConfigError) as raised:
        GitHubSettings.from_env({"GITHUB_REPOSITORY": "o/r", "GITHUB_TOKEN": "  "})
    message = str(raised.value)
    for needed in (
        "COORDINATOR_GITHUB_TOKEN",
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "issues: write",
        "pull requests: write",
        "contents: write",
        "metadata: read",
    ):
        assert needed in message
    assert raised.value.exit_code == 2 and "\n" not in message


def test_settings_never_show_the_token() -> None:
    settings = GitHubSettings.from_env({"GITHUB_TOKEN": TOKEN})
    assert TOKEN not in repr(settings) and TOKEN not in str(settings) and TOKEN not in f"{settings}"
    assert "***" in repr(settings)
    with pytest.raises(ConfigError) as raised:
        GitHubSettings.from_env({"GITHUB_TOKEN": TOKEN + " oops"})
    assert TOKEN not in str(raised.value) and "GITHUB_TOKEN" in str(raised.value)


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"GITHUB_API_URL": "api.github.com"}, "not an http"),
        ({"GITHUB_API_URL": "ftp://ghe.example/api/v3"}, "not an http"),
        ({"GITHUB_API_URL": "https://user:pw@ghe.example/api/v3"}, "credentials"),
        ({"GITHUB_API_URL": "https://ghe.example/api/v3?x=1"}, "query"),
        ({"GITHUB_REPOSITORY": "just-a-name"}, "owner/name"),
    ],
)
def test_settings_refuse_malformed_values(env: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        GitHubSettings.from_env({"GITHUB_TOKEN": "t-123456"} | env)


def test_enterprise_base_url_from_github_api_url(sleeps: Sleeps, mocked: responses.RequestsMock) -> None:
    settings = GitHubSettings.from_env({"GITHUB_API_URL": "https://ghe.example/api/v3/", "GITHUB_TOKEN": "t-123456"})
    assert settings.api_url == "https://ghe.example/api/v3"
    mocked.get("https://ghe.example:443/api/v3/repos/octocat/Hello-World", json=fixture("repository"))
    page2 = "https://ghe.example/api/v3/repositories/1296269/issues/1/events?page=2"
    mocked.get(
        "https://ghe.example:443/api/v3/repos/octocat/Hello-World/issues/1/events",
        json=[],
        headers={"Link": f'<{page2}>; rel="next"'},
    )
    mocked.get("https://ghe.example:443/api/v3/repositories/1296269/issues/1/events", json=fixture("issue-events"))
    with RestGitHub(settings, sleep=sleeps) as api:
        assert api.default_branch(REPO) == "master"
        assert [e.event for e in api.issue_events(REPO, 1)] == ["closed"]
        assert len(mocked.calls) == 3 == api.calls


# -- PyGithub stays inside the adapter -----------------------------------------------------------------------------


def test_only_the_adapter_imports_pygithub() -> None:
    package = Path(__file__).resolve().parents[1] / "coordinator"
    importing = sorted(
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        if re.search(r"^\s*(from github\b|import github\b)", path.read_text(encoding="utf-8"), re.MULTILINE)
    )
    assert importing == ["github/rest.py"]


def test_webhook_fixtures_are_the_events_their_names_say() -> None:
    folder = FIXTURES.parent / "webhooks"
    names = sorted(p.name for p in folder.glob("*.json"))
    assert len(names) >= 8
    for name in names:
        payload = json.loads((folder / name).read_text(encoding="utf-8"))
        event, action = name.removesuffix(".json").split("-")[0].split(".")
        assert payload["action"] == action, name
        assert ("comment" in payload) == (event in ("issue_comment", "pull_request_review_comment")), name
        about = payload["pull_request"] if event.startswith("pull_request") else payload["issue"]
        assert about["user"]["login"] and payload["sender"]["login"], name


# -- the few GraphQL requests ---------------------------------------------------------------------------------------


def labelled_answer(number: int = 1347, repo: str = REPO) -> dict[str, Any]:
    labels = {"nodes": [{"id": "LA_running", "name": "coordinator:running"}]}
    issue = {"number": number, "repository": {"nameWithOwner": repo}, "labels": labels}
    return {"data": {"add": {"labelable": issue}, "remove": {"labelable": issue}}}


def test_a_status_change_is_one_post_to_graphql_on_github_and_on_enterprise(
    sleeps: Sleeps, mocked: responses.RequestsMock
) -> None:
    settings = GitHubSettings.from_env({"GITHUB_API_URL": "https://ghe.example/api/v3", "GITHUB_TOKEN": "t-123456"})
    mocked.post("https://ghe.example:443/api/graphql", json=labelled_answer())
    with RestGitHub(settings, sleep=sleeps) as api:
        batch = api.edit_with_labels(
            REPO, 1347, issue_node="I_1", comment=None, add={"coordinator:running": "LA_running"}, remove={"q": "LA_q"}
        )
    assert batch.error is None and batch.labels == {"coordinator:running": "LA_running"}
    sent = body_of(mocked.calls[0])
    assert sent["variables"] == {"issue": "I_1", "add": ["LA_running"], "remove": ["LA_q"]}
    assert "addLabelsToLabelable" in sent["query"] and "updateIssueComment" not in sent["query"]
    assert mocked.calls[0].request.headers["Authorization"] == "token t-123456"


def test_the_graphql_rate_limit_is_a_transient_error_that_says_when(
    api: RestGitHub, mocked: responses.RequestsMock
) -> None:
    limited = {"errors": [{"type": "RATE_LIMITED", "message": "API rate limit exceeded for user ID 1."}]}
    reset = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 90), "x-ratelimit-resource": "graphql"}
    mocked.post(f"{API}/graphql", json=limited, headers=reset)
    with pytest.raises(GitHubError) as raised:
        api.create_with_labels(REPO, 1347, issue_node="I_1", body="text", add={})
    assert raised.value.transient and raised.value.retry_after == 90.0
    assert "rate limit" in str(raised.value) and len(mocked.calls) == 1  # never re-sent: it may create a comment


def test_a_graphql_answer_that_is_not_json_is_a_clear_error(api: RestGitHub, mocked: responses.RequestsMock) -> None:
    mocked.post(f"{API}/graphql", body="<html>Bad gateway</html>", status=502)
    with pytest.raises(GitHubError) as raised:
        api.edit_with_labels(REPO, 1, issue_node="I_1", comment=("IC_1", "x"), add={"a": "LA_a"}, remove={})
    assert raised.value.transient and raised.value.status == 502 and "POST /graphql" in str(raised.value)
