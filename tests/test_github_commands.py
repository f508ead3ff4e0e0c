"""Slash commands and comments, decided purely: :func:`~coordinator.github.commands.read_command` (what a comment's
text says) and :func:`~coordinator.github.conversation.plan_comment` (what it asks of the issue's task), as tables.
Events are parsed from the recorded ``issue_comment.created`` payload, changed only where a row says so."""

from __future__ import annotations

from typing import Any

import pytest

from coordinator.github.commands import Command, Unknown, read_command
from coordinator.github.conversation import plan_comment
from coordinator.github.events import IssueCommentEvent, parse
from coordinator.github.tracking import marker, untrusted_reply
from coordinator.models import GitHubConfig, TaskStatus
from tests.github_payloads import label_object, payload
from tests.github_tasks import issue_task, link

MODES = ("simple", "complex", "expert")
CONFIG = GitHubConfig(allowed_bots=["helper-app[bot]"])

# -- read_command ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # /retry, with and without feedback; the feedback runs on over the next lines
        ("/retry", Command("retry")),
        ("/retry more tests please", Command("retry", text="more tests please")),
        ("/retry\nmore tests\nplease", Command("retry", text="more tests\nplease")),
        ("/retry more tests\r\nand docs\r\n", Command("retry", text="more tests\nand docs")),
        ("/retry\tmore tests please", Command("retry", text="more tests please")),
        ("/retry   spaced   out  ", Command("retry", text="spaced   out")),
        # case of the word does not matter, the feedback keeps its own
        ("/RETRY Keep The Case", Command("retry", text="Keep The Case")),
        ("/Cancel", Command("cancel")),
        # leading blank lines and spaces are not part of the command
        ("\n\n  /retry hint", Command("retry", text="hint")),
        ("   /cancel", Command("cancel")),
        # /cancel, its words after it are kept as text (a reason)
        ("/cancel", Command("cancel")),
        ("/cancel wrong issue", Command("cancel", text="wrong issue")),
        # /escalate: next mode, or a named one
        ("/escalate", Command("escalate")),
        ("/escalate expert", Command("escalate", argument="expert")),
        ("/escalate complex because it is hard", Command("escalate", argument="complex")),
        # /priority: one of the levels, any case
        ("/priority high", Command("priority", argument="high")),
        ("/priority CRITICAL", Command("priority", argument="critical")),
        ("/priority low\nno rush", Command("priority", argument="low")),
        ("/PRIORITY medium", Command("priority", argument="medium")),
    ],
)
def test_commands_we_know_are_read_with_their_arguments(body: str, expected: Command) -> None:
    assert read_command(body, modes=MODES) == expected


@pytest.mark.parametrize(
    ("body", "word", "said"),
    [
        ("/escalate wizard", "escalate", "there is no mode 'wizard' (modes: simple, complex, expert)"),
        ("/escalate Expert", "escalate", "there is no mode 'Expert'"),
        ("/priority", "priority", "'/priority' takes one of critical, high, medium, low"),
        ("/priority urgent", "priority", "'/priority' takes one of critical, high, medium, low"),
        ("/help", "help", "'/help' is not a command"),
        ("/claude fix it", "claude", "'/claude' is not a command"),
        ("/Coordinator", "coordinator", "'/coordinator' is not a command"),
        ("/retyr please", "retyr", "'/retyr' is not a command"),
        ("/cancle", "cancle", "'/cancle' is not a command"),
        ("/escalte", "escalte", "'/escalte' is not a command"),
        ("/frobnicate", "frobnicate", "'/frobnicate' is not a command"),
        ("  /frobnicate  ", "frobnicate", "'/frobnicate' is not a command"),
    ],
)
def test_slash_words_meant_for_us_that_we_cannot_carry_out_are_unknown(body: str, word: str, said: str) -> None:
    found = read_command(body, modes=MODES)
    assert isinstance(found, Unknown)
    assert found.word == word and said in found.why


@pytest.mark.parametrize(
    ("body", "addressed"),
    [
        ("/help", True),
        ("/retyr", True),
        ("/escalate wizard", True),
        ("/frobnicate", False),  # a lone slash word: ours only on an issue coordinator works on
        ("/lgtm", False),
    ],
)
def test_only_our_own_words_and_their_misspellings_address_us_on_any_issue(body: str, addressed: bool) -> None:
    found = read_command(body, modes=MODES)
    assert isinstance(found, Unknown) and found.addressed is addressed


