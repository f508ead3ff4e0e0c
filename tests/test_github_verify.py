"""Checking a task's trigger on GitHub before it runs (:mod:`coordinator.github.verify`): the pure rules on issue
timelines, and :class:`TriggerCheck` through the real adapter (``RestGitHub``) against the fake GitHub on
127.0.0.1, whose clock the tests set."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from coordinator.github.api import IssueEvent
from coordinator.github.rest import RestGitHub
from coordinator.github.settings import GitHubSettings
from coordinator.github.verify import TRIGGER_TIME_TOLERANCE, TriggerCheck, still_wanted, trigger_seen
from coordinator.models import GitHubConfig, GitHubLink
from tests.fakes.github_server import FakeGitHub
from tests.github_fake_clock import FakeGitHubClock, install_clock
from tests.github_tasks import link

REPO = "octo/repo"
TOKEN = "fake-token-0123456789"
CONFIG = GitHubConfig(allowed_bots=["helper-app[bot]"])
AT = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def seen(*events: IssueEvent, trigger_event: str = "issues.labeled") -> str | None:
    the_link = link(1, repository=REPO, trigger={"actor": "lead", "at": AT, "event": trigger_event})
    return trigger_seen(list(events), the_link)


def labeled(actor: str = "lead", *, at: datetime = AT, label: str = "claude") -> IssueEvent:
    return IssueEvent("labeled", actor, at, label)


def happened(event: str, actor: str = "lead", at: datetime = AT) -> IssueEvent:
    return IssueEvent(event, actor, at)


# -- the pure rules -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("events", "trigger_event", "ok"),
    [
        ([labeled()], "issues.labeled", True),
        ([labeled()], "issues.opened", True),  # labels set at creation are labeled events too
        ([labeled(at=AT + TRIGGER_TIME_TOLERANCE)], "issues.labeled", True),
        ([labeled(at=AT - TRIGGER_TIME_TOLERANCE)], "issues.labeled", True),
        ([labeled(at=AT + TRIGGER_TIME_TOLERANCE + timedelta(seconds=1))], "issues.labeled", False),
        ([labeled(at=AT - timedelta(hours=3))], "issues.labeled", False),
        ([labeled("mallory")], "issues.labeled", False),
        ([labeled("Lead")], "issues.labeled", False),
        ([labeled(label="bug")], "issues.labeled", False),
        ([IssueEvent("unlabeled", "lead", AT, "claude")], "issues.labeled", False),
        ([happened("reopened")], "issues.labeled", False),
        ([], "issues.labeled", False),
        ([labeled("mallory"), labeled(label="bug"), labeled(), happened("closed")], "issues.labeled", True),
        ([happened("reopened")], "issues.reopened", True),
        ([happened("reopened", at=AT + timedelta(seconds=90))], "issues.reopened", True),
        ([happened("reopened", "mallory")], "issues.reopened", False),
        ([labeled()], "issues.reopened", False),  # a reopening trigger needs the reopening
        ([happened("reopened", at=AT + timedelta(minutes=5))], "issues.reopened", False),
    ],
)
def test_the_trigger_is_seen_only_as_recorded(events: list[IssueEvent], trigger_event: str, ok: bool) -> None:
    assert (seen(*events, trigger_event=trigger_event) is None) is ok


def test_an_unseen_trigger_says_what_was_looked_for() -> None:
    why = seen(labeled("mallory"))
    assert why is not None
    assert "issue #1 of octo/repo shows no label 'claude' applied by lead at 2026-03-01T10:00:00+00:00" in why
    assert "not run" in why and "\n" not in why
    reopened = seen(trigger_event="issues.reopened")
    assert reopened is not None and "issue #1 of octo/repo shows no reopening of the issue by lead at " in reopened


@pytest.mark.parametrize(
    ("events", "why"),
    [
        ([labeled()], None),
        ([], "the label 'claude' was removed"),
        ([labeled(label="bug")], "the label 'claude' was removed"),
        ([labeled(), IssueEvent("unlabeled", "x", AT, "claude")], "the label 'claude' was removed"),
        ([labeled(), IssueEvent("unlabeled", "x", AT, "claude"), labeled("y")], None),
        ([labeled(), IssueEvent("unlabeled", "x", AT, "bug")], None),
        ([labeled(), happened("closed")], "the issue is closed"),
        ([labeled(), happened("closed"), happened("reopened")], None),
        ([happened("closed"), happened("reopened"), labeled(), happened("closed")], "the issue is closed"),
        ([labeled(), happened("referenced"), happened("assigned")], None),
    ],
)
def test_still_wanted_reads_the_latest_state_of_the_issue(events: list[IssueEvent], why: str | None) -> None:
    assert still_wanted(events, "claude") == why


# -- against GitHub: TriggerCheck ---------------------------------------------------------------------------------


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub(REPO, token=TOKEN) as fake:
        fake.set_permission("lead", "admin")
        fake.set_permission("alice", "write")
        fake.set_permission("bob", "read")
        yield fake


@pytest.fixture
def github_clock(monkeypatch: pytest.MonkeyPatch) -> FakeGitHubClock:
    return install_clock(monkeypatch)


@pytest.fixture
def api(gh: FakeGitHub) -> Iterator[RestGitHub]:
    settings = GitHubSettings.from_env({"GITHUB_API_URL": gh.url, "GITHUB_TOKEN": TOKEN}, repository=REPO)
    with RestGitHub(settings, sleep=lambda _: None) as adapter:
        yield adapter


@pytest.fixture
def check(api: RestGitHub) -> TriggerCheck:
    return TriggerCheck(api, repository=REPO)


def labelled_issue(gh: FakeGitHub, clock: FakeGitHubClock, *, by: str = "lead") -> tuple[int, GitHubLink]:
    """An issue ``by`` labels ``claude`` now, and the link ingest records for it from the payload (whose time
    may lag GitHub's event by a second)."""
    number = gh.add_issue("Fix the login bug", author="bob", labels=["bug"])
    clock.advance(minutes=3)
    gh.label(number, "claude", by=by)
    return number, link(number, repository=REPO, trigger={"actor": by, "at": clock.now - timedelta(seconds=1)})


def test_a_genuine_trigger_is_runnable_in_two_calls(
    check: TriggerCheck, gh: FakeGitHub, github_clock: FakeGitHubClock
) -> None:
    _, genuine = labelled_issue(gh, github_clock)
    verdict = check.runnable(genuine, CONFIG)
    assert verdict.ok and not verdict.transient
    assert gh.call_count() == 2
    assert gh.call_count("GET */events") == 1 and gh.call_count("GET */collaborators/lead/permission") == 1


def test_a_copy_of_a_genuine_task_onto_another_issue_is_not_runnable(
    check: TriggerCheck, gh: FakeGitHub, github_clock: FakeGitHubClock
) -> None:
    number, genuine = labelled_issue(gh, github_clock)
    other = gh.add_issue("Delete the production database", author="bob", labels=["claude"])
    copy = genuine.model_copy(update={"issue": other, "url": genuine.url.replace(f"/{number}", f"/{other}")})
    for verdict in (check.runnable(copy, CONFIG), check.happened(copy)):
        assert not verdict.ok and not verdict.transient
        assert f"issue #{other} of octo/repo shows no label 'claude' applied by lead" in (verdict.why or "")
    assert check.runnable(genuine, CONFIG).ok


def test_a_trigger_by_someone_else_or_at_another_time_is_not_the_recorded_one(
    check: TriggerCheck, gh: FakeGitHub, github_clock: FakeGitHubClock
) -> None:
    _, genuine = labelled_issue(gh, github_clock, by="alice")
    claimed_by_lead = genuine.model_copy(update={"trigger": genuine.trigger.model_copy(update={"actor": "lead"})})
    assert not check.runnable(claimed_by_lead, CONFIG).ok
    an_hour_off = genuine.trigger.model_copy(update={"at": genuine.trigger.at + timedelta(hours=1)})
    assert not check.runnable(genuine.model_copy(update={"trigger": an_hour_off}), CONFIG).ok
    assert check.runnable(genuine, CONFIG).ok


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda gh, n: gh.close(n, by="bob"), "the issue is closed"),
        (lambda gh, n: gh.unlabel(n, "claude", by="bob"), "the label 'claude' was removed"),
        (lambda gh, n: gh.set_permission("lead", "read"), "lead who triggered it has read access now, not write"),
        (lambda gh, n: gh.set_permission("lead", "triage"), "lead who triggered it has triage access now, not write"),
    ],
)
def test_an_issue_that_no_longer_asks_for_work_is_not_runnable(
    check: TriggerCheck,
    gh: FakeGitHub,
    github_clock: FakeGitHubClock,
    change: Callable[[FakeGitHub, int], None],
    why: str,
) -> None:
    number, genuine = labelled_issue(gh, github_clock)
    github_clock.advance(minutes=1)
    change(gh, number)
    verdict = check.runnable(genuine, CONFIG)
    assert verdict.why == why and not verdict.transient
    assert check.happened(genuine).ok  # the trigger did happen: its task may still be told about


