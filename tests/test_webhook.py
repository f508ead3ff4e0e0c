"""``coordinator webhook serve`` end to end: the installed command as a subprocess on 127.0.0.1, real HTTP requests
signed as GitHub signs them, the fake GitHub behind it, and a real state branch in a bare repository."""

from __future__ import annotations

import copy
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from coordinator.models import Priority, TaskStatus
from coordinator.store.store import StateStore
from coordinator.webhook.signature import signature_of
from tests.fakes import github_server
from tests.fakes.github_events import issues_event, user
from tests.fakes.github_server import FakeGitHub
from tests.github_scenarios import REPO, TOKEN, TRIGGER, TickingClock, fake_github, labelled_issue, tracking_comments
from tests.user_machine import run, start, user_env

pytestmark = pytest.mark.skipif(os.name == "nt", reason="SIGTERM and the POSIX user environment of the subprocess")

SECRET = "whsec-" + "e2e0123456789abcdefghijklmnopqrstuv"
_LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)/")


@pytest.fixture
def gh(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    monkeypatch.setattr(github_server, "_now", TickingClock())
    with fake_github() as fake:
        yield fake


def serve_env(gh: FakeGitHub, remote: Path, home: Path, **extra: str) -> dict[str, str]:
    """What the service's owner sets: the secret, the token, the API, the repository and the state remote."""
    values = {
        "COORDINATOR_WEBHOOK_SECRET": SECRET,
        "GITHUB_API_URL": gh.url,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_REPOSITORY": REPO,
        "COORDINATOR_REMOTE": str(remote),
        **extra,
    }
    return user_env(home, values)


class Served:
    """A running ``coordinator webhook serve --port 0``: its URL, its output lines as they come, and requests."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        found = self.wait_for_line(_LISTENING.search, "the server listening")
        self.url = _LISTENING.search(found).group(1)  # type: ignore[union-attr]
        self.port = int(self.url.rsplit(":", 1)[1])

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def output(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def wait_for_line(self, matches: Callable[[str], Any], what: str, timeout: float = 60) -> str:
        """The first output line ``matches`` accepts, waiting up to ``timeout`` seconds for it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = next((line for line in self.lines if matches(line)), None)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                if left <= 0 or (self.process.poll() is not None and not self._changed.wait(0.2)):
                    raise AssertionError(f"no line for {what} within {timeout} s:\n" + "\n".join(self.lines))
                self._changed.wait(min(left, 1))

    def logged(self, text: str, timeout: float = 60) -> str:
        """The first output line holding ``text`` (lines reach the test a moment after the answer)."""
        return self.wait_for_line(lambda line: text in line, repr(text), timeout)

    def processed(self, delivery: str, timeout: float = 60) -> str:
        """The worker's log line of ``delivery`` (it is written once the ingest is done with it)."""
        return self.wait_for_line(
            lambda line: f"delivery={delivery} " in line and "github_calls=" in line, f"delivery {delivery}", timeout
        )

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request("POST", "/", body=body, headers=headers)
            answer = connection.getresponse()
            return answer.status, answer.read().decode()
        finally:
            connection.close()

    def deliver(self, event: str, payload: dict[str, Any], *, delivery: str, secret: str = SECRET) -> tuple[int, str]:
        """A delivery as GitHub posts it: JSON, signed with ``secret``, with its event and delivery id."""
        body = json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/044aadd",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": signature_of(secret.encode(), body),
        }
        return self.post(body, headers)

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM, then its exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)


