"""The Claude Code CLI as an agent: build the headless command line, run it, classify its JSON result.

The command is ``claude -p --output-format json --model M --max-turns N --permission-mode P [...] -- PROMPT``.
The prompt goes last, after ``--``, because the CLI's option parser would otherwise take a prompt starting with
``-`` for an unknown option (rc=1) and ``--allowedTools``/``--disallowedTools`` take a variable number of values
that would swallow a positional prompt placed after them. A prompt too long for a command line (and, on Windows,
any prompt when ``claude`` is a ``.cmd`` wrapper, whose arguments cmd.exe would interpret) is sent on stdin
instead, which ``claude -p`` reads when no prompt argument is given.

Classification (:func:`classify`) is a pure function of the exit code and output so it can be tested against
captured outputs. The rule from observing the CLI: a run failed if rc != 0, or ``is_error`` is true, or
``subtype`` is not ``success``. API-level failures (auth, limits, 5xx, unreachable) arrive as
``subtype: success`` with ``is_error: true`` and the message in ``result``; turn and budget limits arrive as
``error_max_turns`` / ``error_max_budget_usd`` with an ``errors`` list and no ``result``.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from coordinator.agents.base import AgentOutcome, AgentRequest, AgentResult, TokenCounts
from coordinator.agents.process import run_process

SUMMARY_LIMIT = 4000
ERROR_LIMIT = 2000
#: Above this many UTF-8 bytes the prompt goes on stdin: Linux refuses single arguments over 128 KiB.
MAX_PROMPT_ARG_BYTES = 100_000
#: Windows command lines are limited to 32767 characters in total.
MAX_PROMPT_ARG_CHARS_WINDOWS = 24_000
#: When a usage limit gives no usable reset time, cool down this long.
DEFAULT_COOLDOWN = timedelta(hours=1)

_USAGE_LIMIT_TEXT = re.compile(
    r"you.?ve hit your\b.*\blimit|usage limit reached|claude ai usage limit", re.IGNORECASE | re.DOTALL
)
_EPOCH_IN_TEXT = re.compile(r"\|\s*(\d{9,13})\b")  # older CLIs: "Claude AI usage limit reached|1750000000"
_RESETS_TEXT = re.compile(
    r"resets\s+(?:at\s+)?"
    r"(?:(?P<month>[A-Za-z]{3,9})\.?\s+(?P<day>\d{1,2}),?\s+(?:(?P<year>\d{4}),?\s+)?(?:at\s+)?)?"
    r"(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?\s*(?P<ampm>[ap]\.?m\.?)?"
    r"(?:\s*\((?P<tz>[^)]+)\))?",
    re.IGNORECASE,
)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1
    )
}
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


def _int(value: object) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _tokens(usage: object) -> TokenCounts:
    if not isinstance(usage, Mapping):
        return TokenCounts()
    return TokenCounts(
        input=_int(usage.get("input_tokens")),
        output=_int(usage.get("output_tokens")),
        cache_read=_int(usage.get("cache_read_input_tokens")),
        cache_creation=_int(usage.get("cache_creation_input_tokens")),
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


def _denials_note(result: Mapping[str, Any]) -> str:
    denials = result.get("permission_denials")
    if not isinstance(denials, list) or not denials:
        return ""
    shown: list[str] = []
    for denial in denials[:10]:
        if not isinstance(denial, Mapping):
            continue
        tool = str(denial.get("tool_name", "?"))
        args = denial.get("tool_input")
        target = None
        if isinstance(args, Mapping):
            target = args.get("file_path") or args.get("command") or args.get("path") or args.get("url")
        shown.append(f"{tool}({str(target)[:120]})" if target else tool)
    more = f" and {len(denials) - 10} more" if len(denials) > 10 else ""
    return f"Permission denied for {len(denials)} tool call(s): {', '.join(shown)}{more}"


def _truncate(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 15].rstrip() + " … [truncated]"


def _tail(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else "[…] " + text[-(limit - 4) :]


# -- usage limits ---------------------------------------------------------------------------------------------


def _epoch(value: object) -> datetime | None:
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        return None
    seconds = value / 1000 if value > 1e11 else value  # tolerate milliseconds
    return datetime.fromtimestamp(seconds, UTC)


def _rejected_reset(events: Iterable[Mapping[str, Any]]) -> tuple[bool, datetime | None]:
    """Usage-limit evidence in the events: a rejected ``rate_limit_event`` or ``api_error: usage_limit_reached``."""
    limited = False
    reset: datetime | None = None
    for event in events:
        infos: list[object] = []
        if event.get("type") == "rate_limit_event":
            infos.append(event.get("rate_limit_info"))
        if event.get("api_error") == "usage_limit_reached":
            limited = True
            params = event.get("api_error_params")
            if isinstance(params, Mapping):
                infos.append(params.get("rate_limit_info"))
        for info in infos:
            if isinstance(info, Mapping) and info.get("status") == "rejected":
                limited = True
                reset = _epoch(info.get("resetsAt")) or reset
    return limited, reset


def _zone(name: str | None, now: datetime) -> tzinfo:
    # The CLI runs on this machine and prints its local time, so our local zone is the best guess whenever the
    # name is missing or unknown here (Windows without the tzdata package knows no IANA names).
    local = now.astimezone().tzinfo or UTC
    if not name:
        return local
    if name.strip().upper() in {"UTC", "GMT", "Z"}:
        return UTC
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        return local


def parse_reset_text(text: str, now: datetime) -> datetime | None:
    """The reset time in a usage-limit message, as an aware UTC datetime, or ``None``.

    Understands ``…|<epoch>`` (older CLIs) and ``resets 2:30am (UTC)``, ``resets 4am (Europe/Berlin)``,
    ``resets Nov 25, 2:10am (UTC)``. A time without a date is the next such time after ``now``. The CLI shows
    minutes only, so a minute is added: resuming early would just hit the limit again.
    """
    epoch_match = _EPOCH_IN_TEXT.search(text)
    if epoch_match:
        return _epoch(int(epoch_match.group(1)))
    match = _RESETS_TEXT.search(text)
    if not match:
        return None
    hour = int(match.group("hour"))
    minute = int(match.group("minute") or 0)
    ampm = (match.group("ampm") or "").lower().replace(".", "")
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    if hour > 23 or minute > 59:
        return None
    zone = _zone(match.group("tz"), now)
    local_now = now.astimezone(zone)
    slack = timedelta(minutes=1)  # "resets 3:10am" seen at 3:10:30 still means this minute, not tomorrow
    try:
        if match.group("month"):
            month = _MONTHS.get(match.group("month")[:3].lower())
            if month is None:
                return None
            year = int(match.group("year") or local_now.year)
            when = datetime(year, month, int(match.group("day")), hour, minute, tzinfo=zone)
            if not match.group("year") and when < local_now - timedelta(days=1):
                when = when.replace(year=year + 1)  # "resets Jan 2" seen on Dec 30
        else:
            when = local_now.replace(hour=hour, minute=minute, second=0, microsecond=0)
            if when < local_now - slack:
                when += timedelta(days=1)
    except ValueError:
        return None
    return (when + slack).astimezone(UTC)


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
    text = ""
    if result is not None:
        cost = result.get("total_cost_usd")
        turns = result.get("num_turns")
        session = result.get("session_id")
        text = _result_text(result)
        note = _denials_note(result)
        summary = f"{text.strip()}\n\n{note}" if note and text.strip() else note or text
        base = replace(
            base,
            cost_usd=float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else None,
            tokens=_tokens(result.get("usage")),
            turns=turns if isinstance(turns, int) and not isinstance(turns, bool) else None,
            session_id=session if isinstance(session, str) else None,
            summary=_truncate(summary, SUMMARY_LIMIT),
        )
    else:
        sessions = [e["session_id"] for e in events if isinstance(e.get("session_id"), str)]
        base = replace(base, session_id=sessions[-1] if sessions else None)

    if stopped:
        return replace(base, outcome=AgentOutcome.STOPPED, error="stopped before it finished")
    if timed_out:
        return replace(base, outcome=AgentOutcome.TIMEOUT, error=f"timed out after {duration_seconds:.0f}s")

    if result is None:
        return _classify_without_result(base, rc, stdout, stderr, events, now)

    subtype = result.get("subtype")
    is_error = result.get("is_error") is True
    if rc == 0 and not is_error and subtype == "success":
        return replace(base, outcome=AgentOutcome.SUCCEEDED)

    error = _truncate(text, ERROR_LIMIT) or _tail(stderr, ERROR_LIMIT) or f"claude exited with code {rc}"
    if subtype == "error_max_turns":
        return replace(base, outcome=AgentOutcome.MAX_TURNS, error=error)
    if subtype == "error_max_budget_usd":
        return replace(base, outcome=AgentOutcome.MAX_BUDGET, error=error)
    if subtype != "success":
        return replace(base, outcome=AgentOutcome.EXECUTION_ERROR, error=error)

    limited, reset = _rejected_reset(events)
    if limited or result.get("api_error") == "usage_limit_reached" or _USAGE_LIMIT_TEXT.search(text):
        resets_at = reset or parse_reset_text(text, now) or now.astimezone(UTC) + DEFAULT_COOLDOWN
        return replace(base, outcome=AgentOutcome.USAGE_LIMIT, error=error, resets_at=resets_at)
    outcome = _api_failure_outcome(result, text) if is_error else None
    if outcome is not None:
        return replace(base, outcome=outcome, error=error)
    if not is_error:  # a clean success object but a failing exit code: trust the exit code
        error = _tail(stderr, ERROR_LIMIT) or f"claude exited with code {rc} after reporting success"
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
    error = _tail(stderr, ERROR_LIMIT) or _tail(stdout, ERROR_LIMIT) or f"claude exited with code {rc}, no output"
    limited, reset = _rejected_reset(events)
    if limited or _USAGE_LIMIT_TEXT.search(loose):
        resets_at = reset or parse_reset_text(loose, now) or now.astimezone(UTC) + DEFAULT_COOLDOWN
        return replace(base, outcome=AgentOutcome.USAGE_LIMIT, error=error, resets_at=resets_at)
    if rc == 0:
        return replace(base, error=f"claude exited 0 without a result object; {error}")
    if _AUTH_TEXT.search(loose) or _AUTH_TEXT_LOOSE.search(stderr):
        return replace(base, outcome=AgentOutcome.AUTH_ERROR, error=error)
    if _API_TEXT.search(loose):
        return replace(base, outcome=AgentOutcome.API_ERROR, error=error)
    return replace(base, outcome=AgentOutcome.EXECUTION_ERROR, error=error)


# -- the agent ------------------------------------------------------------------------------------------------


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ClaudeAgent:
    """Runs ``claude -p`` headless in the work tree; see the module docstring for the command line."""

    def __init__(
        self,
        executable: str = "claude",
        extra_env: Mapping[str, str] | None = None,
        kill_grace_seconds: float = 10,
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        """``extra_env`` is added to every run (the request's own ``env`` wins); ``clock`` is for tests."""
        self.executable = executable
        self.extra_env: dict[str, str] = dict(extra_env or {})
        self.kill_grace_seconds = kill_grace_seconds
        self._clock = clock

    def _resolved_executable(self) -> str:
        # Windows CreateProcess finds only .exe files; npm installs `claude.cmd`, which `which` finds via PATHEXT.
        if sys.platform == "win32":
            return shutil.which(self.executable) or self.executable
        return self.executable

    def prompt_on_stdin(self, request: AgentRequest) -> bool:
        """Whether the prompt is sent on stdin rather than as the last argument (see the module docstring)."""
        if len(request.prompt.encode("utf-8")) > MAX_PROMPT_ARG_BYTES:
            return True
        if sys.platform == "win32":
            exe = self._resolved_executable().lower()
            return exe.endswith((".cmd", ".bat")) or len(request.prompt) > MAX_PROMPT_ARG_CHARS_WINDOWS
        return False

    def command_line(self, request: AgentRequest) -> list[str]:
        """The exact command ``run`` executes (the prompt is missing from it when it goes on stdin)."""
        mode = request.mode
        argv = [
            self._resolved_executable(),
            "-p",
            "--output-format",
            "json",
            "--model",
            mode.model,
            "--max-turns",
            str(mode.max_turns),
            "--permission-mode",
            mode.permission_mode,
        ]
        if mode.max_budget_usd is not None:
            # Plain decimal: "%g" would print tiny budgets as "1e-05", which is no amount the CLI accepts.
            argv += ["--max-budget-usd", f"{mode.max_budget_usd:.6f}".rstrip("0").rstrip(".")]
        if mode.append_system_prompt:
            argv += ["--append-system-prompt", mode.append_system_prompt]
        # Both flags take a variable number of values (one argument per tool, as in the CLI's help); nothing
        # positional follows them before the "--" below.
        if mode.allowed_tools:
            argv += ["--allowedTools", *mode.allowed_tools]
        if mode.disallowed_tools:
            argv += ["--disallowedTools", *mode.disallowed_tools]
        if not self.prompt_on_stdin(request):
            argv += ["--", request.prompt]
        return argv

    def run(self, request: AgentRequest, stop: threading.Event) -> AgentResult:
        """Run the CLI to completion, timeout or stop and classify the outcome."""
        mode = request.mode
        if not request.workdir.is_dir():
            return AgentResult(
                AgentOutcome.EXECUTION_ERROR, 0.0, model=mode.model, error=f"work tree missing: {request.workdir}"
            )
        done = run_process(
            self.command_line(request),
            cwd=request.workdir,
            log_path=request.log_path,
            env={**self.extra_env, **request.env},
            stdin_text=request.prompt if self.prompt_on_stdin(request) else None,
            timeout_seconds=mode.timeout_seconds,
            stop=stop,
            kill_grace_seconds=self.kill_grace_seconds,
        )
        if done.start_error is not None:
            # The executable is missing or not runnable: this runner is misconfigured, no task can fix that.
            return AgentResult(
                AgentOutcome.AUTH_ERROR,
                done.duration_seconds,
                model=mode.model,
                error=f"cannot run the claude CLI: {done.start_error}",
            )
        return classify(
            done.rc,
            done.stdout,
            done.stderr,
            timed_out=done.timed_out,
            stopped=done.stopped,
            duration_seconds=done.duration_seconds,
            now=self._clock(),
            default_model=mode.model,
        )