def test_a_reopened_and_relabelled_issue_is_runnable_again(
    check: TriggerCheck, gh: FakeGitHub, github_clock: FakeGitHubClock
) -> None:
    number, genuine = labelled_issue(gh, github_clock)
    gh.close(number, by="bob")
    gh.unlabel(number, "claude", by="bob")
    github_clock.advance(minutes=10)
    gh.reopen(number, by="lead")
    reopened = link(
        number, repository=REPO, trigger={"actor": "lead", "at": github_clock.now, "event": "issues.reopened"}
    )
    assert check.runnable(reopened, CONFIG).why == "the label 'claude' was removed"
    gh.label(number, "claude", by="lead")
    assert check.runnable(reopened, CONFIG).ok
    assert check.runnable(genuine, CONFIG).ok  # the first trigger is still in the timeline


def test_an_allow_listed_bot_needs_no_permission_call(
    check: TriggerCheck, gh: FakeGitHub, github_clock: FakeGitHubClock
) -> None:
    _, by_bot = labelled_issue(gh, github_clock, by="helper-app[bot]")
    assert check.runnable(by_bot, CONFIG).ok
    assert gh.call_count("GET */permission") == 0


def test_a_bot_that_is_not_allow_listed_is_not_runnable_whatever_its_access(
    check: TriggerCheck, gh: FakeGitHub, github_clock: FakeGitHubClock
) -> None:
    gh.set_permission("other-app[bot]", "admin")
    _, by_bot = labelled_issue(gh, github_clock, by="other-app[bot]")
    verdict = check.runnable(by_bot, CONFIG)
    assert verdict.why == (
        "other-app[bot] who triggered it is a bot that is not in github.allowed_bots on the state branch"
    )


