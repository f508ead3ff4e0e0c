"""Reading what the ``claude`` CLI printed: its JSON events, the result object, and how the run ended.

The CLI runs with ``--output-format stream-json --verbose --include-partial-messages``: one JSON event a line,
the final ``result`` object last. A run that ended without one (timed out, stopped, killed) still reports the
tokens and the estimated cost of what it streamed, marked ``cost_partial`` (:mod:`coordinator.agents.claude_usage`).

Classification (:func:`classify`) is a pure function of the exit code and output so it can be tested against
captured outputs. The rule from observing the CLI: a run failed if rc != 0, or ``is_error`` is true, or
``subtype`` is not ``success``. API-level failures (auth, limits, 5xx, unreachable) arrive as
``subtype: success`` with ``is_error: true`` and the message in ``result``; turn and budget limits arrive as
``error_max_turns`` / ``error_max_budget_usd`` with an ``errors`` list and no ``result``. Tool calls the
permissions refused are listed in ``permission_denials`` of an otherwise successful result.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from coordinator.agents.base import AgentOutcome, AgentResult
from coordinator.agents.claude_usage import usage_so_far
from coordinator.agents.launch import DEFAULT_COOLDOWN, ERROR_LIMIT, SUMMARY_LIMIT, number, tail, whole
from coordinator.agents.usage_limits import USAGE_LIMIT_TEXT, parse_reset_text, rejected_reset
from coordinator.models import Denial, Tokens

#: How many denied calls are kept per attempt, and how much of each target.
MAX_DENIALS = 20
_DENIAL_TARGET_LIMIT = 200

_AUTH_TEXT = re.compile(
    r"invalid api key|not logged in|/login\b|authentication[_ ]error|invalid x-api-key|oauth token"
    r"|api key (?:is )?(?:missing|invalid|not (?:set|found))|credit balance is too low",
    re.IGNORECASE,
)
# Without a JSON result we only have loose text, so any mention of auth, login or an API key counts.
_AUTH_TEXT_LOOSE = re.compile(
    r"\bauth(?:entication|enticate|orization|orize|orized)?\b|\blog ?in\b|api[ _-]?key", re.IGNORECASE
)
_API_TEXT = re.compile(
    r"^\s*API Error|overloaded|connection (?:refused|reset|error|failed)|unable to connect|ECONNREFUSED"
    r"|ECONNRESET|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|socket hang up|fetch failed|network error|request timed out",
    re.IGNORECASE | re.MULTILINE,
)


# -- parsing ------------------------------------------------------------------------------------------------


def parse_events(stdout: str) -> list[dict[str, Any]]:
    """All JSON objects in the CLI's stdout, in order.

    Handles the single result object (``--output-format json``), the array of messages
    (``json --verbose``) and one object a line (``stream-json``); lines that are not JSON are skipped.
    """
    text = stdout.strip()
    if not text:
        return []
    try:
        whole = json.loads(text)
    except ValueError:
        whole = None
    if isinstance(whole, dict):
        return [whole]
    if isinstance(whole, list):
        return [e for e in whole if isinstance(e, dict)]
    events: list[dict[str, Any]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith(("{", "[")):
            continue
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            events.append(parsed)
        elif isinstance(parsed, list):
            events.extend(e for e in parsed if isinstance(e, dict))
    return events


def find_result(events: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The last ``type: result`` object, or ``None``."""
    found: Mapping[str, Any] | None = None
    for event in events:
        if event.get("type") == "result":
            found = event
    return found


def _tokens(usage: object) -> Tokens:
    if not isinstance(usage, Mapping):
        return Tokens()
    return Tokens(
        input=whole(usage.get("input_tokens")) or 0,
        output=whole(usage.get("output_tokens")) or 0,
        cache_read=whole(usage.get("cache_read_input_tokens")) or 0,
        cache_creation=whole(usage.get("cache_creation_input_tokens")) or 0,
    )


