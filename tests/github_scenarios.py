"""Scenario helpers for the GitHub ingest and courier tests: one "process" (its own store on the shared bare
remote, its own REST client against the fake GitHub, its own courier and ingest), payloads as GitHub sends them,
and a clock for the fake GitHub that never gives two events the same second."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from coordinator.github.courier import Courier
from coordinator.github.events import IssuesEvent, parse
from coordinator.github.ingest import Ingest, Outcome
from coordinator.github.pushing import Pusher
from coordinator.github.rest import RestGitHub
from coordinator.github.settings import GitHubSettings
from coordinator.github.wiring import courier_for
from coordinator.models import GitHubConfig, Task
from coordinator.redaction import Redactor
from coordinator.store.remote import Remote
from coordinator.store.store import StateStore
from tests.fakes.github_events import issues_event
from tests.fakes.github_server import FakeGitHub

REPO = "octo/repo"
TOKEN = "ghp_" + "scenarioToken0123456789abcdefghijklmn"[:36]
TRIGGER = "claude"


class TickingClock:
    """GitHub's timestamps have whole seconds; a person never labels, closes and reopens an issue within one.
    Every reading is one second after the last, so the fake's events are strictly ordered in time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        with self._lock:
            self._last += timedelta(seconds=1)
            return self._last


@contextmanager
def fake_github() -> Iterator[FakeGitHub]:
    """The fake GitHub with a token, alice (write) and rita (read)."""
    with FakeGitHub(REPO, token=TOKEN, token_user="coordinator-bot") as gh:
        gh.set_permission("alice", "write")
        gh.set_permission("rita", "read")
        yield gh


@dataclass
class Side:
    """One process's view of the queue and of GitHub, as ``coordinator ingest`` or a runner builds it."""

    store: StateStore
    api: RestGitHub
    courier: Courier
    ingest: Ingest
    lines: list[str] = field(default_factory=list)
    pauses: list[float] = field(default_factory=list)

    def handle(self, event: IssuesEvent) -> Outcome:
        """``coordinator ingest`` on ``event``."""
        return self.ingest.handle(event)

    def task(self, number: int) -> Task:
        """The issue's task as the state branch has it now."""
        return self.store.read().tasks[f"issue-{number}"]

    def close(self) -> None:
        self.api.close()
        self.store.close()


def side(
    remote: Path,
    gh: FakeGitHub,
    cache: Path,
    *,
    who: str = "ingest",
    pusher: Pusher | None = None,
    env: dict[str, str] | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Side:
    """A process on ``remote`` talking to ``gh``; ``env`` is its environment (what the redactor knows). The
    pauses between quick retries are recorded in ``Side.pauses`` instead of waited (GitHub's 502s are instant
    here; how long to wait is tested where it is decided)."""
    environment = {"GITHUB_TOKEN": TOKEN, **(env or {})}
    store = StateStore(Remote.parse(str(remote)), cache_dir=cache)
    pauses: list[float] = []
    settings = GitHubSettings(api_url=gh.url, token=TOKEN, repository=REPO, token_source="GITHUB_TOKEN")
    api = RestGitHub(settings, sleep=pauses.append)
    lines: list[str] = []
    courier = courier_for(
        store,
        api,
        who=who,
        repository=REPO,
        redactor=Redactor.from_env(environment),
        now=now,
        echo=lines.append,
        pusher=pusher,
        sleep=pauses.append,
    )
    store.read()
    ingest = Ingest(store=store, api=api, courier=courier, echo=lines.append)
    return Side(store, api, courier, ingest, lines, pauses)


def event(
    gh: FakeGitHub,
    number: int,
    action: str,
    *,
    sender: str,
    label: str | None = None,
    kind: str = "User",
    delivery: str | None = None,
) -> IssuesEvent:
    """The parsed ``issues.<action>`` event GitHub would send now."""
    parsed = parse("issues", issues_event(gh, number, action, sender=sender, label=label, kind=kind), delivery=delivery)
    assert isinstance(parsed, IssuesEvent)
    return parsed


def labelled_issue(gh: FakeGitHub, *, by: str = "alice", author: str = "bob", labels: tuple[str, ...] = ()) -> int:
    """An issue (with ``labels``) that ``by`` labels with the trigger label, as GitHub records it."""
    number = gh.add_issue("Add notes", body="Please add a notes.md file.", author=author, labels=labels)
    gh.label(number, TRIGGER, by=by)
    return number


def tracking_comments(gh: FakeGitHub, number: int) -> list[dict[str, Any]]:
    """The issue's comments that carry the tracking marker of its task."""
    marker = f"<!-- coordinator:task=issue-{number} -->"
    return [c for c in gh.issue_comments(number) if marker in c["body"]]


def set_github_config(store: StateStore, **values: Any) -> None:
    """Change ``github`` in ``config.json`` on the state branch (what the team writes there)."""
    from coordinator.core.transitions import Change

    def change(state: Any, now: datetime) -> Change:
        config = state.config.model_copy(update={"github": GitHubConfig(**{**state.github.model_dump(), **values})})
        return Change(message="set github config", config=config)

    store.update(change)


def delete_comment(gh: FakeGitHub, comment_id: int) -> None:
    """Someone deletes a comment on GitHub (the fake has no route for it: its records are changed directly)."""
    with gh._lock:
        del gh._repo(None).comments[comment_id]


def writes(gh: FakeGitHub, since: int = 0) -> list[str]:
    """``METHOD path`` of every request after the first ``since`` that would change something on GitHub."""
    return [f"{r.method} {r.path}" for r in gh.requests[since:] if r.method != "GET"]