@pytest.mark.parametrize(
    "body",
    [
        "",
        "   \n  ",
        "Looks good to me",
        # quoted or code: someone talks about a command, they do not give it
        "> /retry more tests please",
        "```\n/retry\n```",
        "`/retry`",
        "    /retry",  # four spaces: a Markdown code block
        # a slash in the middle of a sentence, or on a later line
        "please /retry this",
        "I tried /cancel but nothing happened",
        "Thanks!\n/retry",
        # paths and other slashes that are not commands
        "/usr/bin/env is missing on the runner",
        "/usr/bin",
        "/etc/hosts needs an entry",
        "/tmp is full, clean it first",
        "/frobnicate the widget",  # an unknown word with words after it reads as a sentence
        "/",
        "/ retry",
        "//retry",
        "/1 of 2 tests fail",
        "/-retry",
        "https://example.com/retry",
    ],
)
def test_text_that_is_not_a_command_for_us_is_none(body: str) -> None:
    assert read_command(body, modes=MODES) is None


# -- plan_comment ---------------------------------------------------------------------------------------------


def comment_event(
    body: str,
    *,
    author: str = "Codertocat",
    kind: str = "User",
    action: str = "created",
    state: str = "open",
    labels: tuple[str, ...] = ("claude",),
    on_pull: bool = False,
) -> IssueCommentEvent:
    """The recorded ``issue_comment.created`` event (issue #1 of Codertocat/Hello-World) with these changes."""
    raw: dict[str, Any] = payload("issue_comment.created")
    raw["action"] = action
    raw["comment"]["body"] = body
    for who in (raw["comment"]["user"], raw["sender"]):
        who.update(login=author, type=kind)
    raw["issue"]["state"] = state
    raw["issue"]["labels"] = [label_object(name) for name in labels]
    if on_pull:
        raw["issue"]["pull_request"] = {"url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/1"}
    parsed = parse("issue_comment", raw, delivery="d-1")
    assert isinstance(parsed, IssueCommentEvent)
    return parsed


ACTIVE = (TaskStatus.QUEUED, TaskStatus.BLOCKED, TaskStatus.RUNNING)
ENDED = (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED)
ALL = ACTIVE + ENDED + (TaskStatus.NEEDS_INPUT,)


def _rows() -> list[tuple[str, TaskStatus, str, bool, str]]:
    """(comment, status, issue state, trigger label on it, expected action) for every combination."""
    rows: list[tuple[str, TaskStatus, str, bool, str]] = []
    for status in ALL:
        if status == TaskStatus.NEEDS_INPUT:
            rows += _waiting_for_an_answer()
            continue
        active = status in ACTIVE
        for state in ("open", "closed"):
            for labelled in (True, False):
                startable = state == "open" and labelled
                ended_start = "retry" if startable else "not-now"
                rows += [
                    ("please also update the docs", status, state, labelled, "feedback" if active else "ignore"),
                    ("/retry", status, state, labelled, "not-now" if active else ended_start),
                    ("/retry more tests please", status, state, labelled, "feedback" if active else ended_start),
                    ("/cancel", status, state, labelled, "cancel" if active else "not-now"),
                    ("/escalate", status, state, labelled, "escalate" if active else ended_start),
                    ("/escalate expert", status, state, labelled, "escalate" if active else ended_start),
                    ("/priority high", status, state, labelled, "priority" if active else "not-now"),
                    ("/frobnicate", status, state, labelled, "help"),
                    ("/help", status, state, labelled, "help"),
                    ("/escalate wizard", status, state, labelled, "help"),
                    ("/usr/bin is missing", status, state, labelled, "feedback" if active else "ignore"),
                ]
    return rows


def _waiting_for_an_answer() -> list[tuple[str, TaskStatus, str, bool, str]]:
    """While the agent waits for an answer, a plain comment or a /retry with text is the answer."""
    rows: list[tuple[str, TaskStatus, str, bool, str]] = []
    status = TaskStatus.NEEDS_INPUT
    for state in ("open", "closed"):
        for labelled in (True, False):
            rows += [
                ("please also update the docs", status, state, labelled, "answer"),
                ("/retry", status, state, labelled, "not-now"),
                ("/retry more tests please", status, state, labelled, "answer"),
                ("/cancel", status, state, labelled, "cancel"),
                ("/escalate", status, state, labelled, "escalate"),
                ("/priority high", status, state, labelled, "priority"),
                ("/frobnicate", status, state, labelled, "help"),
                ("/usr/bin is missing", status, state, labelled, "answer"),
            ]
    return rows


@pytest.mark.parametrize(("body", "status", "state", "labelled", "action"), _rows())
def test_what_a_writers_comment_asks_of_the_task(
    body: str, status: TaskStatus, state: str, labelled: bool, action: str
) -> None:
    event = comment_event(body, state=state, labels=("bug", "claude") if labelled else ("bug",))
    task = issue_task(1, status=status)
    what = plan_comment(event, task, CONFIG, MODES)
    assert what.action == action, what.why
    assert what.task_id == "issue-1"
    assert what.is_command == (body.startswith("/") and not body.startswith("/usr"))


