"""The spend of a ``claude`` run seen so far, read from its streamed JSON events.

With ``--output-format stream-json --verbose --include-partial-messages`` the CLI prints every API message as it
arrives: ``stream_event`` lines carry the API's own ``message_start`` (input and cache tokens) and
``message_delta`` (the output tokens so far), and an ``assistant`` line repeats the message with its usage. A run
stopped before its final ``result`` object (timeout, cancel, a kill) printed no total: this module adds up the
usage of every message it did print (each message once, by its id; subagents' messages too) and prices it with
:mod:`coordinator.agents.pricing`. Pure: a function of the parsed events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from coordinator.agents.launch import whole
from coordinator.agents.pricing import estimated_cost
from coordinator.models import Tokens

_FIELDS = {
    "input": "input_tokens",
    "output": "output_tokens",
    "cache_read": "cache_read_input_tokens",
    "cache_creation": "cache_creation_input_tokens",
}


@dataclass
class _Message:
    """One API message: its model and the highest count seen for each kind of token (counts only grow)."""

    model: str | None = None
    top_level: bool = True
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_FIELDS, 0))

    def take(self, usage: object) -> None:
        if not isinstance(usage, Mapping):
            return
        for name, key in _FIELDS.items():
            value = whole(usage.get(key))
            if value is not None and value > self.counts[name]:
                self.counts[name] = value

    @property
    def tokens(self) -> Tokens:
        return Tokens(**self.counts)


@dataclass(frozen=True)
class StreamUsage:
    """What the streamed events showed: tokens, estimated cost, turns (top-level API messages), the model."""

    tokens: Tokens
    cost_usd: float
    turns: int
    model: str | None


def _message_of(event: Mapping[str, Any]) -> tuple[str | None, Mapping[str, Any] | None, object]:
    """(message id, the message object if the event has one, its usage) of an ``assistant`` or ``stream_event``."""
    if event.get("type") == "assistant":
        message = event.get("message")
        if isinstance(message, Mapping):
            ident = message.get("id")
            return (ident if isinstance(ident, str) else None), message, message.get("usage")
        return None, None, None
    inner = event.get("event")
    if event.get("type") != "stream_event" or not isinstance(inner, Mapping):
        return None, None, None
    ident = event.get("api_message_id")
    if inner.get("type") == "message_start" and isinstance(inner.get("message"), Mapping):
        message = inner["message"]
        ident = message.get("id") if isinstance(message.get("id"), str) else ident
        return (ident if isinstance(ident, str) else None), message, message.get("usage")
    if inner.get("type") == "message_delta":
        return (ident if isinstance(ident, str) else None), None, inner.get("usage")
    return None, None, None


def usage_so_far(events: Iterable[Mapping[str, Any]]) -> StreamUsage | None:
    """The usage and estimated cost of every API message in ``events``; None when no message showed usage."""
    messages: dict[str, _Message] = {}
    current: dict[str | None, str] = {}  # the latest message of each (sub)agent, for deltas that name none
    for event in events:
        ident, message, usage = _message_of(event)
        parent = event.get("parent_tool_use_id")
        parent = parent if isinstance(parent, str) else None
        if ident is None and message is None and usage is not None:
            ident = current.get(parent)
        if ident is None:
            continue
        current[parent] = ident
        seen = messages.setdefault(ident, _Message(top_level=parent is None))
        if message is not None and isinstance(message.get("model"), str):
            seen.model = message["model"]
        seen.take(usage)
    if not messages:
        return None
    tokens = Tokens(**{name: sum(m.counts[name] for m in messages.values()) for name in _FIELDS})
    cost = sum(estimated_cost(m.model, m.tokens) for m in messages.values())
    models = [m.model for m in messages.values() if m.model and m.top_level]
    return StreamUsage(
        tokens=tokens,
        cost_usd=round(cost, 6),
        turns=sum(1 for m in messages.values() if m.top_level),
        model=models[-1] if models else None,
    )