def _model(result: Mapping[str, Any] | None, events: Iterable[Mapping[str, Any]], default: str | None) -> str | None:
    """The model that did the work: the costliest entry of ``modelUsage``, else the init event's, else default."""
    usage = result.get("modelUsage") if result else None
    if isinstance(usage, Mapping) and usage:

        def cost(name: str) -> float:
            entry = usage.get(name)
            value = entry.get("costUSD") if isinstance(entry, Mapping) else None
            return float(value) if isinstance(value, int | float) else 0.0

        return str(max(usage, key=cost))
    for event in events:
        if event.get("type") == "system" and event.get("subtype") == "init" and isinstance(event.get("model"), str):
            return str(event["model"])
    return default


def _result_text(result: Mapping[str, Any]) -> str:
    text = result.get("result")
    if isinstance(text, str):
        return text
    errors = result.get("errors")
    if isinstance(errors, list):
        return "\n".join(str(e) for e in errors)
    return ""


def denials_of(result: Mapping[str, Any]) -> tuple[Denial, ...]:
    """The tool calls the CLI's permissions refused: tool name and its target (file, command, URL)."""
    raw = result.get("permission_denials")
    if not isinstance(raw, list):
        return ()
    found: list[Denial] = []
    for denial in raw[:MAX_DENIALS]:
        if not isinstance(denial, Mapping):
            continue
        args = denial.get("tool_input")
        target = None
        if isinstance(args, Mapping):
            target = args.get("file_path") or args.get("command") or args.get("path") or args.get("url")
        found.append(
            Denial(
                tool=str(denial.get("tool_name", "?"))[:100],
                target=str(target)[:_DENIAL_TARGET_LIMIT] if target else None,
            )
        )
    return tuple(found)


def _with_figures(base: AgentResult, result: Mapping[str, Any], text: str) -> AgentResult:
    """``base`` with the cost, tokens, turns, session, summary and denials the result object reports."""
    session = result.get("session_id")
    return replace(
        base,
        cost_usd=number(result.get("total_cost_usd")),
        tokens=_tokens(result.get("usage")),
        turns=whole(result.get("num_turns")),
        session_id=session if isinstance(session, str) else None,
        summary=_truncate(text, SUMMARY_LIMIT),
        denials=denials_of(result),
    )


def _with_figures_so_far(base: AgentResult, events: list[dict[str, Any]]) -> AgentResult:
    """``base`` with what a run that printed no result object showed before it ended: its session, and the
    tokens and estimated cost of the API messages it streamed (marked partial), so that spend is never lost."""
    sessions = [e["session_id"] for e in events if isinstance(e.get("session_id"), str)]
    base = replace(base, session_id=sessions[-1] if sessions else None)
    seen = usage_so_far(events)
    if seen is None:
        return base
    return replace(
        base,
        cost_usd=seen.cost_usd,
        tokens=seen.tokens,
        turns=seen.turns,
        model=seen.model or base.model,
        cost_partial=True,
    )


def _truncate(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 15].rstrip() + " … [truncated]"


# -- classification -------------------------------------------------------------------------------------------


def _api_failure_outcome(result: Mapping[str, Any], text: str) -> AgentOutcome | None:
    """AUTH_ERROR / API_ERROR for a ``subtype: success, is_error: true`` result, else ``None``."""
    status = result.get("api_error_status")
    status = status if isinstance(status, int) and not isinstance(status, bool) else None
    error_type = str(result.get("api_error_type") or "")
    if status in (401, 403) or error_type in {"authentication_error", "permission_error"} or _AUTH_TEXT.search(text):
        return AgentOutcome.AUTH_ERROR
    if status is not None and (status in (408, 409, 429) or status >= 500):
        return AgentOutcome.API_ERROR
    if result.get("api_error") or error_type in {"overloaded_error", "api_error", "rate_limit_error"}:
        return AgentOutcome.API_ERROR
    if status is None and _API_TEXT.search(text):
        return AgentOutcome.API_ERROR
    return None


