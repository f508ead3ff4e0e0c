"""What a failed GitHub call means: a :class:`GitHubError` that says whether the same call may work later and when.

Pure functions of the answer (status, headers, JSON body) and ``now``, so the rules are tested without a server:

- transient: 5xx, 408, 429, a secondary rate limit (403 with ``Retry-After`` or GitHub's "secondary rate limit"
  message), a primary rate limit (403/429 with ``X-RateLimit-Remaining: 0``), no answer at all;
- ``retry_after``: ``Retry-After`` (seconds or an HTTP date), else, when the primary limit is spent,
  ``X-RateLimit-Reset - now``;
- the message is one line: the call, GitHub's words, and what to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

from coordinator.github.api import GitHubError
from coordinator.github.settings import NEEDED_PERMISSIONS, TOKEN_VARIABLES

#: GitHub's cap on an issue or pull-request body and a comment, in characters.
MAX_BODY_CHARS = 65_536

_SECONDARY_LIMIT_WORDS = ("secondary rate limit", "abuse detection")
_PRIMARY_LIMIT_WORDS = ("api rate limit exceeded",)


def http_error(
    status: int,
    headers: Mapping[str, Any],
    body: Any,
    *,
    call: str,
    now: float,
    token_source: str = "",
) -> GitHubError:
    """The error for GitHub's answer ``status`` to ``call`` (e.g. ``"POST /repos/o/r/issues/1/comments"``)."""
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    said = github_message(body)
    limited = status == 429 or _rate_limited(status, lowered, said)
    transient = status >= 500 or status in {408, 429} or limited
    retry_after = retry_after_seconds(lowered, now) if transient else None
    hint = _hint(status, limited=limited, retry_after=retry_after, token_source=token_source)
    text = f"GitHub answered {status} to {call}" + (f": {said}" if said else "") + f" ({hint})"
    return GitHubError(_one_line(text), status=status, transient=transient, retry_after=retry_after)


def no_answer(call: str, reason: str) -> GitHubError:
    """The error for a call that got no answer (connection refused or reset, timeout): worth trying again."""
    return GitHubError(
        _one_line(f"GitHub did not answer {call}: {reason} (check the network and GITHUB_API_URL; try again later)"),
        status=0,
        transient=True,
    )


def bad_answer(call: str, what: str) -> GitHubError:
    """The error for a successful answer of a shape coordinator cannot read (a proxy's page, an old server)."""
    return GitHubError(
        _one_line(f"GitHub's answer to {call} is not what the REST API sends: {what} (check GITHUB_API_URL)"),
        status=0,
    )


def moved(call: str, status: int, location: str) -> GitHubError:
    """The error for a redirect that was not followed: the repository was renamed or transferred."""
    where = f" to {location}" if location else ""
    return GitHubError(
        _one_line(
            f"GitHub answered {status} to {call}: the repository moved{where} "
            "(renamed or transferred?): use its new owner/name (the request was not carried out)"
        ),
        status=status,
    )


def github_message(body: Any) -> str:
    """GitHub's ``message`` and the messages of its ``errors`` list, joined (``""`` when there are none)."""
    if not isinstance(body, Mapping):
        return ""
    parts = [str(body["message"])] if body.get("message") else []
    for item in body.get("errors") or []:
        if isinstance(item, Mapping) and item.get("message"):
            parts.append(str(item["message"]))
        elif isinstance(item, Mapping) and item.get("code"):
            parts.append(" ".join(str(item.get(k, "")) for k in ("resource", "field", "code")).strip())
        elif isinstance(item, str):
            parts.append(item)
    return "; ".join(parts)


def retry_after_seconds(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds GitHub asked to wait: ``Retry-After``, else ``X-RateLimit-Reset - now`` once the limit is spent."""
    value = headers.get("retry-after", "").strip()
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - now)
        except (TypeError, ValueError):
            pass
    if headers.get("x-ratelimit-remaining", "").strip() == "0":
        try:
            return max(0.0, float(headers["x-ratelimit-reset"]) - now)
        except (KeyError, ValueError):
            return None
    return None


def check_body_length(body: str, what: str) -> None:
    """Refuse, before sending, a body GitHub would refuse (422): the caller renders within the limit."""
    if len(body) > MAX_BODY_CHARS:
        raise GitHubError(
            f"the {what} is {len(body):,} characters, GitHub takes at most {MAX_BODY_CHARS:,}: "
            "shorten it before posting (it was not sent)",
            status=422,
        )


def _rate_limited(status: int, headers: Mapping[str, str], said: str) -> bool:
    if status not in {403, 429}:
        return False
    lowered = said.lower()
    return (
        "retry-after" in headers
        or headers.get("x-ratelimit-remaining", "").strip() == "0"
        or any(words in lowered for words in _SECONDARY_LIMIT_WORDS + _PRIMARY_LIMIT_WORDS)
    )


def _hint(status: int, *, limited: bool, retry_after: float | None, token_source: str) -> str:
    if limited:
        when = f"in {retry_after:.0f} s" if retry_after is not None else "in a minute"
        return f"rate limited: try again {when}"
    if status >= 500 or status == 408:
        return "a GitHub-side failure: try again later"
    if status == 401:
        where = token_source or " or ".join(TOKEN_VARIABLES)
        return f"the token is not valid (expired or revoked?): set a new one in {where}"
    if status == 403:
        return f"the token is not allowed this: it needs {NEEDED_PERMISSIONS}"
    if status == 404:
        return "no such repository, issue or pull request, or the token cannot see it"
    if status == 422:
        return "GitHub refused the request as sent"
    return "see GitHub's message"


def _one_line(text: str) -> str:
    return " ".join(text.split())
