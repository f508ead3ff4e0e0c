"""A built-in scripted agent for the demo and tests: no network, no credentials, deterministic.

It writes a small notes file into the work tree and reports figures shaped like the real CLI's. Markers in the
task's prompt steer it:

- ``[demo: fail-in simple]`` (any mode name) fails that mode with ``max_turns``, as a cheap model might;
- ``[demo: seconds 2.5]`` sets how long the "work" takes (default 0.4-1.2 s, derived from the task id).
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
import uuid

from coordinator.agents.base import AgentOutcome, AgentRequest, AgentResult
from coordinator.agents.pricing import estimated_cost
from coordinator.models import Tokens

_FAIL_IN = re.compile(r"\[demo: fail-in ([a-z0-9_-]+)\]")
_SECONDS = re.compile(r"\[demo: seconds ([0-9.]+)\]")

#: Illustrative prices (USD per million input / output tokens) so the demo shows what escalation costs.


class ScriptedAgent:
    """Pretends to be Claude Code, following the markers in the prompt."""

    def command_line(self, request: AgentRequest) -> list[str]:
        """The scripted agent runs in-process; this shows what it would pretend to run."""
        return ["(built-in scripted agent)", "--model", request.mode.model, "--max-turns", str(request.mode.max_turns)]

    def run(self, request: AgentRequest, stop: threading.Event) -> AgentResult:
        """Sleep a little (stoppable), write a notes file, and return a plausible result."""
        started = time.monotonic()
        digest = int(hashlib.sha1(request.task_id.encode(), usedforsecurity=False).hexdigest()[:4], 16)
        seconds_match = _SECONDS.search(request.prompt)
        seconds = float(seconds_match.group(1)) if seconds_match else 0.4 + (digest % 800) / 1000
        if stop.wait(min(seconds, request.mode.timeout_seconds)):
            return AgentResult(outcome=AgentOutcome.STOPPED, duration_seconds=time.monotonic() - started)
        failing_modes = set(_FAIL_IN.findall(request.prompt))
        turns = 2 + digest % 6
        input_tokens, output_tokens = 15_000 + digest % 20_000, 800 + digest % 700
        # The product's one price table, as for a real run cut short: the demo's costs read like real ones.
        cost = round(estimated_cost(request.mode.model, Tokens(input=input_tokens, output=output_tokens)), 6)
        common = {
            "duration_seconds": time.monotonic() - started,
            "exit_code": 0,
            "model": request.mode.model,
            "cost_usd": cost,
            "tokens": Tokens(input=input_tokens, output=output_tokens),
            "session_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{request.task_id}/{request.attempt}")),
        }
        request.log_path.parent.mkdir(parents=True, exist_ok=True)
        if request.mode_name in failing_modes:
            request.log_path.write_text(f"scripted agent: {request.mode_name} ran out of turns\n", encoding="utf-8")
            return AgentResult(
                outcome=AgentOutcome.MAX_TURNS,
                turns=request.mode.max_turns,
                summary="",
                error=f"Reached maximum number of turns ({request.mode.max_turns})",
                **common,  # type: ignore[arg-type]
            )
        notes = request.workdir / "notes" / f"{request.task_id}.md"
        notes.parent.mkdir(parents=True, exist_ok=True)
        notes.write_text(f"# {request.title}\n\nDone by the scripted demo agent in {request.mode_name} mode.\n")
        request.log_path.write_text(f"scripted agent: wrote {notes.name}\n", encoding="utf-8")
        return AgentResult(
            outcome=AgentOutcome.SUCCEEDED,
            turns=turns,
            summary=f"Wrote notes/{request.task_id}.md ({request.mode_name} mode, {turns} turns).",
            **common,  # type: ignore[arg-type]
        )
