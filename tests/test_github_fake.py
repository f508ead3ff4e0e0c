"""The real adapter (:class:`RestGitHub`, PyGithub underneath) against the fake GitHub server on 127.0.0.1: every
protocol method changes or reads the fake's state, one HTTP request each, and failures injected into a route
behave as they would on GitHub (a write answered 502 is not sent again, even when GitHub had carried it out)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from coordinator.github.api import GitHubError
from coordinator.github.rest import RestGitHub
from coordinator.github.settings import GitHubSettings
from tests.fakes.github_server import FakeGitHub

REPO = "octo/repo"
TOKEN = "fake-token-0123456789"


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub(REPO, token=TOKEN, token_user="coordinator-bot") as fake:
        yield fake


@pytest.fixture
def api(gh: FakeGitHub) -> Iterator[RestGitHub]:
    settings = GitHubSettings.from_env({"GITHUB_API_URL": gh.url, "COORDINATOR_GITHUB_TOKEN": TOKEN})
    with RestGitHub(settings, sleep=lambda _: None) as adapter:
        yield adapter


def test_reads_see_what_was_seeded(api: RestGitHub, gh: FakeGitHub) -> None:
    number = gh.add_issue("Fix the login bug", "It fails.", labels=["bug"], author="alice")
    gh.label(number, "coordinator", by="bob")
    gh.add_comment(number, "me too", by="carol")
    issue = api.issue(REPO, number)
    assert (issue.title, issue.body, issue.state, issue.labels, issue.author) == (
        "Fix the login bug",
        "It fails.",
        "open",
        ("bug", "coordinator"),
        "alice",
    )
    assert issue.html_url.endswith(f"/octo/repo/issues/{number}")
    events = api.issue_events(REPO, number)
    assert [(e.event, e.actor, e.label) for e in events] == [
        ("labeled", "alice", "bug"),
        ("labeled", "bob", "coordinator"),
    ]
    [comment] = api.comments(REPO, number)
    assert (comment.author, comment.body) == ("carol", "me too")
    assert api.default_branch(REPO) == "main"
    assert api.calls == gh.call_count() == 4


def test_every_method_is_one_request(api: RestGitHub, gh: FakeGitHub) -> None:
    number = gh.add_issue("Task", author="alice")
    gh.set_permission("alice", "write")
    steps = [
        lambda: api.permission(REPO, "alice"),
        lambda: api.issue(REPO, number),
        lambda: api.issue_events(REPO, number),
        lambda: api.comments(REPO, number),
        lambda: api.create_comment(REPO, number, "working"),
        lambda: api.edit_comment(REPO, gh.issue_comments(number)[0]["id"], "done"),
        lambda: api.set_labels(REPO, number, ["coordinator:done"]),
        lambda: api.add_labels(REPO, number, ["coordinator:running"]),
        lambda: api.remove_label(REPO, number, "coordinator:running"),
        lambda: api.remove_label(REPO, number, "coordinator:running"),  # not there any more: still one request
        lambda: api.find_pull(REPO, "octo:coordinator/task-1"),
        lambda: api.create_pull(REPO, base="main", head="octo:coordinator/task-1", title="t", body="b", draft=True),
        lambda: api.request_reviewers(REPO, gh.pulls()[0]["number"], ["alice"]),
        lambda: api.default_branch(REPO),
    ]
    for step in steps:
        sent, received = api.calls, gh.call_count()
        step()
        assert (api.calls - sent, gh.call_count() - received) == (1, 1)
    print(f"\nREST calls for {len(steps)} protocol methods: {api.calls}")


def test_a_simple_task_life_can_fit_in_eight_calls(api: RestGitHub, gh: FakeGitHub) -> None:
    """The adapter's share of the budget: one plausible life of a task started by a webhook (the payload carries
    the issue, so no read of it), with every write made idempotent the cheap way (the tracking comment is looked
    up once; the pull request is created first and looked up only when GitHub says it exists)."""
    number = gh.add_issue("Fix the typo", labels=["coordinator"], author="alice")
    gh.set_permission("alice", "write")
    head = "octo:coordinator/task-1"
    assert api.permission(REPO, "alice") in {"admin", "maintain", "write"}
    assert not [c for c in api.comments(REPO, number) if "<!-- coordinator:task-1 -->" in c.body]
    tracking = api.create_comment(REPO, number, "<!-- coordinator:task-1 -->\nWorking on it")
    api.set_labels(REPO, number, ["coordinator", "coordinator:running"])
    try:
        pull = api.create_pull(
            REPO, base="main", head=head, title="Fix the typo", body=f"Closes #{number}", draft=False
        )
    except GitHubError as exists:
        assert exists.status == 422
        found = api.find_pull(REPO, head)
        assert found is not None
        pull = found
    api.request_reviewers(REPO, pull.number, ["alice"])
    api.edit_comment(REPO, tracking.id, f"<!-- coordinator:task-1 -->\nDone: {pull.html_url}")
    api.set_labels(REPO, number, ["coordinator", "coordinator:done"])
    print(f"\nREST calls for a simple task's life: {api.calls}")
    assert api.calls == gh.call_count() <= 8


def test_writes_change_the_fake(api: RestGitHub, gh: FakeGitHub) -> None:
    number = gh.add_issue("Task", labels=["coordinator"], author="alice")
    comment = api.create_comment(REPO, number, "<!-- coordinator -->\nworking")
    assert (comment.author, comment.body) == ("coordinator-bot", "<!-- coordinator -->\nworking")
    api.edit_comment(REPO, comment.id, "<!-- coordinator -->\ndone")
    assert [c["body"] for c in gh.issue_comments(number)] == ["<!-- coordinator -->\ndone"]
    api.set_labels(REPO, number, ["coordinator", "coordinator:running"])
    api.set_labels(REPO, number, ["coordinator:done"])
    assert gh.issue_labels(number) == ["coordinator:done"]
    # Label changes through the API are events by the token's user, after the seeded one by the author.
    assert [(e["event"], e["actor"]["login"], e["label"]["name"]) for e in gh.issue_events(number)] == [
        ("labeled", "alice", "coordinator"),
        ("labeled", "coordinator-bot", "coordinator:running"),
        ("unlabeled", "coordinator-bot", "coordinator"),
        ("unlabeled", "coordinator-bot", "coordinator:running"),
        ("labeled", "coordinator-bot", "coordinator:done"),
    ]
    assert gh.requests[-1].body == {"labels": ["coordinator:done"]}
    after = api.add_labels(REPO, number, ["needs review", "coordinator:done"])
    assert list(after) == ["coordinator:done", "needs review"] and all(after.values())
    api.remove_label(REPO, number, "needs review")
    api.remove_label(REPO, number, "needs review")
    assert gh.issue_labels(number) == ["coordinator:done"]
    assert [(e["event"], e["label"]["name"]) for e in gh.issue_events(number)][-2:] == [
        ("labeled", "needs review"),
        ("unlabeled", "needs review"),
    ]


def test_pull_requests_are_created_found_and_reviewed(api: RestGitHub, gh: FakeGitHub) -> None:
    gh.set_permission("alice", "write")
    assert api.find_pull(REPO, "octo:coordinator/task-1") is None
    created = api.create_pull(
        REPO, base="main", head="octo:coordinator/task-1", title="Fix", body="Closes #1", draft=True
    )
    assert (created.state, created.draft) == ("open", True)
    assert api.find_pull(REPO, "octo:coordinator/task-1") == created
    assert api.find_pull(REPO, "octo:coordinator/task-2") is None
    api.request_reviewers(REPO, created.number, ["alice"])
    [pull] = gh.pulls()
    assert (pull["head"]["label"], pull["base"]["ref"], pull["title"], pull["body"], pull["draft"]) == (
        "octo:coordinator/task-1",
        "main",
        "Fix",
        "Closes #1",
        True,
    )
    assert [u["login"] for u in pull["requested_reviewers"]] == ["alice"]
    with pytest.raises(GitHubError) as again:
        api.create_pull(REPO, base="main", head="octo:coordinator/task-1", title="Fix", body="", draft=False)
    assert again.value.status == 422 and "A pull request already exists for octo:coordinator/task-1." in str(
        again.value
    )
    with pytest.raises(GitHubError, match="only be requested from collaborators") as stranger:
        api.request_reviewers(REPO, created.number, ["mallory"])
    assert stranger.value.status == 422


def test_find_pull_returns_the_newest_of_a_head_closed_ones_included(api: RestGitHub, gh: FakeGitHub) -> None:
    old = gh.add_pull("octo:coordinator/task-3", state="closed")
    newer = gh.add_pull("octo:coordinator/task-3")
    gh.add_pull("octo:other")
    found = api.find_pull(REPO, "octo:coordinator/task-3")
    assert found is not None and found.number == newer != old
    gh.close(newer)
    found = api.find_pull(REPO, "octo:coordinator/task-3")
    assert found is not None and (found.number, found.state) == (newer, "closed")


def test_permissions_by_role(api: RestGitHub, gh: FakeGitHub) -> None:
    for user, role in (("ann", "admin"), ("max", "maintain"), ("wes", "write"), ("tia", "triage"), ("rob", "read")):
        gh.set_permission(user, role)
        assert api.permission(REPO, user) == role
    assert api.permission(REPO, "octo") == "admin"  # the owner
    gh.add_user("visitor")
    assert api.permission(REPO, "visitor") == "read"  # not a collaborator of a public repository
    assert api.permission(REPO, "nobody-at-all") == "none"  # 404: GitHub knows no such account


# -- failures injected into routes --------------------------------------------------------------------------------


def test_a_comment_answered_502_is_sent_once(api: RestGitHub, gh: FakeGitHub) -> None:
    number = gh.add_issue("Task")
    gh.fail("POST */comments", times=1)
    with pytest.raises(GitHubError) as raised:
        api.create_comment(REPO, number, "hello")
    assert (raised.value.status, raised.value.transient) == (502, True)
    assert gh.call_count("POST *") == 1 and gh.issue_comments(number) == []
    api.create_comment(REPO, number, "hello")  # the caller's retry, once the route heals
    assert [c["body"] for c in gh.issue_comments(number)] == ["hello"]


def test_a_comment_github_carried_out_before_its_502_is_not_duplicated(api: RestGitHub, gh: FakeGitHub) -> None:
    number = gh.add_issue("Task")
    gh.fail("POST */comments", times=1, carry_out=True)
    with pytest.raises(GitHubError) as raised:
        api.create_comment(REPO, number, "<!-- coordinator:task-1 -->")
    assert raised.value.transient
    # GitHub did write it: the caller must look it up by its marker before posting again, and the adapter
    # sent it exactly once.
    assert [c["body"] for c in gh.issue_comments(number)] == ["<!-- coordinator:task-1 -->"]
    assert [c.body for c in api.comments(REPO, number)] == ["<!-- coordinator:task-1 -->"]
    assert gh.call_count("POST *") == 1


def test_a_read_rides_out_two_502s(api: RestGitHub, gh: FakeGitHub) -> None:
    number = gh.add_issue("Task")
    gh.fail("GET /repos/*/issues/*", times=2)
    assert api.issue(REPO, number).title == "Task"
    assert gh.call_count("GET /repos/*/issues/*") == 3 == api.calls


def test_a_route_failing_for_a_while_recovers(api: RestGitHub, gh: FakeGitHub) -> None:
    gh.fail("GET /repos/octo/repo", status=503, seconds=0.5)
    with pytest.raises(GitHubError) as raised:
        api.default_branch(REPO)
    assert (raised.value.status, raised.value.transient) == (503, True)
    deadline = time.monotonic() + 10
    while True:  # bounded: the rule lapses after half a second
        try:
            assert api.default_branch(REPO) == "main"
            break
        except GitHubError:
            assert time.monotonic() < deadline, "the route still fails after 10 s"
            time.sleep(0.1)


def test_rate_limits_from_the_fake_say_when(api: RestGitHub, gh: FakeGitHub) -> None:
    number = gh.add_issue("Task")
    reset = int(time.time()) + 1800
    gh.fail(
        "PUT *",
        status=403,
        times=1,
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
        message="API rate limit exceeded for user ID 1.",
    )
    with pytest.raises(GitHubError) as raised:
        api.set_labels(REPO, number, ["x"])
    assert raised.value.transient and raised.value.retry_after is not None
    assert 1700 < raised.value.retry_after <= 1800
    gh.fail(
        "POST *",
        status=403,
        times=1,
        headers={"Retry-After": "42"},
        message="You have exceeded a secondary rate limit.",
    )
    with pytest.raises(GitHubError) as secondary:
        api.create_comment(REPO, number, "x")
    assert (secondary.value.transient, secondary.value.retry_after) == (True, 42.0)


def test_a_wrong_token_is_a_clear_permanent_error(gh: FakeGitHub) -> None:
    settings = GitHubSettings.from_env({"GITHUB_API_URL": gh.url, "GH_TOKEN": "not-the-right-one"})
    with RestGitHub(settings, sleep=lambda _: None) as api, pytest.raises(GitHubError) as raised:
        api.default_branch(REPO)
    assert (raised.value.status, raised.value.transient) == (401, False)
    assert "Bad credentials" in str(raised.value) and "GH_TOKEN" in str(raised.value)
    assert "not-the-right-one" not in str(raised.value)


def test_unknown_issue_and_repository_are_404(api: RestGitHub, gh: FakeGitHub) -> None:
    with pytest.raises(GitHubError) as issue:
        api.issue(REPO, 999)
    with pytest.raises(GitHubError) as repo:
        api.default_branch("octo/elsewhere")
    assert issue.value.status == repo.value.status == 404
    assert api.calls == 2  # a 404 is not worth a second try


def test_comments_and_events_are_read_page_by_page(api: RestGitHub, gh: FakeGitHub) -> None:
    number = gh.add_issue("Busy")
    for n in range(150):
        gh.add_comment(number, f"comment {n}", by="alice")
    comments = api.comments(REPO, number)
    assert [c.body for c in comments] == [f"comment {n}" for n in range(150)]
    assert api.calls == 2
    # The second page was asked for by the repository's id, as GitHub's Link header says.
    assert gh.requests[-1].path.startswith("/repositories/")


def test_enterprise_style_prefix(gh: FakeGitHub) -> None:
    with FakeGitHub("corp/app", prefix="/api/v3") as ghe:
        number = ghe.add_issue("On Enterprise")
        settings = GitHubSettings.from_env({"GITHUB_API_URL": ghe.url, "GITHUB_TOKEN": "t-123456"})
        assert settings.api_url.endswith("/api/v3")
        with RestGitHub(settings) as api:
            assert api.issue("corp/app", number).title == "On Enterprise"
            assert api.create_comment("corp/app", number, "hi").body == "hi"
        assert [r.path for r in ghe.requests] == ["/repos/corp/app/issues/1", "/repos/corp/app/issues/1/comments"]


# -- the fake answers like GitHub, for callers other than the adapter --------------------------------------------


def _raw(gh: FakeGitHub, method: str, path: str, body: object = None, token: str = TOKEN) -> requests.Response:
    return requests.request(method, gh.url + path, json=body, headers={"Authorization": f"token {token}"}, timeout=10)


def test_fake_error_bodies_are_githubs(gh: FakeGitHub) -> None:
    number = gh.add_issue("Task")
    too_long = _raw(gh, "POST", f"/repos/{REPO}/issues/{number}/comments", {"body": "x" * 65_537})
    assert too_long.status_code == 422
    assert too_long.json()["errors"][0]["message"] == "Body is too long (maximum is 65536 characters)"
    assert set(too_long.json()) == {"message", "documentation_url", "errors"}
    missing = _raw(gh, "GET", f"/repos/{REPO}/issues/77")
    assert (missing.status_code, missing.json()["message"]) == (404, "Not Found")
    wrong = _raw(gh, "GET", f"/repos/{REPO}", token="nope")
    assert (wrong.status_code, wrong.json()["message"]) == (401, "Bad credentials")
    assert wrong.headers["X-RateLimit-Limit"] == "5000"


def test_fake_ignores_a_bare_branch_as_head_like_github(gh: FakeGitHub) -> None:
    gh.add_pull("octo:one")
    gh.add_pull("octo:two")
    every = _raw(gh, "GET", f"/repos/{REPO}/pulls?head=one&state=all").json()
    assert len(every) == 2  # why the adapter insists on owner:branch
    only = _raw(gh, "GET", f"/repos/{REPO}/pulls?head=octo:one&state=all").json()
    assert [p["head"]["ref"] for p in only] == ["one"]


def test_fake_answers_urls_on_itself(gh: FakeGitHub) -> None:
    number = gh.add_issue("Task")
    issue = _raw(gh, "GET", f"/repos/{REPO}/issues/{number}").json()
    assert issue["url"] == f"{gh.url}/repos/{REPO}/issues/{number}"
    assert issue["comments_url"].startswith(gh.url)
    assert issue["user"]["url"].startswith(gh.url)
