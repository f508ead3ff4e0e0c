"""The built-in price table against the real claude CLI: the model each alias stands for, and what the CLI's own
``costUSD`` says those tokens cost (input, output, cache writes and reads), through a local fake of the API."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

import tests.fakes.anthropic_api as fake_api
from coordinator.core.prices import default_prices
from coordinator.models import Tokens
from tests.fakes.claude_env import claude_env

#: Tokens the fake API reports for every request: a prompt of 61,000 tokens, under Haiku 5.5's 100k band.
_USAGE = {"input_tokens": 1_000, "cache_creation_input_tokens": 20_000, "cache_read_input_tokens": 40_000}


def _with_cache_usage(original: Any) -> Any:
    """The fake's SSE body, its ``message_start`` reporting the cache tokens of ``_USAGE``."""

    def body(*args: Any) -> bytes:
        events = []
        for event in original(*args).decode().split("\n\n"):
            name, _, data = event.partition("\ndata: ")
            if name == "event: message_start":
                parsed = json.loads(data)
                parsed["message"]["usage"].update(_USAGE)
                event = f"{name}\ndata: {json.dumps(parsed)}"
            events.append(event)
        return "\n\n".join(events).encode()

    return body


@pytest.mark.slow
@pytest.mark.parametrize("alias", ["haiku", "sonnet", "opus"])
def test_the_table_prices_tokens_as_the_cli_does(
    alias: str, claude_exe: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fake_api, "_sse_body", _with_cache_usage(fake_api._sse_body))
    with fake_api.FakeAnthropic() as api:
        done = subprocess.run(
            [claude_exe, "-p", "--output-format", "json", "--model", alias, "--max-turns", "1", "--", "say hi"],
            env=claude_env(api.url, tmp_path / "home"),
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    usage = json.loads(done.stdout)["modelUsage"]
    assert len(usage) == 1, usage
    model, figures = next(iter(usage.items()))
    found = default_prices().lookup(alias)
    assert found is not None and found[0] == model, f"the CLI runs {model} for {alias!r}: update the aliases"
    tokens = Tokens(
        input=figures["inputTokens"],
        output=figures["outputTokens"],
        cache_read=figures["cacheReadInputTokens"],
        cache_creation=figures["cacheCreationInputTokens"],
    )
    assert (tokens.cache_read, tokens.cache_creation) == (40_000, 20_000)
    assert found[1].cost(tokens) == pytest.approx(figures["costUSD"], rel=1e-6), f"the price of {model} changed"
