"""A small but faithful fake of the Anthropic Messages API, good enough to drive the real ``claude`` CLI.

It listens on 127.0.0.1 (an ephemeral port) and answers:

- ``HEAD /`` (and ``GET /``) with 200: the CLI probes the base URL before its first request;
- ``POST /v1/messages`` (the CLI adds ``?beta=true``) with the standard SSE event sequence when the request has
  ``"stream": true`` and with a plain JSON message otherwise (the CLI falls back to that after a broken stream);
- ``POST /v1/messages/count_tokens`` with a rough token count.

What it answers is scripted: a list of replies consumed one per ``/v1/messages`` request (then ``then`` forever),
or a callable that gets the parsed request body and returns a reply. Replies are :class:`Text`,
:class:`ToolUse` (e.g. ``ToolUse.write(path, content)``) and :class:`ApiError` (real Anthropic error body shapes,
including the subscription usage-limit 429 with its ``anthropic-ratelimit-unified-*`` headers).

Usage::

    with FakeAnthropic([ToolUse.write("x.txt", "hi"), Text("DONE")]) as api:
        env = {"ANTHROPIC_BASE_URL": api.url, ...}
        ...
        assert api.requests[0].body["stream"] is True
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Text:
    """A final text answer (``stop_reason: end_turn``)."""

    text: str = "DONE"


@dataclass(frozen=True)
class ToolUse:
    """One tool call (``stop_reason: tool_use``); the CLI runs the tool and sends back a ``tool_result``."""

    name: str
    input: Mapping[str, Any]
    text: str | None = None  # optional text block before the tool call

    @classmethod
    def write(cls, file_path: str, content: str) -> ToolUse:
        """Call the CLI's ``Write`` tool (needs ``--permission-mode acceptEdits`` to run unprompted)."""
        return cls("Write", {"file_path": file_path, "content": content})

    @classmethod
    def bash(cls, command: str, description: str = "run a command") -> ToolUse:
        """Call the CLI's ``Bash`` tool."""
        return cls("Bash", {"command": command, "description": description})


@dataclass(frozen=True)
class ApiError:
    """An HTTP error with the real Anthropic error body ``{"type":"error","error":{"type":...,"message":...}}``."""

    status: int
    type: str
    message: str
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def authentication(cls, message: str = "invalid x-api-key") -> ApiError:
        """401 ``authentication_error`` (a wrong or revoked key)."""
        return cls(401, "authentication_error", message)

    @classmethod
    def server_error(cls, message: str = "Internal server error (fake)") -> ApiError:
        """500 ``api_error``."""
        return cls(500, "api_error", message)

    @classmethod
    def overloaded(cls, message: str = "Overloaded") -> ApiError:
        """529 ``overloaded_error``."""
        return cls(529, "overloaded_error", message)

    @classmethod
    def rate_limit(
        cls, message: str = "Number of request tokens has exceeded your per-minute rate limit (fake)"
    ) -> ApiError:
        """429 ``rate_limit_error`` of an API key (not a subscription limit)."""
        return cls(429, "rate_limit_error", message, {"retry-after": "1"})

    @classmethod
    def usage_limit(cls, resets_at: int, claim: str = "five_hour") -> ApiError:
        """429 of a subscription that hit its usage limit; the CLI reads the reset time from the headers."""
        headers = {
            "anthropic-ratelimit-unified-status": "rejected",
            "anthropic-ratelimit-unified-reset": str(resets_at),
            "anthropic-ratelimit-unified-representative-claim": claim,
            f"anthropic-ratelimit-unified-{claim.replace('_', '-')}-status": "rejected",
            f"anthropic-ratelimit-unified-{claim.replace('_', '-')}-reset": str(resets_at),
            f"anthropic-ratelimit-unified-{claim.replace('_', '-')}-utilization": "1.0",
            "anthropic-ratelimit-unified-overage-status": "rejected",
            "anthropic-ratelimit-unified-overage-disabled-reason": "org_level_disabled",
        }
        return cls(429, "rate_limit_error", "Rate limited (fake usage limit)", headers)


Reply = Text | ToolUse | ApiError
Script = Sequence[Reply] | Callable[[dict[str, Any]], Reply]


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received (body parsed as JSON when it was JSON, else ``None``)."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: dict[str, Any] | None


def working_directory(body: Mapping[str, Any]) -> str | None:
    """The working directory the CLI tells the model about in its system prompt (where tools act)."""
    found = re.search(r"[Ww]orking directory: ([^\s\\\"]+)", json.dumps(body))
    return found.group(1) if found else None


def last_user_text(body: Mapping[str, Any]) -> str:
    """The text of the last ``role: user`` message (string content or its text/tool_result blocks)."""
    for message in reversed(body.get("messages") or []):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        parts: list[str] = []
        for block in content or []:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text":
                parts.append(str(block.get("text", "")))
            elif block.get("type") == "tool_result":
                inner = block.get("content")
                if isinstance(inner, str):
                    parts.append(inner)
                elif isinstance(inner, list):
                    parts.extend(str(b.get("text", "")) for b in inner if isinstance(b, dict))
        return "\n".join(parts)
    return ""


