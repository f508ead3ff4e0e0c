"""Parsing GitHub event payloads (:mod:`coordinator.github.events`) from GitHub's own recorded webhook payloads
and variants of them: the fields coordinator uses are read right, everything else is refused with a one-line
error naming what is missing, and events coordinator does not act on are said to be unsupported."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from coordinator.errors import UsageError
from coordinator.github.events import EventError, IssueCommentEvent, IssuesEvent, Unsupported, User, parse
from tests.github_payloads import NAMES, payload

RECORDED_AT = datetime(2019, 5, 15, 15, 20, 18, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "action", "state", "label", "updated_at"),
    [
        ("issues.opened", "opened", "open", None, RECORDED_AT),
        ("issues.opened-transferred", "opened", "open", None, RECORDED_AT),
        ("issues.labeled", "labeled", "open", "bug", RECORDED_AT),
        ("issues.unlabeled", "unlabeled", "open", "bug", datetime(2019, 5, 15, 15, 20, 26, tzinfo=UTC)),
        ("issues.edited", "edited", "open", None, RECORDED_AT),
        ("issues.closed", "closed", "closed", None, datetime(2021, 10, 11, 16, 40, 56, tzinfo=UTC)),
        ("issues.reopened", "reopened", "open", None, datetime(2021, 10, 11, 16, 40, 56, tzinfo=UTC)),
    ],
)
def test_every_recorded_issues_payload_parses(
    name: str, action: str, state: str, label: str | None, updated_at: datetime
) -> None:
    event = parse("issues", payload(name), delivery="d-1")
    assert isinstance(event, IssuesEvent)
    assert (event.action, event.name, event.label, event.delivery) == (action, f"issues.{action}", label, "d-1")
    assert event.repository == "Codertocat/Hello-World"
    assert (event.issue.number, event.issue.state, event.issue.labels) == (1, state, ("bug",))
    assert event.issue.html_url == "https://github.com/Codertocat/Hello-World/issues/1"
    assert event.issue.author == User("Codertocat", "User", 21031067)
    assert event.sender == User("Codertocat", "User", 21031067)
    assert event.issue.updated_at == updated_at and event.issue.updated_at.tzinfo == UTC
    assert event.issue.comments == 0


def test_the_issue_text_is_read_as_the_event_carries_it() -> None:
    event = parse("issues", payload("issues.labeled"))
    assert isinstance(event, IssuesEvent)
    assert event.issue.title == "Spelling error in the README file"
    assert event.issue.body.startswith("It looks like you accidently spelled")
    assert event.issue.created_at == RECORDED_AT
    assert event.delivery is None


def test_the_fixtures_hold_the_payloads_the_tests_use() -> None:
    # The table above covers every issues payload recorded; a new fixture must be added to it.
    assert {n for n in NAMES if n.startswith("issues.")} == {
        "issues.opened",
        "issues.opened-transferred",
        "issues.labeled",
        "issues.unlabeled",
        "issues.edited",
        "issues.closed",
        "issues.reopened",
    }


@pytest.mark.parametrize(
    ("name", "fixture"),
    [
        ("pull_request", "issues.opened"),
        ("pull_request_review_thread", "issues.opened"),
        ("push", "issues.opened"),
        ("workflow_dispatch", "issues.opened"),
        ("", "issues.opened"),
    ],
)
def test_other_events_are_unsupported_not_errors(name: str, fixture: str) -> None:
    event = parse(name, payload(fixture))
    assert isinstance(event, Unsupported)
    assert event.name == name
    assert f"'{name}'" in event.why and "does not act on" in event.why


@pytest.mark.parametrize("fixture", ["issue_comment.created", "issue_comment.created-installation"])
def test_comments_parse_with_their_comment_and_issue(fixture: str) -> None:
    raw = payload(fixture)
    event = parse("issue_comment", raw, delivery="d-1")
    assert isinstance(event, IssueCommentEvent)
    assert event.name == "issue_comment.created" and event.delivery == "d-1"
    assert event.comment.id == raw["comment"]["id"] and event.comment.body == raw["comment"]["body"]
    assert event.comment.author.login == raw["comment"]["user"]["login"]
    assert event.issue.number == raw["issue"]["number"] and event.issue.is_pull is ("pull_request" in raw["issue"])


def test_a_comment_on_a_pull_request_is_parsed_as_such() -> None:
    raw = payload("issue_comment.created")
    raw["issue"]["pull_request"] = {"url": "https://api.github.com/repos/o/r/pulls/1"}
    event = parse("issue_comment", raw)
    assert isinstance(event, IssueCommentEvent) and event.issue.is_pull


def _drop(*path: str) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return edit


def _set(value: Any, *path: str) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        (_drop("action"), "'action'"),
        (_set("", "action"), "'action'"),
        (_set(7, "action"), "'action'"),
        (_drop("repository"), "'repository'"),
        (_set("Codertocat/Hello-World", "repository"), "'repository'"),
        (_drop("repository", "full_name"), "'full_name'"),
        (_drop("issue"), "'issue'"),
        (_set(None, "issue"), "'issue'"),
        (_drop("issue", "number"), "'number'"),
        (_set(0, "issue", "number"), "'number'"),
        (_set(-3, "issue", "number"), "'number'"),
        (_set("1", "issue", "number"), "'number'"),
        (_set(True, "issue", "number"), "'number'"),
        (_drop("issue", "title"), "'title'"),
        (_drop("issue", "state"), "'state'"),
        (_drop("issue", "user"), "'user'"),
        (_drop("issue", "user", "login"), "'login'"),
        (_drop("issue", "html_url"), "'html_url'"),
        (_drop("issue", "created_at"), "'created_at'"),
        (_set("yesterday", "issue", "updated_at"), "'updated_at' is not a time"),
        (_set(1557933618, "issue", "updated_at"), "'updated_at'"),
        (_set({"name": "bug"}, "issue", "labels"), "labels is not a list"),
        (_set([{"color": "d73a4a"}], "issue", "labels"), "'name'"),
        (_set({"id": 1}, "label"), "'name'"),
        (_drop("sender"), "'sender'"),
        (_set("Codertocat", "sender"), "'sender'"),
        (_set({"url": "https://api.github.com/repos/o/r/pulls/1"}, "issue", "pull_request"), "pull request"),
    ],
)
def test_a_payload_github_would_not_send_is_refused_saying_what_is_wrong(
    edit: Callable[[dict[str, Any]], None], said: str
) -> None:
    data = payload("issues.labeled")
    edit(data)
    with pytest.raises(EventError) as caught:
        parse("issues", data)
    message = str(caught.value)
    assert said in message
    assert "\n" not in message
    assert isinstance(caught.value, UsageError)  # the CLI shows it as one line, without a traceback


@pytest.mark.parametrize("not_an_object", [[], "issues", 3, None])
def test_a_payload_that_is_no_object_is_refused(not_an_object: Any) -> None:
    with pytest.raises(EventError, match="'action'"):
        parse("issues", not_an_object)


@pytest.mark.parametrize(
    ("edit", "field", "value"),
    [
        (_set(None, "issue", "body"), "body", ""),
        (_drop("issue", "body"), "body", ""),
        (_set(12, "issue", "body"), "body", ""),
        (_drop("issue", "comments"), "comments", 0),
        (_set(4, "issue", "comments"), "comments", 4),
        (_set(None, "issue", "labels"), "labels", ()),
        (_set(["bug", {"name": "claude"}], "issue", "labels"), "labels", ("claude",)),
    ],
)
def test_optional_issue_fields_have_safe_defaults(
    edit: Callable[[dict[str, Any]], None], field: str, value: object
) -> None:
    data = payload("issues.labeled")
    edit(data)
    event = parse("issues", data)
    assert isinstance(event, IssuesEvent)
    assert getattr(event.issue, field) == value


@pytest.mark.parametrize(
    ("label", "expected"),
    [("a string, not an object", None), (None, None), ({"name": "claude", "color": "ffffff"}, "claude")],
)
def test_the_label_of_an_event_is_read_only_from_a_label_object(label: Any, expected: str | None) -> None:
    data = payload("issues.labeled")
    data["label"] = label
    event = parse("issues", data)
    assert isinstance(event, IssuesEvent) and event.label == expected


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2019-05-15T15:20:18Z", datetime(2019, 5, 15, 15, 20, 18, tzinfo=UTC)),
        ("2019-05-15T17:20:18+02:00", datetime(2019, 5, 15, 15, 20, 18, tzinfo=UTC)),
        ("2019-05-15T15:20:18", datetime(2019, 5, 15, 15, 20, 18, tzinfo=UTC)),
        ("2019-05-15T15:20:18.250Z", datetime(2019, 5, 15, 15, 20, 18, 250000, tzinfo=UTC)),
    ],
)
def test_times_are_utc_whatever_offset_they_carry(stamp: str, expected: datetime) -> None:
    data = payload("issues.labeled")
    data["issue"]["updated_at"] = stamp
    event = parse("issues", data)
    assert isinstance(event, IssuesEvent)
    assert event.issue.updated_at == expected and event.issue.updated_at.utcoffset() is not None
    assert event.issue.updated_at.tzinfo == UTC


@pytest.mark.parametrize(
    ("login", "kind", "bot"),
    [
        ("Codertocat", "User", False),
        ("dependabot[bot]", "Bot", True),
        ("renovate[bot]", "User", True),  # the [bot] suffix is enough
        ("some-app", "Bot", True),
        ("botanist", "User", False),
        ("Organization-X", "Organization", False),
    ],
)
def test_bots_are_known_by_type_or_login(login: str, kind: str, bot: bool) -> None:
    data = payload("issues.labeled")
    data["sender"].update(login=login, type=kind)
    event = parse("issues", data)
    assert isinstance(event, IssuesEvent)
    assert event.sender.login == login and event.sender.is_bot is bot


@pytest.mark.parametrize(("raw", "expected"), [(41898282, 41898282), (True, None), ("41898282", None), (None, None)])
def test_a_user_id_is_kept_only_when_it_is_a_number(raw: Any, expected: int | None) -> None:
    data = payload("issues.labeled")
    data["sender"]["id"] = raw
    data["sender"]["type"] = None  # not a string: the default type
    event = parse("issues", data)
    assert isinstance(event, IssuesEvent)
    assert event.sender.id == expected and event.sender.type == "User"


def test_an_app_delivery_reads_the_same_as_a_repository_one() -> None:
    # issues.reopened is a GitHub App delivery (it carries "installation"): that changes nothing we read.
    app = parse("issues", payload("issues.reopened"))
    plain = payload("issues.reopened")
    del plain["installation"]
    assert app == parse("issues", plain)
