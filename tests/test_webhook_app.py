"""The webhook's pieces one at a time: the signature check (GitHub's published test vector), the WSGI application
called as a WSGI server calls it (the edge cases: methods, sizes, signatures, bodies, duplicates, a full
queue), the worker that processes deliveries after their answer, and what the log says about them."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from coordinator.errors import ConfigError, ContentionError, RemoteError
from coordinator.github.api import GitHubError
from coordinator.github.events import EventError
from coordinator.github.ingest import Outcome
from coordinator.webhook.app import WebhookApp
from coordinator.webhook.delivery import Delivery, log_line
from coordinator.webhook.handler import TRIES, retry_delay, summary
from coordinator.webhook.recent import RecentIds
from coordinator.webhook.signature import checked_secret, signature_matches, signature_of
from coordinator.webhook.worker import DeliveryWorker, Offer

SECRET = b"test-secret-0123456789abcdef"
LIMIT = 1000


# -- the signature ----------------------------------------------------------------------------------------------


def test_the_signature_is_githubs_for_its_documented_example() -> None:
    # docs.github.com, "Validating webhook deliveries": this secret and payload give this signature.
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert signature_of(b"It's a Secret to Everybody", b"Hello, World!") == expected
    assert signature_matches(b"It's a Secret to Everybody", b"Hello, World!", expected)


@pytest.mark.parametrize(
    "header",
    [None, "", "sha256=", "sha1=" + "0" * 40, signature_of(b"another secret", b"{}"), signature_of(SECRET, b"{} ")],
    ids=["missing", "empty", "no-digest", "sha1", "other-secret", "other-body"],
)
def test_a_missing_or_wrong_signature_never_matches(header: str | None) -> None:
    assert not signature_matches(SECRET, b"{}", header)


def test_a_signature_with_characters_outside_ascii_is_refused_not_an_error() -> None:
    assert not signature_matches(SECRET, b"{}", "sha256=\u00e9\u00e9")


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (None, "no webhook secret: set COORDINATOR_WEBHOOK_SECRET"),
        ("", "no webhook secret"),
        ("abc", "is 3 characters long"),
        ("a-long-enough-secret-value\n", "whitespace or control characters"),
    ],
)
def test_a_missing_short_or_garbled_secret_is_a_config_error_that_never_shows_it(value: str | None, says: str) -> None:
    with pytest.raises(ConfigError, match=says) as caught:
        checked_secret(value)
    assert value is None or not value.strip() or value.strip() not in str(caught.value)


# -- the WSGI application ---------------------------------------------------------------------------------------


class CountingInput(io.BytesIO):
    """``wsgi.input`` that counts the bytes read (and may refuse any read at all)."""

    def __init__(self, data: bytes, *, refuse: bool = False) -> None:
        super().__init__(data)
        self.bytes_read = 0
        self.refuse = refuse

    def read(self, size: int | None = -1) -> bytes:
        if self.refuse:
            raise AssertionError("the body was read")
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


class Queue:
    """Takes deliveries as the worker would, or answers ``offer`` as told."""

    def __init__(self, answer: Offer = Offer.QUEUED) -> None:
        self.answer = answer
        self.deliveries: list[Delivery] = []
        self.recent = RecentIds()

    def offer(self, delivery: Delivery) -> Offer:
        if delivery.id is not None and not self.recent.add(delivery.id):
            return Offer.DUPLICATE
        if self.answer is Offer.QUEUED:
            self.deliveries.append(delivery)
        return self.answer


class Answer:
    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status, self.headers, self.text = status, dict(headers), body.decode()

    @property
    def code(self) -> int:
        return int(self.status.split()[0])


class Client:
    """The application, called the way a WSGI server calls it."""

    def __init__(self, app: WebhookApp, lines: list[str]) -> None:
        self.app, self.lines = app, lines

    def request(
        self,
        body: bytes = b"",
        *,
        method: str = "POST",
        headers: dict[str, str] | None = None,
        length: str | None = None,
        stream: CountingInput | None = None,
    ) -> Answer:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "PATH_INFO": "/",
            "CONTENT_LENGTH": str(len(body)) if length is None else length,
            "wsgi.input": stream if stream is not None else CountingInput(body),
        }
        for name, value in (headers or {}).items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        started: list[Any] = []
        chunks = self.app(environ, lambda status, hdrs, exc_info=None: started.append((status, hdrs)))  # type: ignore[arg-type]
        return Answer(started[0][0], started[0][1], b"".join(chunks))

    def deliver(
        self, payload: Any, *, event: str = "issues", delivery: str | None = "d-1", secret: bytes = SECRET
    ) -> Answer:
        body = json.dumps(payload).encode()
        headers = {"X-GitHub-Event": event, "X-Hub-Signature-256": signature_of(secret, body)}
        if delivery is not None:
            headers["X-GitHub-Delivery"] = delivery
        return self.request(body, headers=headers)


def labeled(title: str = "Fix the bug") -> dict[str, Any]:
    return {"action": "labeled", "issue": {"number": 7, "title": title}, "repository": {"full_name": "octo/repo"}}


@pytest.fixture
def queue() -> Queue:
    return Queue()


@pytest.fixture
def client(queue: Queue) -> Client:
    lines: list[str] = []
    return Client(WebhookApp(SECRET, queue, log=lines.append, max_body_bytes=LIMIT), lines)


def test_a_signed_delivery_is_answered_202_and_queued_with_its_id_event_and_payload(
    client: Client, queue: Queue
) -> None:
    answer = client.deliver(labeled(), delivery="72d3162e-cc78-11e3-81ab-4c9367dc0958")

    assert answer.code == 202 and answer.text == "accepted\n"
    [delivery] = queue.deliveries
    assert (delivery.id, delivery.event, delivery.action) == (
        "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "issues",
        "labeled",
    )
    assert delivery.payload == labeled()
    assert client.lines == []  # the worker writes the line of a queued delivery, once it is processed


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "HEAD"])
def test_anything_but_post_is_405_naming_post(client: Client, queue: Queue, method: str) -> None:
    answer = client.request(method=method)
    assert answer.code == 405 and answer.headers["Allow"] == "POST" and queue.deliveries == []


def test_a_missing_signature_is_401_and_nothing_is_queued(client: Client, queue: Queue) -> None:
    answer = client.request(b"{}", headers={"X-GitHub-Event": "issues", "X-GitHub-Delivery": "d-1"})
    assert answer.code == 401 and "X-Hub-Signature-256" in answer.text and queue.deliveries == []
    assert "outcome=rejected: 401" in client.lines[0]


def test_a_signature_made_with_another_secret_is_401(client: Client, queue: Queue) -> None:
    answer = client.deliver(labeled(), secret=b"not-the-secret-at-all-0123")
    assert answer.code == 401 and "signature does not match" in answer.text and queue.deliveries == []


def test_a_signature_of_another_body_is_401(client: Client, queue: Queue) -> None:
    body = json.dumps(labeled()).encode()
    headers = {"X-GitHub-Event": "issues", "X-Hub-Signature-256": signature_of(SECRET, body + b" ")}
    assert client.request(body, headers=headers).code == 401 and queue.deliveries == []


def test_a_body_over_the_limit_is_413_by_its_content_length_without_reading_a_byte(client: Client) -> None:
    stream = CountingInput(b"x" * (LIMIT + 1), refuse=True)
    answer = client.request(length=str(LIMIT + 1), stream=stream, headers={"X-GitHub-Event": "issues"})
    assert answer.code == 413 and str(LIMIT) in answer.text


def test_never_more_than_the_content_length_is_read(client: Client, queue: Queue) -> None:
    body = json.dumps(labeled()).encode()
    stream = CountingInput(body + b"x" * 5000)
    headers = {"X-GitHub-Event": "issues", "X-Hub-Signature-256": signature_of(SECRET, body)}
    answer = client.request(length=str(len(body)), stream=stream, headers=headers)
    assert answer.code == 202 and stream.bytes_read == len(body)


def test_a_body_of_exactly_the_limit_is_read(client: Client) -> None:
    body = json.dumps({"zen": "x" * (LIMIT - 11)}).encode()
    assert len(body) == LIMIT
    answer = client.request(body, headers={"X-GitHub-Event": "ping", "X-Hub-Signature-256": signature_of(SECRET, body)})
    assert answer.code == 200


def test_no_content_length_is_411_and_a_body_shorter_than_it_says_is_400(client: Client) -> None:
    assert client.request(length="", headers={"X-GitHub-Event": "issues"}).code == 411
    assert client.request(length="-5", headers={"X-GitHub-Event": "issues"}).code == 411
    answer = client.request(length="50", stream=CountingInput(b"{}"), headers={"X-GitHub-Event": "issues"})
    assert answer.code == 400 and "shorter" in answer.text


@pytest.mark.parametrize("body", [b"event=issues&payload=%7B%7D", b"{not json", b"\xff\xfe", b"[1, 2]", b'"text"'])
def test_a_signed_body_that_is_not_a_json_object_is_400_saying_what_to_set(
    client: Client, queue: Queue, body: bytes
) -> None:
    headers = {"X-GitHub-Event": "issues", "X-Hub-Signature-256": signature_of(SECRET, body)}
    answer = client.request(body, headers=headers)
    assert answer.code == 400 and "JSON" in answer.text and queue.deliveries == []


def test_a_body_nested_deeper_than_the_parser_goes_is_400_not_a_crash(client: Client) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    app = WebhookApp(SECRET, Queue(), log=client.lines.append, max_body_bytes=len(body))
    headers = {"X-GitHub-Event": "issues", "X-Hub-Signature-256": signature_of(SECRET, body)}
    assert Client(app, client.lines).request(body, headers=headers).code == 400


@pytest.mark.parametrize(
    ("headers", "says"),
    [({}, "X-GitHub-Event"), ({"X-GitHub-Event": "Issues; rm -rf"}, "X-GitHub-Event")],
)
def test_a_signed_delivery_without_a_proper_event_header_is_400(
    client: Client, headers: dict[str, str], says: str
) -> None:
    body = b"{}"
    answer = client.request(body, headers={**headers, "X-Hub-Signature-256": signature_of(SECRET, body)})
    assert answer.code == 400 and says in answer.text


def test_a_delivery_id_of_a_strange_shape_is_400_and_never_logged(client: Client) -> None:
    answer = client.deliver(labeled(), delivery="x\x1b[2J\nforged line")
    assert answer.code == 400
    assert all("forged" not in line and "\x1b" not in line for line in client.lines)
    assert client.lines[0].startswith("delivery=- ")


def test_ping_is_answered_200_and_not_queued(client: Client, queue: Queue) -> None:
    answer = client.deliver({"zen": "Keep it logically awesome.", "hook_id": 1}, event="ping")
    assert answer.code == 200 and queue.deliveries == []
    assert client.lines[0].startswith("delivery=d-1 event=ping ") and client.lines[0].endswith("outcome=pong")


def test_the_same_delivery_id_again_is_200_already_received_and_not_queued_twice(client: Client, queue: Queue) -> None:
    assert client.deliver(labeled(), delivery="d-7").code == 202
    again = client.deliver(labeled(), delivery="d-7")
    assert again.code == 200 and "already received" in again.text and len(queue.deliveries) == 1
    assert client.deliver(labeled(), delivery="d-8").code == 202 and len(queue.deliveries) == 2


@pytest.mark.parametrize(("offer", "says"), [(Offer.FULL, "queue is full"), (Offer.STOPPING, "stopping")])
def test_a_full_or_stopping_queue_is_503_with_retry_after(offer: Offer, says: str) -> None:
    lines: list[str] = []
    client = Client(WebhookApp(SECRET, Queue(offer), log=lines.append), lines)
    answer = client.deliver(labeled())
    assert answer.code == 503 and says in answer.text and answer.headers["Retry-After"] == "60"


def test_what_the_screen_ignores_is_200_ignored_and_not_queued(queue: Queue) -> None:
    lines: list[str] = []
    app = WebhookApp(SECRET, queue, log=lines.append, screen=lambda d: "coordinator does not act on 'push' events")
    answer = Client(app, lines).deliver({"ref": "refs/heads/main"}, event="push")
    assert answer.code == 200 and answer.text.startswith("ignored: ") and queue.deliveries == []
    assert lines[0].endswith("outcome=ignored (coordinator does not act on 'push' events)")


def test_a_payload_the_screen_finds_malformed_is_400_naming_the_field(queue: Queue) -> None:
    def screen(delivery: Delivery) -> str | None:
        raise EventError("the event has no 'issue' object: is this the event file GitHub wrote?")

    lines: list[str] = []
    answer = Client(WebhookApp(SECRET, queue, log=lines.append, screen=screen), lines).deliver({"action": "labeled"})
    assert answer.code == 400 and "'issue' object" in answer.text and queue.deliveries == []


def test_a_bug_costs_one_500_answer_and_logs_only_the_errors_type(queue: Queue) -> None:
    def screen(delivery: Delivery) -> str | None:
        raise KeyError("Fix the bug")  # the text of the payload must not reach the log

    lines: list[str] = []
    answer = Client(WebhookApp(SECRET, queue, log=lines.append, screen=screen), lines).deliver(labeled())
    assert answer.code == 500 and answer.text == "internal error\n"
    assert lines[0].endswith("outcome=error: KeyError") and "Fix the bug" not in lines[0]


def test_log_lines_never_hold_the_payload_text(client: Client) -> None:
    client.deliver({"zen": "Fix the bug TITLE-TEXT", "hook_id": 1}, event="ping")
    client.deliver(labeled("TITLE-TEXT"), secret=b"wrong-secret-0123456789abc")
    assert client.lines and all("TITLE-TEXT" not in line for line in client.lines)


def test_the_log_line_escapes_and_shortens_the_outcome() -> None:
    line = log_line(delivery="d", event="issues", action="labeled", outcome="bad\x1b[31m " + "x" * 400, ms=3.4)
    assert line.startswith("delivery=d event=issues action=labeled ms=3 outcome=bad")
    assert "\x1b" not in line and len(line) < 400


# -- the worker -------------------------------------------------------------------------------------------------


def delivery(number: int, *, id: str | None = None) -> Delivery:
    return Delivery(id=id or f"d-{number}", event="issues", payload={"action": "labeled", "n": number}, received=0.0)


@pytest.fixture
def started() -> Iterator[Callable[..., DeliveryWorker]]:
    workers: list[DeliveryWorker] = []

    def start(handle: Callable[[Delivery], str], **kw: Any) -> DeliveryWorker:
        worker = DeliveryWorker(handle, **kw)
        worker.start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop(5)


def test_the_worker_processes_deliveries_one_at_a_time_in_order_in_one_thread(
    started: Callable[..., DeliveryWorker],
) -> None:
    seen: list[tuple[int, str]] = []
    lines: list[str] = []

    def handle(d: Delivery) -> str:
        seen.append((d.payload["n"], threading.current_thread().name))
        return f"done {d.payload['n']}"

    worker = started(handle, log=lines.append)
    assert [worker.offer(delivery(n)) for n in range(20)] == [Offer.QUEUED] * 20
    assert worker.wait_idle(10)
    assert [n for n, _ in seen] == list(range(20)) and {name for _, name in seen} == {"webhook-worker"}
    assert len(lines) == 20 and lines[3].startswith("delivery=d-3 event=issues action=labeled ms=")
    assert lines[3].endswith("outcome=done 3")


def test_a_delivery_seen_lately_is_not_queued_again(started: Callable[..., DeliveryWorker]) -> None:
    worker = started(lambda d: "done", log=lambda line: None)
    assert worker.offer(delivery(1)) is Offer.QUEUED
    assert worker.offer(delivery(1)) is Offer.DUPLICATE
    assert worker.wait_idle(10) and worker.offer(delivery(1)) is Offer.DUPLICATE


def test_a_failed_delivery_is_retried_as_the_policy_says_then_logged_and_forgotten_for_a_redelivery(
    started: Callable[..., DeliveryWorker],
) -> None:
    tries: list[int] = []
    lines: list[str] = []

    def handle(d: Delivery) -> str:
        tries.append(d.payload["n"])
        raise RemoteError("cannot reach the remote at https://x-access-token:SECRET-TOKEN@example.com")

    worker = started(
        handle,
        log=lines.append,
        retry=lambda error, n: 0.01 if n < 3 else None,
        redact=lambda text: text.replace("SECRET-TOKEN", "[REDACTED]"),
    )
    worker.offer(delivery(1))
    assert worker.wait_idle(10)
    assert tries == [1, 1, 1]
    assert lines[0].endswith("(after 3 tries)") and "error: cannot reach the remote" in lines[0]
    assert "SECRET-TOKEN" not in lines[0] and "[REDACTED]" in lines[0]
    assert worker.offer(delivery(1)) is Offer.QUEUED  # GitHub's "Redeliver" is taken


def test_a_bug_in_the_handler_is_logged_with_its_type_and_the_worker_goes_on(
    started: Callable[..., DeliveryWorker],
) -> None:
    lines: list[str] = []

    def handle(d: Delivery) -> str:
        if d.payload["n"] == 1:
            raise ZeroDivisionError("division by zero")
        return "done"

    worker = started(handle, log=lines.append)
    worker.offer(delivery(1))
    worker.offer(delivery(2))
    assert worker.wait_idle(10)
    assert "ZeroDivisionError" in lines[0] and "please report it" in lines[0] and lines[1].endswith("outcome=done")


def test_a_full_queue_refuses_and_forgets_the_id_so_a_redelivery_is_taken(
    started: Callable[..., DeliveryWorker],
) -> None:
    taken, release = threading.Event(), threading.Event()

    def handle(d: Delivery) -> str:
        taken.set()
        return "done" if release.wait(10) else "timeout"

    worker = started(handle, log=lambda line: None, queue_size=2)
    assert worker.offer(delivery(0)) is Offer.QUEUED and taken.wait(10)  # being processed: no longer queued
    assert [worker.offer(delivery(n)) for n in (1, 2, 3)] == [Offer.QUEUED, Offer.QUEUED, Offer.FULL]
    release.set()
    assert worker.wait_idle(10)
    assert worker.offer(delivery(3)) is Offer.QUEUED


def test_stop_takes_no_more_deliveries_and_finishes_the_queued_ones() -> None:
    done: list[int] = []
    worker = DeliveryWorker(lambda d: str(done.append(d.payload["n"])), log=lambda line: None)
    worker.start()
    for n in range(5):
        worker.offer(delivery(n))
    assert worker.stop(10) == []
    assert done == list(range(5))
    assert worker.offer(delivery(9)) is Offer.STOPPING


def test_stop_gives_up_after_its_bound_and_names_the_deliveries_left() -> None:
    blocked = threading.Event()
    worker = DeliveryWorker(lambda d: "done" if blocked.wait(30) else "late", log=lambda line: None)
    worker.start()
    for n in range(3):
        worker.offer(delivery(n))
    left = worker.stop(0.2)
    blocked.set()
    assert left == ["d-0", "d-1", "d-2"]


def test_hurry_ends_a_stop_under_way_at_once() -> None:
    blocked = threading.Event()
    worker = DeliveryWorker(lambda d: "done" if blocked.wait(30) else "late", log=lambda line: None)
    worker.start()
    worker.offer(delivery(1))
    result: list[list[str]] = []
    stopping = threading.Thread(target=lambda: result.append(worker.stop(60)))
    stopping.start()
    worker.hurry()
    stopping.join(10)
    blocked.set()
    assert result == [["d-1"]]


# -- the handler's policy and summary ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "task", "shown"),
    [
        ("submit issue-7: Fix the bug TITLE (labeled by alice)", "issue-7", "submit issue-7"),
        ("retrigger issue-7 by alice, round 2: TITLE (reopened)", "issue-7", "retrigger issue-7 by alice, round 2"),
        ("issue-7 unchanged (edited)", "issue-7", "issue-7 unchanged"),
        ("ignored: the label 'TITLE' is not the trigger", None, "ignored"),
        ("priority of issue-7 low -> high by alice: TITLE", "issue-7", "priority of issue-7 low -> high by alice"),
        ("answered: /frobnicate TITLE is not a command", None, "answered"),
        ("", None, "done"),
    ],
)
def test_the_summary_names_what_was_done_but_never_the_text_it_quotes(
    message: str, task: str | None, shown: str
) -> None:
    assert summary(Outcome(message, task)) == shown


@pytest.mark.parametrize(
    ("error", "tries", "wait"),
    [
        (RemoteError("unreachable"), 1, 2.0),
        (ContentionError("busy"), 2, 8.0),
        (RemoteError("unreachable"), TRIES, None),
        (GitHubError("bad credentials", status=401), 1, None),
        (GitHubError("server error", status=502, transient=True), 1, 2.0),
        (GitHubError("rate limited", status=403, transient=True, retry_after=5.0), 1, 5.0),
        (GitHubError("rate limited", status=403, transient=True, retry_after=3600.0), 1, None),
        (EventError("the event has no 'issue' object"), 1, None),
    ],
)
def test_only_failures_that_may_pass_are_retried(error: Exception, tries: int, wait: float | None) -> None:
    assert retry_delay(error, tries) == wait