def _estimate_tokens(raw_body: bytes) -> int:
    # Roughly four bytes a token: enough for the CLI to price the run (cost > 0) like the real API would.
    return max(1, len(raw_body) // 4)


class FakeAnthropic:
    """The fake server; use as a context manager, ``url`` is the value for ``ANTHROPIC_BASE_URL``."""

    def __init__(self, script: Script = (), *, then: Reply | None = None, model: str | None = None) -> None:
        """``script``: replies in order (or a callable); ``then``: the reply once a list is used up."""
        self._script = script
        self._queue: list[Reply] = [] if callable(script) else list(script)
        self._then: Reply = then if then is not None else Text("DONE")
        self._model = model
        self._lock = threading.Lock()
        self.requests: list[RecordedRequest] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> FakeAnthropic:
        """Start serving in a daemon thread."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-anthropic", daemon=True)
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

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        if self._server is None:
            raise RuntimeError("FakeAnthropic is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def message_requests(self) -> list[RecordedRequest]:
        """Only the ``POST /v1/messages`` requests."""
        with self._lock:
            return [r for r in self.requests if r.method == "POST" and r.path == "/v1/messages"]

    # -- behaviour -------------------------------------------------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        if callable(self._script):
            return self._script(body)
        with self._lock:
            return self._queue.pop(0) if self._queue else self._then

    def _model_for(self, body: Mapping[str, Any]) -> str:
        return self._model or str(body.get("model") or "claude-fake-1")


def _message_parts(reply: Text | ToolUse) -> tuple[list[dict[str, Any]], str]:
    """The content blocks of a successful reply and its stop reason."""
    if isinstance(reply, Text):
        return [{"type": "text", "text": reply.text}], "end_turn"
    blocks: list[dict[str, Any]] = []
    if reply.text:
        blocks.append({"type": "text", "text": reply.text})
    blocks.append(
        {"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:24]}", "name": reply.name, "input": dict(reply.input)}
    )
    return blocks, "tool_use"


def _sse(event: str, data: Mapping[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _sse_body(message_id: str, model: str, blocks: list[dict[str, Any]], stop: str, input_tokens: int) -> bytes:
    """The standard Messages streaming sequence for one complete message."""
    usage_start = {
        "input_tokens": input_tokens,
        "output_tokens": 1,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }
    out = [
        _sse(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": usage_start,
                },
            },
        )
    ]
    for index, block in enumerate(blocks):
        if block["type"] == "text":
            start: dict[str, Any] = {"type": "text", "text": ""}
            delta: dict[str, Any] = {"type": "text_delta", "text": block["text"]}
        else:
            start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        out.append(_sse("content_block_start", {"type": "content_block_start", "index": index, "content_block": start}))
        out.append(_sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}))
        out.append(_sse("content_block_stop", {"type": "content_block_stop", "index": index}))
    out.append(
        _sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": 5},
            },
        )
    )
    out.append(_sse("message_stop", {"type": "message_stop"}))
    return b"".join(out)


def _make_handler(api: FakeAnthropic) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive with Content-Length, as the CLI's HTTP client expects

        def log_message(self, format: str, *args: Any) -> None:
            """Stay quiet: test output should not fill with access logs."""

        def _read_body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks: list[bytes] = []
                while True:
                    size = int(self.rfile.readline().strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _send(self, status: int, body: bytes, content_type: str, headers: Mapping[str, str] = {}) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("request-id", f"req_fake_{uuid.uuid4().hex[:12]}")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
                self.wfile.flush()

        def _error(self, status: int, kind: str, message: str, headers: Mapping[str, str] = {}) -> None:
            body = json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()
            self._send(status, body, "application/json", headers)

        def do_HEAD(self) -> None:
            api._record(RecordedRequest("HEAD", urlsplit(self.path).path, dict(self.headers), None))
            self._send(200, b"", "text/plain")

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            api._record(RecordedRequest("GET", path, dict(self.headers), None))
            if path == "/":
                self._send(200, b"ok", "text/plain")
            else:
                self._error(404, "not_found_error", f"Not found: {path}")

        def do_POST(self) -> None:
            raw = self._read_body()
            path = urlsplit(self.path).path
            try:
                parsed = json.loads(raw) if raw else {}
            except ValueError:
                parsed = None
            body = parsed if isinstance(parsed, dict) else None
            api._record(RecordedRequest("POST", path, dict(self.headers), body))
            if body is None:
                self._error(400, "invalid_request_error", "request body is not a JSON object")
            elif path == "/v1/messages/count_tokens":
                self._send(200, json.dumps({"input_tokens": _estimate_tokens(raw)}).encode(), "application/json")
            elif path == "/v1/messages":
                self._messages(body, raw)
            else:
                self._error(404, "not_found_error", f"Not found: {path}")

        def _messages(self, body: dict[str, Any], raw: bytes) -> None:
            reply = api._next_reply(body)
            if isinstance(reply, ApiError):
                self._error(reply.status, reply.type, reply.message, reply.headers)
                return
            blocks, stop = _message_parts(reply)
            model = api._model_for(body)
            message_id = f"msg_fake_{uuid.uuid4().hex[:20]}"
            tokens = _estimate_tokens(raw)
            if body.get("stream"):
                self._send(
                    200,
                    _sse_body(message_id, model, blocks, stop, tokens),
                    "text/event-stream",
                    {"Cache-Control": "no-cache"},
                )
                return
            message = {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": blocks,
                "stop_reason": stop,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": tokens,
                    "output_tokens": 5,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                },
            }
            self._send(200, json.dumps(message).encode(), "application/json")

    return Handler
