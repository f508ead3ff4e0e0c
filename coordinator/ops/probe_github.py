"""The doctor's GitHub check: is the token accepted, can it see the repository, may its account push? One REST
request (``GET /repos/{owner}/{repo}``), whose ``Date`` also gives GitHub's clock.

This goes through ``requests`` directly rather than :class:`coordinator.github.rest.RestGitHub`: the answer's
headers (``X-OAuth-Scopes``, ``Date``) and its ``permissions`` object are what is judged here, and the adapter's
protocol hands back neither.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import requests

from coordinator import __version__
from coordinator.errors import ConfigError
from coordinator.github.settings import NEEDED_PERMISSIONS, GitHubSettings, github_repository, token_in
from coordinator.ops.checks import Check, fail, ok, warn
from coordinator.ops.clock_sources import date_skew
from coordinator.store.remote import Remote

_TIMEOUT = 15.0
NAME = "github token"


def probe_github(
    remote: Remote | None, now: Callable[[], datetime], env: Mapping[str, str] = os.environ
) -> tuple[list[Check], float | None]:
    """The token check (none when no token is configured) and GitHub's clock skew in seconds, if measured."""
    if not token_in(env):
        return [], None
    repository = env.get("GITHUB_REPOSITORY", "").strip() or (github_repository(remote.url) if remote else None)
    try:
        settings = GitHubSettings.from_env(env, repository=repository)
    except ConfigError as error:
        return [fail(NAME, str(error), "fix the variable named, then run 'coordinator doctor' again")], None
    if settings.repository is None:
        return [
            warn(
                NAME,
                f"{settings.token_source} is set, but no repository is known: runners take no tasks of GitHub issues",
                "export GITHUB_REPOSITORY=OWNER/REPO (or use a state remote on github.com)",
            )
        ], None
    return _repository_access(settings, now)


def _repository_access(settings: GitHubSettings, now: Callable[[], datetime]) -> tuple[list[Check], float | None]:
    url = f"{settings.api_url}/repos/{settings.repository}"
    headers = {
        "Authorization": f"Bearer {settings.token}",
        "Accept": "application/vnd.github+json",
        "User-Agent": f"coordinator/{__version__}",
    }
    try:
        answer = requests.get(url, headers=headers, timeout=_TIMEOUT, allow_redirects=False)
    except requests.RequestException as error:
        fix = "check the network, or GITHUB_API_URL (GitHub Enterprise Server: https://HOST/api/v3)"
        return [fail(NAME, f"cannot reach {settings.api_url}: {type(error).__name__}", fix)], None
    skew = date_skew(answer.headers, now())
    return [judge_repository_answer(settings, answer.status_code, answer.headers, _json(answer))], skew


def judge_repository_answer(settings: GitHubSettings, status: int, headers: Mapping[str, str], data: Any) -> Check:
    """What ``GET /repos/{o}/{r}`` answered says about the token (pure; tested with GitHub's shapes)."""
    source, repo = settings.token_source or "the token", settings.repository
    new_token = f"create a token allowed {NEEDED_PERMISSIONS} on {repo}, then export {source}=..."
    message = data.get("message", "") if isinstance(data, Mapping) else ""
    if status == 401:
        return fail(NAME, f"GitHub rejects {source} ({message or 'Bad credentials'})", new_token)
    if status in (403, 404):
        said = f"{status} {message}".strip()
        return fail(NAME, f"{source} cannot read {repo} ({said})", f"give the token access to {repo}: {new_token}")
    if status >= 300 or not isinstance(data, Mapping):
        return fail(NAME, f"GitHub answered {status} for {repo}", "try again later; https://www.githubstatus.com")
    scopes = headers.get("X-OAuth-Scopes")
    if scopes is not None and not {"repo", "public_repo"} & {s.strip() for s in scopes.split(",")}:
        detail = f"{source} is a classic token without the 'repo' scope (scopes: {scopes or 'none'})"
        return fail(NAME, detail, new_token)
    permissions = data.get("permissions")
    if isinstance(permissions, Mapping) and not permissions.get("push"):
        return fail(NAME, f"the account of {source} may not push to {repo} (read access only)", new_token)
    if not isinstance(permissions, Mapping):
        detail = f"{source} can read {repo}; GitHub does not say what an app's token may write"
        return ok(NAME, f"{detail} (it needs {NEEDED_PERMISSIONS})")
    kind = "classic token with the repo scope" if scopes is not None else f"needs {NEEDED_PERMISSIONS}"
    return ok(NAME, f"{source} can read {repo} and its account may push ({kind})")


def _json(answer: requests.Response) -> Any:
    try:
        return answer.json()
    except ValueError:
        return None