def test_an_actor_github_does_not_know_any_more_is_not_runnable(
    check: TriggerCheck, gh: FakeGitHub, github_clock: FakeGitHubClock
) -> None:
    _, genuine = labelled_issue(gh, github_clock, by="ghost-user")
    assert check.runnable(genuine, CONFIG).why == "ghost-user who triggered it has read access now, not write"


@pytest.mark.parametrize("route", ["GET */events", "GET */permission"])
@pytest.mark.parametrize("status", [500, 502, 503])
def test_github_down_is_a_transient_verdict(
    check: TriggerCheck, gh: FakeGitHub, github_clock: FakeGitHubClock, route: str, status: int
) -> None:
    _, genuine = labelled_issue(gh, github_clock)
    gh.fail(route, status, headers={"Retry-After": "30"})
    verdict = check.runnable(genuine, CONFIG)
    assert not verdict.ok and verdict.transient
    assert verdict.retry_after == 30
    assert (verdict.why or "").startswith("GitHub did not answer: GitHub answered")
    gh.clear_failures()
    assert check.runnable(genuine, CONFIG).ok


def test_github_down_is_not_remembered_as_an_answer(
    check: TriggerCheck, gh: FakeGitHub, github_clock: FakeGitHubClock
) -> None:
    _, genuine = labelled_issue(gh, github_clock)
    gh.fail("GET */events", 502)
    assert check.happened(genuine).transient
    gh.clear_failures()
    assert check.happened(genuine).ok


def test_an_issue_github_does_not_show_is_refused_for_good(check: TriggerCheck, gh: FakeGitHub) -> None:
    missing = link(404, repository=REPO)
    verdict = check.runnable(missing, CONFIG)
    assert not verdict.ok and not verdict.transient
    assert (verdict.why or "").startswith("GitHub refused to show the issue: GitHub answered 404")


@pytest.mark.parametrize("repository", ["evil/elsewhere", "octo/repo-fork", "someone/octo/repo"])
def test_a_task_naming_another_repository_is_refused_without_asking(
    check: TriggerCheck, gh: FakeGitHub, repository: str
) -> None:
    elsewhere = link(1, repository=repository)
    for verdict in (check.runnable(elsewhere, CONFIG), check.happened(elsewhere)):
        assert verdict.why == f"the task names repository {repository}, but this runner serves octo/repo"
        assert not verdict.transient
    assert gh.call_count() == 0


def test_the_repository_is_compared_without_case(
    api: RestGitHub, gh: FakeGitHub, github_clock: FakeGitHubClock
) -> None:
    _, genuine = labelled_issue(gh, github_clock)
    assert TriggerCheck(api, repository="OCTO/Repo").runnable(genuine, CONFIG).ok


def test_a_check_for_no_repository_in_particular_asks_github(
    api: RestGitHub, gh: FakeGitHub, github_clock: FakeGitHubClock
) -> None:
    _, genuine = labelled_issue(gh, github_clock)
    assert TriggerCheck(api, repository=None).happened(genuine).ok


def test_what_was_verified_is_remembered_and_what_this_process_made_is_trusted(
    check: TriggerCheck, gh: FakeGitHub, github_clock: FakeGitHubClock
) -> None:
    _, genuine = labelled_issue(gh, github_clock)
    assert check.happened(genuine).ok
    assert check.happened(genuine).ok
    assert gh.call_count() == 1
    made_here = link(77, repository=REPO)  # no such issue on GitHub: trusted without asking
    check.trust(made_here)
    assert check.happened(made_here).ok
    assert gh.call_count() == 1
    # runnable() always asks again: the issue may have been closed or the actor lost access since.
    assert check.runnable(genuine, CONFIG).ok
    assert gh.call_count() == 3
