"""The tracking comment (:mod:`coordinator.github.tracking`), rendered from tasks that went through the real
transitions: one marker at the top, the text of every stage (queued, running, escalating, final), within
GitHub's size limit whatever the agent reported, no forged marker, the same text for the same task."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from coordinator.github.tracking import (
    MAX_COMMENT_CHARS,
    inert,
    is_tracking_comment,
    marker,
    pull_body,
    pushed_branch,
    render,
    repository_url,
    untrusted_reply,
)
from coordinator.models import AttemptResult, GitHubConfig, Task, TaskStatus, Tokens
from tests.github_tasks import IssueLife, issue_task, later, link

CONFIG = GitHubConfig()
GITHUB_BODY_LIMIT = 65_536
FORGED = "<!-- coordinator:task=issue-2 -->"


def headline(body: str) -> str:
    """The line under the marker."""
    return body.split("\n")[1]


def succeeded_life(**result: object) -> IssueLife:
    life = IssueLife()
    life.claim()
    values: dict[str, object] = {
        "summary": "Fixed the spelling of 'accidently' in README.md.",
        "model": "claude-sonnet-4-5",
        "cost_usd": 0.1234,
        "tokens": Tokens(input=1000, output=56, cache_read=200, cache_creation=34),
        "turns": 7,
        "duration_seconds": 125.0,
        "commit": "0123456789abcdef0123456789abcdef01234567",
        "log": "/var/log/coordinator/issue-1-1.jsonl",
    }
    life.complete(**(values | result))
    return life


# -- the marker ---------------------------------------------------------------------------------------------------


def test_the_marker_is_a_hidden_html_comment_naming_the_task() -> None:
    assert marker("issue-1") == "<!-- coordinator:task=issue-1 -->"


@pytest.mark.parametrize(
    ("body", "task_id", "found"),
    [
        ("<!-- coordinator:task=issue-1 -->\nQueued", "issue-1", True),
        ("\n  <!-- coordinator:task=issue-1 -->\nQueued", "issue-1", True),
        ("<!-- coordinator:task=issue-10 -->\nQueued", "issue-1", False),
        ("<!-- coordinator:task=issue-1 -->\nQueued", "issue-10", False),
        ("Queued\n<!-- coordinator:task=issue-1 -->", "issue-1", False),
        ("> <!-- coordinator:task=issue-1 -->", "issue-1", False),
        ("<!-- coordinator:untrusted -->\nThanks", "issue-1", False),
        ("", "issue-1", False),
    ],
)
def test_a_tracking_comment_is_known_by_its_marker_at_the_top(body: str, task_id: str, found: bool) -> None:
    assert is_tracking_comment(body, task_id) is found


def test_every_rendered_comment_starts_with_its_own_marker_once() -> None:
    life = IssueLife()
    bodies = [render(life.task, CONFIG)]
    bodies.append(render(life.claim(), CONFIG))
    bodies.append(render(life.fail("boom", next_mode="complex"), CONFIG))
    bodies.append(render(life.claim("runner-b"), CONFIG))
    bodies.append(render(life.complete("runner-b", summary="done"), CONFIG))
    for body in bodies:
        assert body.startswith(marker("issue-1") + "\n")
        assert is_tracking_comment(body, "issue-1")
        assert body.count("<!-- coordinator:") == 1


# -- the text of each stage ----------------------------------------------------------------------------------------


def test_queued() -> None:
    life = IssueLife()
    body = render(life.task, CONFIG)
    assert headline(body) == "⏳ **Queued**: waiting for a runner (mode `simple`, priority medium)"
    assert "Attempts" not in body
    assert "triggered by Codertocat (issues.labeled)" in body and "Task `issue-1`" in body


def test_blocked_is_waiting() -> None:
    task = issue_task(status=TaskStatus.BLOCKED)
    assert headline(render(task, CONFIG)) == "⏳ **Waiting** for the tasks it depends on"


def test_running_names_the_machine_the_mode_and_the_attempt() -> None:
    life = IssueLife()
    task = life.claim("gpu-box-1")
    assert headline(render(task, CONFIG)) == (
        "⚙️ **Running** on `gpu-box-1` in mode `simple` (attempt 1 of 3) since 2026-03-01 12:01 UTC"
    )


def test_escalating_says_which_attempt_failed_why_and_the_next_mode() -> None:
    life = IssueLife()
    life.claim()
    task = life.fail("tests still fail", next_mode="complex")
    assert headline(render(task, CONFIG)) == (
        "🔁 **Attempt 1 failed**: tests still fail: escalating to mode `complex`; waiting for a runner"
    )
    life.claim("runner-b")
    assert "(attempt 2 of 3)" in headline(render(life.task, CONFIG))
    assert "in mode `complex`" in headline(render(life.task, CONFIG))


def test_a_failed_attempt_retried_in_the_same_mode_says_so() -> None:
    life = IssueLife()
    life.claim()
    task = life.fail("network down")
    assert headline(render(task, CONFIG)).endswith("network down: trying again in mode `simple`; waiting for a runner")


def test_a_runner_that_vanished_is_said_so() -> None:
    life = IssueLife()
    life.claim()
    task = life.expire()
    assert task.status == TaskStatus.QUEUED
    line = headline(render(task, CONFIG))
    assert line.startswith("🔁 **Attempt 1 lease expired**: lease of runner-a expired at ")
    assert line.endswith("trying again in mode `simple`; waiting for a runner")


def test_an_attempt_handed_back_uses_none_of_the_budget() -> None:
    life = IssueLife()
    life.claim()
    task = life.release("usage limit reached")
    assert headline(render(task, CONFIG)) == (
        "🔁 **Handed back**: usage limit reached: trying again in mode `simple`; waiting for a runner"
    )
    life.claim("runner-b")
    # The handed-back attempt counted for nothing: this is the first of three, not the second.
    assert "(attempt 1 of 3)" in headline(render(life.task, CONFIG))
    table = render(life.task, CONFIG).split("<details>")[1]
    assert "| - | `simple` |  | `runner-a` | released: usage limit reached |" in table
    assert "| 1 | `simple` |  | `runner-b` | running |" in table


def test_a_new_round_counts_its_attempts_from_one() -> None:
    life = IssueLife()
    life.claim()
    life.fail("boom", retryable=False)
    assert life.task.status == TaskStatus.FAILED
    life.retrigger(later(60))
    queued = render(life.task, CONFIG)
    assert headline(queued).startswith("⏳ **Queued**")  # the last round's failure is not this round's news
    assert "Attempts" not in queued
    running = render(life.claim("runner-b"), CONFIG)
    assert "(attempt 1 of 3)" in headline(running)
    assert "| 1 | `simple` |  | `runner-b` | running |" in running


def test_the_final_comment_has_outcome_models_cost_tokens_turns_duration_pr_and_log() -> None:
    life = succeeded_life()
    life.record(
        done=("push", "pull"),
        pushed="0123456789abcdef0123456789abcdef01234567",
        pull_number=7,
        pull_url="https://github.com/Codertocat/Hello-World/pull/7",
    )
    body = render(life.task, CONFIG)
    assert headline(body) == "✅ **Succeeded**"
    assert "> Fixed the spelling of 'accidently' in README.md." in body
    for row in [
        "| Outcome | succeeded after 1 attempt(s) |",
        "| Model | `claude-sonnet-4-5` |",
        "| Cost | $0.1234 |",
        "| Tokens | 1,234 in, 56 out |",
        "| Turns | 7 |",
        "| Duration | 2m 05s |",
        "| Pull request | #7 https://github.com/Codertocat/Hello-World/pull/7 |",
        "| Branch | [`coordinator/issue-1`](https://github.com/Codertocat/Hello-World/tree/coordinator/issue-1) at "
        "`0123456789ab` |",
        "| Log | `/var/log/coordinator/issue-1-1.jsonl` on `runner-a` |",
    ]:
        assert row in body, row


def test_the_final_comment_sums_up_every_attempt_of_the_round() -> None:
    life = IssueLife()
    life.claim()
    life.fail("boom", next_mode="complex", result=None)
    life.claim("runner-b")
    life.complete("runner-b", model="claude-opus-4-1", cost_usd=1.5, turns=3, duration_seconds=3700.0)
    body = render(life.task, CONFIG)
    assert "| Outcome | succeeded after 2 attempt(s) |" in body
    assert "| Model | `claude-opus-4-1` |" in body  # the failed attempt reported none
    assert "| Cost | $1.5000 |" in body and "| Turns | 3 |" in body
    assert "| Duration | 1h 02m |" in body  # 60 s + 3,700 s


def test_several_models_are_listed_once_each() -> None:
    life = IssueLife()
    life.claim()
    life.fail("boom", next_mode="complex", result=AttemptResult(model="claude-sonnet-4-5"))
    life.claim("runner-b")
    body = render(life.complete("runner-b", model="claude-opus-4-1"), CONFIG)
    assert "| Models | `claude-sonnet-4-5`, `claude-opus-4-1` |" in body


def test_a_link_policy_offers_to_open_the_pull_request() -> None:
    life = IssueLife(github=link(pr_policy="link"))
    life.claim()
    life.complete(commit="0123456789abcdef0123456789abcdef01234567")
    life.record(done=("push",), pushed="0123456789abcdef0123456789abcdef01234567")
    body = render(life.task, CONFIG)
    assert (
        "| Open a pull request | https://github.com/Codertocat/Hello-World/compare/coordinator/issue-1?expand=1 |"
        in body
    )
    assert "| Pull request |" not in body


@pytest.mark.parametrize(
    ("final", "expected"),
    [
        (lambda life: life.fail("the tests fail", retryable=False), "❌ **Failed**: the tests fail"),
        (lambda life: life.cancel("alice on GitHub"), "🚫 **Cancelled**: cancelled by alice on GitHub"),
    ],
)
def test_failed_and_cancelled_say_why(final: Callable[[IssueLife], Task], expected: str) -> None:
    life = IssueLife()
    life.claim()
    task = final(life)
    body = render(task, CONFIG)
    assert headline(body) == expected
    assert "| Outcome |" in body


def test_a_task_cancelled_before_it_ran_has_no_figures() -> None:
    life = IssueLife()
    body = render(life.cancel("alice on GitHub"), CONFIG)
    assert headline(body) == "🚫 **Cancelled**: cancelled by alice on GitHub"
    assert "| Outcome |" not in body and "Attempts" not in body


def test_status_reasons_and_errors_stay_on_one_line_and_in_their_cell() -> None:
    life = IssueLife()
    life.claim()
    task = life.fail("line one\nline two | with a pipe\n\n" + "x" * 1_000, retryable=False)
    body = render(task, CONFIG)
    line = headline(body)
    assert line.startswith("❌ **Failed**: line one line two \\| with a pipe xxx")
    assert len(line) < 400 and line.endswith("…")


# -- size ----------------------------------------------------------------------------------------------------------


def test_a_huge_summary_is_cut_and_the_comment_stays_within_githubs_limit() -> None:
    life = succeeded_life(summary="word " * 300_000)
    body = render(life.task, CONFIG)
    assert len(body) <= MAX_COMMENT_CHARS < GITHUB_BODY_LIMIT
    assert "more characters not shown]" in body
    assert "| Outcome | succeeded after 1 attempt(s) |" in body  # the figures are still there


def test_the_comment_stays_within_githubs_limit_whatever_every_field_holds() -> None:
    life = IssueLife()
    big = "y" * 5_000
    life.task = life.task.model_copy(update={"max_attempts": 100})
    life.state.put_task(life.task)
    for number in range(99):
        life.claim(f"runner-{number}")
        model = f"{number}{big}"
        life.fail(big, runner=f"runner-{number}", result=AttemptResult(model=model, log=big, error=big))
    life.claim("runner-last")
    task = life.complete("runner-last", summary=big, model=big, log=big, outcome_detail=big)
    body = render(task, CONFIG)
    assert len(body) <= MAX_COMMENT_CHARS
    assert body.startswith(marker("issue-1"))


# -- what the agent cannot do ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field", ["summary", "model", "log", "outcome_detail", "error"], ids=lambda f: f"forged in {f}"
)
def test_an_agent_cannot_forge_a_marker(field: str) -> None:
    forged = f"{FORGED}\n{FORGED} <!-- coordinator:untrusted -->"
    life = succeeded_life(**{field: forged})
    body = render(life.task, CONFIG)
    assert body.startswith(marker("issue-1") + "\n")
    assert not is_tracking_comment(body, "issue-2")
    assert body.count("<!-- coordinator:") == 1


def test_a_summary_that_starts_the_body_cannot_push_the_marker_down() -> None:
    life = succeeded_life(summary=f"\n\n{FORGED}\n# Fake headline")
    body = render(life.task, CONFIG)
    assert body.split("\n")[0] == marker("issue-1")
    assert "\n# Fake headline" not in body  # quoted: "> # Fake headline"
    assert "> # Fake headline" in body


def test_hidden_text_in_the_summary_is_not_posted() -> None:
    hidden = "".join(chr(0xE0000 + ord(ch)) for ch in "secret")
    life = succeeded_life(summary=f"Done.{hidden}<!-- do not show -->\u200b ![alt text](x.png)")
    body = render(life.task, CONFIG)
    assert "> Done. ![](x.png)" in body
    assert "do not show" not in body and "alt text" not in body and "\u200b" not in body


# -- determinism ------------------------------------------------------------------------------------------------------


def test_rendering_is_deterministic() -> None:
    life = succeeded_life()
    first = render(life.task, CONFIG)
    assert render(Task.model_validate(life.task.model_dump()), CONFIG) == first
    assert render(life.task, CONFIG) == first
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", first) is None  # no clock: the final text has no "since"


def test_the_text_changes_when_the_task_does() -> None:
    life = IssueLife()
    texts = [render(life.task, CONFIG), render(life.claim(), CONFIG), render(life.complete(summary="ok"), CONFIG)]
    assert len(set(texts)) == 3


# -- the pull request, the branch, the reply -------------------------------------------------------------------------


def test_the_pull_request_body_closes_the_issue_and_quotes_nothing_hidden() -> None:
    life = succeeded_life(summary="Fixed it.<!-- hidden -->\u200b")
    body = pull_body(life.task, CONFIG)
    assert body.startswith("Closes #1\n\nFixed it.\n\n<sub>Made by coordinator for task `issue-1`")
    assert "triggered by Codertocat" in body and "`coordinator/issue-1`" in body
    assert "hidden" not in body and "\u200b" not in body


def test_a_pull_request_body_without_a_summary() -> None:
    life = succeeded_life(summary=None)
    assert pull_body(life.task, CONFIG).startswith("Closes #1\n\n<sub>")


def test_the_pull_request_body_stays_small_whatever_the_summary() -> None:
    life = succeeded_life(summary="z" * 100_000)
    assert len(pull_body(life.task, CONFIG)) < 5_000


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/Codertocat/Hello-World/issues/1", "https://github.com/Codertocat/Hello-World"),
        ("https://ghe.example.com/team/app/issues/12", "https://ghe.example.com/team/app"),
        ("", "https://github.com/Codertocat/Hello-World"),
    ],
)
def test_the_repository_address_comes_from_the_issue_address(url: str, expected: str) -> None:
    assert repository_url(link(url=url)) == expected


def test_the_pushed_branch_has_the_configured_prefix() -> None:
    task = issue_task(7)
    assert pushed_branch(task, CONFIG) == "coordinator/issue-7"
    assert pushed_branch(task, GitHubConfig(branch_prefix="bots/claude-")) == "bots/claude-issue-7"


def test_the_untrusted_reply_says_who_may_trigger() -> None:
    reply = untrusted_reply("mallory", "read", "claude")
    assert reply.startswith("<!-- coordinator:untrusted -->\n")
    assert "mallory" in reply and "(your access: read)" in reply and "`claude` label" in reply
    assert "write access" in reply


def test_running_since_is_the_attempt_start_in_utc() -> None:
    life = IssueLife()
    life.now = datetime(2026, 3, 1, 23, 59, tzinfo=UTC) - timedelta(minutes=1)
    assert headline(render(life.claim(), CONFIG)).endswith("since 2026-03-01 23:59 UTC")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("thanks @alice", "thanks @&#8203;alice"),
        ("cc @octo-org/team", "cc @&#8203;octo-org/team"),
        ("Fixes #12", "Fixes&#8203; #12"),
        ("closes: octo/repo#3 and resolved #4", "closes&#8203;: octo/repo#3 and resolved&#8203; #4"),
        ("mail me at a@b.com", "mail me at a@b.com"),
        ("`@decorator` stays code", "`@decorator` stays code"),
        ("```\n@decorator\nfixes #1\n```\nfixes #2", "```\n@decorator\nfixes #1\n```\nfixes&#8203; #2"),
        ("This fixes the bug in #5's test", "This fixes the bug in #5's test"),
    ],
)
def test_the_agents_words_cannot_mention_people_or_close_issues(text: str, expected: str) -> None:
    assert inert(text) == expected


def test_a_summary_that_mentions_and_closes_acts_on_nothing_in_the_comment_or_the_pull_request() -> None:
    life = succeeded_life(summary="Done, @alice please look. Fixes #99.")
    body, pull = render(life.task, CONFIG), pull_body(life.task, CONFIG)
    for text in (body, pull):
        assert "@&#8203;alice" in text and "Fixes&#8203; #99" in text
        assert "@alice" not in text and "Fixes #99" not in text
    assert pull.startswith(f"Closes #{life.task.github.issue}\n")  # type: ignore[union-attr]