def classify(
    rc: int | None,
    stdout: str,
    stderr: str,
    *,
    timed_out: bool,
    stopped: bool,
    duration_seconds: float,
    now: datetime,
    default_model: str | None = None,
) -> AgentResult:
    """Turn one CLI run (exit code and output) into an :class:`AgentResult`; pure, for tests from fixtures.

    ``now`` (aware) anchors reset times given as a clock time; ``default_model`` is reported when the output
    names none (the mode's model).
    """
    events = parse_events(stdout)
    result = find_result(events)
    base = AgentResult(
        outcome=AgentOutcome.EXECUTION_ERROR,
        duration_seconds=duration_seconds,
        exit_code=rc,
        model=_model(result, events, default_model),
    )
    text = _result_text(result) if result is not None else ""
    base = _with_figures(base, result, text) if result is not None else _with_figures_so_far(base, events)

    if stopped:
        return replace(base, outcome=AgentOutcome.STOPPED, error="stopped before it finished")
    if timed_out:
        return replace(base, outcome=AgentOutcome.TIMEOUT, error=f"timed out after {duration_seconds:.0f}s")

    if result is None:
        return _classify_without_result(base, rc, stdout, stderr, events, now)
    return _classify_result(base, result, text, rc=rc, stderr=stderr, events=events, now=now)


def _classify_result(
    base: AgentResult,
    result: Mapping[str, Any],
    text: str,
    *,
    rc: int | None,
    stderr: str,
    events: list[dict[str, Any]],
    now: datetime,
) -> AgentResult:
    """A run that printed its result object: success, a limit, an API failure, or an execution error."""
    subtype = result.get("subtype")
    is_error = result.get("is_error") is True
    if rc == 0 and not is_error and subtype == "success":
        return replace(base, outcome=AgentOutcome.SUCCEEDED)

    error = _truncate(text, ERROR_LIMIT) or tail(stderr, ERROR_LIMIT) or f"claude exited with code {rc}"
    if subtype == "error_max_turns":
        return replace(base, outcome=AgentOutcome.MAX_TURNS, error=error)
    if subtype == "error_max_budget_usd":
        return replace(base, outcome=AgentOutcome.MAX_BUDGET, error=error)
    if subtype != "success":
        return replace(base, outcome=AgentOutcome.EXECUTION_ERROR, error=error)

    limited, reset = rejected_reset(events)
    if limited or result.get("api_error") == "usage_limit_reached" or USAGE_LIMIT_TEXT.search(text):
        resets_at = reset or parse_reset_text(text, now) or now.astimezone(UTC) + DEFAULT_COOLDOWN
        return replace(base, outcome=AgentOutcome.USAGE_LIMIT, error=error, resets_at=resets_at)
    outcome = _api_failure_outcome(result, text) if is_error else None
    if outcome is not None:
        return replace(base, outcome=outcome, error=error)
    if not is_error:  # a clean success object but a failing exit code: trust the exit code
        error = tail(stderr, ERROR_LIMIT) or f"claude exited with code {rc} after reporting success"
    return replace(base, outcome=AgentOutcome.EXECUTION_ERROR, error=error)


def _classify_without_result(
    base: AgentResult,
    rc: int | None,
    stdout: str,
    stderr: str,
    events: list[dict[str, Any]],
    now: datetime,
) -> AgentResult:
    """No result object: a crash, a refused option, text output, or a kill we did not order."""
    loose = f"{stderr}\n{stdout}".strip()
    error = tail(stderr, ERROR_LIMIT) or tail(stdout, ERROR_LIMIT) or f"claude exited with code {rc}, no output"
    limited, reset = rejected_reset(events)
    if limited or USAGE_LIMIT_TEXT.search(loose):
        resets_at = reset or parse_reset_text(loose, now) or now.astimezone(UTC) + DEFAULT_COOLDOWN
        return replace(base, outcome=AgentOutcome.USAGE_LIMIT, error=error, resets_at=resets_at)
    if rc == 0:
        return replace(base, error=f"claude exited 0 without a result object; {error}")
    if _AUTH_TEXT.search(loose) or _AUTH_TEXT_LOOSE.search(stderr):
        return replace(base, outcome=AgentOutcome.AUTH_ERROR, error=error)
    if _API_TEXT.search(loose):
        return replace(base, outcome=AgentOutcome.API_ERROR, error=error)
    return replace(base, outcome=AgentOutcome.EXECUTION_ERROR, error=error)