@pytest.fixture
def serve(gh: FakeGitHub, store: StateStore, remote_path: Path, tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Starts ``coordinator webhook serve --port 0`` (on the state branch of ``store``); stops it after the test."""
    started: list[Served] = []

    def start_server(*args: str, **env: str) -> Served:
        process = start(
            ["webhook", "serve", "--port", "0", *args], serve_env(gh, remote_path, tmp_path / "home", **env)
        )
        started.append(Served(process))
        return started[-1]

    yield start_server
    for served in started:
        if served.process.poll() is None:
            served.process.kill()
            served.process.wait(10)
        assert SECRET not in served.output and TOKEN not in served.output


def labeled(gh: FakeGitHub, number: int) -> dict[str, Any]:
    return issues_event(gh, number, "labeled", sender="alice", label=TRIGGER)


def issue_tasks(store: StateStore) -> dict[str, Any]:
    return {task_id: task for task_id, task in store.read().tasks.items() if task_id.startswith("issue-")}


# -- refusing bad requests ---------------------------------------------------------------------------------------


def test_a_missing_or_wrong_signature_is_401_and_changes_nothing(
    serve: Callable[..., Served], gh: FakeGitHub, store: StateStore
) -> None:
    server = serve()
    number = labelled_issue(gh)
    body = json.dumps(labeled(gh, number)).encode()
    unsigned = {"Content-Type": "application/json", "X-GitHub-Event": "issues", "X-GitHub-Delivery": "d-unsigned"}

    assert server.post(body, unsigned)[0] == 401
    status, text = server.deliver("issues", labeled(gh, number), delivery="d-wrong", secret="not-" + SECRET)
    assert status == 401 and "signature does not match" in text
    assert issue_tasks(store) == {} and gh.call_count() == 0
    assert "outcome=rejected: 401" in server.logged("delivery=d-wrong event=issues action=- ")


def test_an_oversized_body_is_413_at_its_headers_without_being_read(serve: Callable[..., Served]) -> None:
    server = serve()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as conn:
        conn.sendall(
            b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-GitHub-Event: issues\r\n"
            b"Content-Length: 104857600\r\n\r\n" + b"{" * 1024
        )
        # 100 MB announced, 1 KB sent: the answer comes without the rest, so nothing waited for it.
        answer = conn.recv(4096).decode("latin-1")
    assert answer.startswith("HTTP/1.1 413 "), answer


def test_a_body_that_is_not_json_is_400_and_ping_is_answered(serve: Callable[..., Served]) -> None:
    server = serve()
    body = b"payload=%7B%22zen%22%3A%22hi%22%7D"  # the form encoding GitHub offers besides JSON
    headers = {
        "X-GitHub-Event": "ping",
        "X-GitHub-Delivery": "d-form",
        "X-Hub-Signature-256": signature_of(SECRET.encode(), body),
    }
    status, text = server.post(body, headers)
    assert status == 400 and "application/json" in text

    status, text = server.deliver("ping", {"zen": "Design for failure.", "hook_id": 1}, delivery="d-ping")
    assert status == 200 and text == "pong\n"
    assert server.logged("delivery=d-ping event=ping action=- ").endswith("outcome=pong")


def test_an_event_coordinator_does_not_act_on_is_answered_ignored(serve: Callable[..., Served], gh: FakeGitHub) -> None:
    server = serve()
    status, text = server.deliver("push", {"ref": "refs/heads/main", "commits": []}, delivery="d-push")
    assert 200 <= status < 300 and text.startswith("ignored: ")
    assert server.logged("outcome=ignored (coordinator does not act on 'push' events)") and gh.call_count() == 0


# -- deliveries into the queue -----------------------------------------------------------------------------------


def test_a_labeled_delivery_makes_one_task_and_the_same_delivery_again_changes_nothing(
    serve: Callable[..., Served], gh: FakeGitHub, store: StateStore
) -> None:
    server = serve()
    number = labelled_issue(gh)
    payload = labeled(gh, number)

    status, _ = server.deliver("issues", payload, delivery="d-1")
    assert status == 202
    line = server.processed("d-1")
    assert f"outcome=submit issue-{number}" in line and "event=issues action=labeled" in line
    [task] = issue_tasks(store).values()
    assert task.status == TaskStatus.QUEUED and task.github is not None and task.github.trigger.delivery == "d-1"
    assert len(tracking_comments(gh, number)) == 1

    again = server.deliver("issues", payload, delivery="d-1")
    assert again == (200, "already received\n")
    # Restarted, the server has forgotten the id: the ingest's own idempotency keeps it one task.
    assert server.stop() == 0
    restarted = serve()
    assert restarted.deliver("issues", payload, delivery="d-1")[0] == 202
    assert "outcome=ignored" in restarted.processed("d-1")
    assert list(issue_tasks(store)) == [f"issue-{number}"] and len(tracking_comments(gh, number)) == 1


def test_fifty_deliveries_posted_at_once_are_all_answered_and_make_one_task_per_issue(
    serve: Callable[..., Served], gh: FakeGitHub, store: StateStore
) -> None:
    server = serve()
    numbers = [labelled_issue(gh) for _ in range(35)]
    unique = [(f"d-{n}", labeled(gh, n)) for n in numbers]
    resent = [unique[i] for i in range(0, 30, 3)]  # GitHub's "Redeliver": the same id
    twice = [(f"d-{n}-again", labeled(gh, n)) for n in numbers[:5]]  # the same event under another id
    posts = unique + resent + twice
    assert len(posts) == 50
    barrier = threading.Barrier(len(posts))

    def post(item: tuple[str, dict[str, Any]]) -> int:
        barrier.wait(30)
        return server.deliver("issues", item[1], delivery=item[0])[0]

    with ThreadPoolExecutor(max_workers=len(posts)) as pool:
        statuses = list(pool.map(post, posts))

    assert all(200 <= status < 300 for status in statuses), statuses
    assert statuses.count(202) >= 40  # the 35 first deliveries and the 5 under new ids
    for delivery, _ in unique + twice:
        server.processed(delivery, timeout=120)
    tasks = issue_tasks(store)
    assert sorted(tasks) == sorted(f"issue-{n}" for n in numbers)
    assert all(len(tracking_comments(gh, n)) == 1 for n in numbers)


def test_a_writers_slash_command_is_passed_to_the_ingest_like_an_issue_event(
    serve: Callable[..., Served], gh: FakeGitHub, store: StateStore
) -> None:
    server = serve()
    number = labelled_issue(gh)
    server.deliver("issues", labeled(gh, number), delivery="d-label")
    server.processed("d-label")
    comment_id = gh.add_comment(number, "/priority critical", by="alice")

    status, _ = server.deliver("issue_comment", comment_event(gh, number, comment_id), delivery="d-comment")

    assert status == 202
    line = server.processed("d-comment")
    assert "event=issue_comment action=created" in line and "/priority" not in line
    assert store.read().tasks[f"issue-{number}"].priority == Priority.CRITICAL


def test_a_delivery_for_another_repository_is_ignored(
    serve: Callable[..., Served], gh: FakeGitHub, store: StateStore
) -> None:
    server = serve()
    number = labelled_issue(gh)
    payload = labeled(gh, number)
    payload["repository"]["full_name"] = "someone/else"
    status, text = server.deliver("issues", payload, delivery="d-other")
    assert status == 200 and "this endpoint serves octo/repo" in text
    assert issue_tasks(store) == {}


# -- stopping and starting ---------------------------------------------------------------------------------------


class HeldGitHub:
    """The fake GitHub holding every request until :meth:`release` (the worker is then stuck in its first
    delivery, so the others are certainly queued when the test stops the server)."""

    def __init__(self, gh: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> None:
        self.held, self._released = threading.Event(), threading.Event()
        handle = gh._handle

        def held(*args: Any) -> Any:
            self.held.set()
            self._released.wait(60)
            return handle(*args)

        monkeypatch.setattr(gh, "_handle", held)

    def release(self) -> None:
        self._released.set()


def test_sigterm_finishes_the_queued_deliveries_then_exits_0(
    serve: Callable[..., Served], gh: FakeGitHub, store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = serve()
    numbers = [labelled_issue(gh) for _ in range(6)]
    github = HeldGitHub(gh, monkeypatch)
    for n in numbers:
        assert server.deliver("issues", labeled(gh, n), delivery=f"d-{n}")[0] == 202
    assert github.held.wait(30)

    server.process.send_signal(signal.SIGTERM)
    server.logged("webhook: stopping: no new deliveries; finishing 6 queued")
    with pytest.raises(OSError):  # no new connections while it finishes
        socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
    github.release()

    assert server.process.wait(60) == 0
    assert sorted(issue_tasks(store)) == sorted(f"issue-{n}" for n in numbers)
    assert server.logged("webhook: stopped; every delivery received was processed")


def test_deliveries_left_past_the_shutdown_grace_are_named_and_the_exit_code_is_1(
    serve: Callable[..., Served], gh: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = serve("--shutdown-grace", "0.5")
    numbers = [labelled_issue(gh) for _ in range(2)]
    github = HeldGitHub(gh, monkeypatch)
    for n in numbers:
        server.deliver("issues", labeled(gh, n), delivery=f"d-{n}")
    assert github.held.wait(30)

    code = server.stop()
    github.release()

    assert code == 1
    assert server.logged("webhook: stopped with 2 deliveries unfinished: d-1, d-2 (answered but not processed")


def test_the_log_has_one_line_per_delivery_and_no_secret_token_or_issue_text(
    serve: Callable[..., Served], gh: FakeGitHub
) -> None:
    server = serve()
    number = gh.add_issue("TITLE-TEXT of the issue", body="BODY-TEXT", author="bob")
    gh.label(number, TRIGGER, by="alice")
    server.deliver("issues", labeled(gh, number), delivery="d-text")
    server.processed("d-text")
    server.deliver("issues", labeled(gh, number), delivery="d-bad", secret="x" * 40)
    assert server.stop() == 0

    output = server.output
    assert sum(1 for line in server.lines if "delivery=d-text " in line) == 1
    for hidden in (SECRET, TOKEN, "TITLE-TEXT", "BODY-TEXT"):
        assert hidden not in output


def test_the_server_refuses_to_start_without_a_secret(
    gh: FakeGitHub, store: StateStore, remote_path: Path, tmp_path: Path
) -> None:
    env = serve_env(gh, remote_path, tmp_path / "home")
    del env["COORDINATOR_WEBHOOK_SECRET"]
    done = run(["webhook", "serve", "--port", "0"], env, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert (
        done.stderr.startswith("error: no webhook secret: set COORDINATOR_WEBHOOK_SECRET")
        and done.stderr.count("\n") == 1
    )


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"COORDINATOR_WEBHOOK_SECRET": "short"}, "at least 16"),
        ({"GITHUB_TOKEN": ""}, "no GitHub token"),
        ({"GITHUB_REPOSITORY": ""}, "set GITHUB_REPOSITORY=owner/name"),
    ],
)
def test_a_bad_configuration_is_one_error_line_and_exit_2(
    gh: FakeGitHub, store: StateStore, remote_path: Path, tmp_path: Path, change: dict[str, str], says: str
) -> None:
    env = {**serve_env(gh, remote_path, tmp_path / "home"), **change}
    done = run(["webhook", "serve", "--port", "0"], env, timeout=60)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and says in done.stderr, done.stderr
    assert "short" not in change.get("COORDINATOR_WEBHOOK_SECRET", "") or "short" not in done.stderr


def test_a_port_in_use_is_one_error_line(gh: FakeGitHub, store: StateStore, remote_path: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run(["webhook", "serve", "--port", str(port)], serve_env(gh, remote_path, tmp_path / "home"), timeout=60)
    assert done.returncode == 2 and done.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}"), done.stderr


def comment_event(gh: FakeGitHub, number: int, comment_id: int, sender: str = "alice") -> dict[str, Any]:
    """The ``issue_comment.created`` payload GitHub would send for comment ``comment_id`` of issue ``number``."""
    base = issues_event(gh, number, "created", sender=sender)
    [comment] = [copy.deepcopy(c) for c in gh.issue_comments(number) if c["id"] == comment_id]
    return {**base, "comment": comment, "sender": user(sender)}