@pytest.mark.parametrize(
    ("body", "action", "said"),
    [
        ("please also update the docs", "ignore", "issue #1 has no task"),
        ("/retry more tests please", "help", "this issue has no task yet: add the label `claude`"),
        ("/cancel", "help", "no task yet"),
        ("/escalate", "help", "no task yet"),
        ("/priority high", "help", "no task yet"),
        ("/help", "help", "is not a command"),
        ("/retyr", "help", "is not a command"),
        ("/frobnicate", "ignore", "issue #1 has no task"),  # not ours to answer on an issue we are not on
        ("/lgtm", "ignore", "issue #1 has no task"),
    ],
)
def test_comments_on_an_issue_without_a_task(body: str, action: str, said: str) -> None:
    what = plan_comment(comment_event(body), None, CONFIG, MODES)
    assert (what.action, what.task_id) == (action, "issue-1")
    assert said in what.why


def test_a_task_of_another_issue_under_the_same_id_is_no_task_of_this_one() -> None:
    forged = issue_task(1, status=TaskStatus.QUEUED, github=link(2))
    assert plan_comment(comment_event("/cancel"), forged, CONFIG, MODES).action == "help"
    assert plan_comment(comment_event("hello"), forged, CONFIG, MODES).action == "ignore"


@pytest.mark.parametrize("status", ALL)
@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"action": "edited"}, "only new comments count"),
        ({"action": "deleted"}, "only new comments count"),
        ({"on_pull": True}, "a comment on a pull request"),
        ({"author": "renovate[bot]", "kind": "Bot"}, "a comment by the bot renovate[bot]"),
        ({"author": "some-app", "kind": "Bot"}, "a comment by the bot some-app"),
    ],
)
@pytest.mark.parametrize("body", ["/cancel", "/retry more tests please", "/frobnicate", "plain words"])
def test_edits_pull_request_comments_and_bots_are_ignored(
    status: TaskStatus, change: dict[str, Any], said: str, body: str
) -> None:
    what = plan_comment(comment_event(body, **change), issue_task(1, status=status), CONFIG, MODES)
    assert what.action == "ignore" and said in what.why


@pytest.mark.parametrize(
    "body",
    [
        f"{marker('issue-1')}\n⚙️ **Running**",
        untrusted_reply("rita", "read", "claude"),
        "<!-- coordinator:help -->\n'/frobnicate' is not a command.",
        f"/cancel\n{marker('issue-1')}",  # a command carrying our marker is taken for our own text, never run
    ],
)
@pytest.mark.parametrize("status", [TaskStatus.RUNNING, TaskStatus.FAILED])
def test_coordinators_own_comments_are_ignored(body: str, status: TaskStatus) -> None:
    what = plan_comment(comment_event(body, author="coordinator-bot"), issue_task(1, status=status), CONFIG, MODES)
    assert what.action == "ignore" and "coordinator's own comment" in what.why


@pytest.mark.parametrize(("body", "action"), [("/cancel", "cancel"), ("fix the typo too", "feedback")])
def test_an_allow_listed_bot_steers_like_a_person(body: str, action: str) -> None:
    event = comment_event(body, author="helper-app[bot]", kind="Bot")
    assert plan_comment(event, issue_task(1, status=TaskStatus.RUNNING), CONFIG, MODES).action == action


def test_a_command_plan_carries_the_command_and_says_who_asked() -> None:
    failed = issue_task(1, status=TaskStatus.FAILED)
    what = plan_comment(comment_event("/retry more tests please"), failed, CONFIG, MODES)
    assert what.command == Command("retry", text="more tests please")
    assert what.why == "/retry of issue-1 by Codertocat"
    escalated = plan_comment(comment_event("/escalate expert"), issue_task(1, status=TaskStatus.QUEUED), CONFIG, MODES)
    assert escalated.command == Command("escalate", argument="expert")


def test_help_and_not_now_say_what_the_reply_or_reaction_answers() -> None:
    running = issue_task(1, status=TaskStatus.RUNNING)
    helped = plan_comment(comment_event("/escalate wizard"), running, CONFIG, MODES)
    assert "there is no mode 'wizard'" in helped.why and "/retry [what to do differently]" in helped.why
    again = plan_comment(comment_event("/retry"), running, CONFIG, MODES)
    assert again.action == "not-now" and "issue-1 is running already" in again.why
    failed = issue_task(1, status=TaskStatus.FAILED)
    closed = plan_comment(comment_event("/retry", state="closed"), failed, CONFIG, MODES)
    assert "only on an open issue with the label `claude`" in closed.why


def test_the_trigger_label_is_the_one_configured_on_the_state_branch() -> None:
    config = CONFIG.model_copy(update={"trigger_label": "ai"})
    failed = issue_task(1, status=TaskStatus.FAILED)
    assert plan_comment(comment_event("/retry", labels=("claude",)), failed, config, MODES).action == "not-now"
    assert plan_comment(comment_event("/retry", labels=("ai",)), failed, config, MODES).action == "retry"
