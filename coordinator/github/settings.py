"""Where the GitHub adapter talks to and as whom: the API URL, the token and the repository.

Read from the environment at the edge (the runner's or the CLI's start), never at import time. The same variables
GitHub Actions sets: ``GITHUB_API_URL`` (GitHub Enterprise Server: ``https://HOST/api/v3``), ``GITHUB_REPOSITORY``
(``owner/name``) and a token from ``COORDINATOR_GITHUB_TOKEN``, else ``GITHUB_TOKEN``, else ``GH_TOKEN`` (the
GitHub CLI's name). The token never appears in ``repr``, ``str`` or any message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from coordinator.errors import ConfigError

DEFAULT_API_URL = "https://api.github.com"

#: Where the token is looked for, first match wins.
TOKEN_VARIABLES = ("COORDINATOR_GITHUB_TOKEN", "GITHUB_TOKEN", "GH_TOKEN")

#: What the token must be allowed to do (fine-grained names; a classic token needs the ``repo`` scope).
NEEDED_PERMISSIONS = "issues: write, pull requests: write, contents: write (for the push), metadata: read"

# GitHub's rules: an owner is letters, digits and single hyphens (at most 39); a repository name letters, digits,
# '.', '-' and '_' (at most 100) and never '.' or '..' (they would walk the URL path).
_OWNER = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})"
_NAME = r"[A-Za-z0-9._-]{1,100}"
_REPOSITORY = re.compile(rf"({_OWNER})/({_NAME})")


_GITHUB_URL = re.compile(r"github\.com[:/](?P<owner>[A-Za-z0-9_.-]+)/(?P<name>[A-Za-z0-9_.-]+?)(?:\.git)?/?$")


def github_repository(url: str) -> str | None:
    """``owner/name`` of a github.com remote URL (https, ssh or scp-like), else None."""
    match = _GITHUB_URL.search(url)
    return f"{match.group('owner')}/{match.group('name')}" if match else None


def token_in(env: Mapping[str, str]) -> bool:
    """Whether ``env`` holds a GitHub token in one of :data:`TOKEN_VARIABLES`."""
    return any(env.get(name, "").strip() for name in TOKEN_VARIABLES)


def repository_parts(repository: str) -> tuple[str, str] | None:
    """``(owner, name)`` of ``owner/name``, or None when it is not a valid GitHub repository name."""
    found = _REPOSITORY.fullmatch(repository)
    if found is None or found.group(2) in {".", ".."}:
        return None
    return found.group(1), found.group(2)


@dataclass(frozen=True, repr=False)
class GitHubSettings:
    """The GitHub API to call (``api_url``, no trailing slash), the token, and the default repository."""

    api_url: str
    token: str
    repository: str | None = None
    #: The variable the token came from (named in messages about a rejected token); "" when given directly.
    token_source: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "api_url", _checked_api_url(self.api_url))
        _check_token(self.token, self.token_source)
        if self.repository is not None and repository_parts(self.repository) is None:
            raise ConfigError(
                f"{self.repository!r} is not a GitHub repository: give it as owner/name "
                "(e.g. GITHUB_REPOSITORY=octocat/Hello-World)"
            )

    def __repr__(self) -> str:
        return (
            f"GitHubSettings(api_url={self.api_url!r}, token='***', repository={self.repository!r}, "
            f"token_source={self.token_source!r})"
        )

    __str__ = __repr__

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ, *, repository: str | None = None) -> GitHubSettings:
        """Settings from ``env``; ``repository`` (e.g. the task's) wins over ``GITHUB_REPOSITORY``.

        Raises :class:`ConfigError` naming the variables to set when no token is found or a value is malformed.
        """
        for variable in TOKEN_VARIABLES:
            token = env.get(variable, "").strip()
            if token:
                break
        else:
            raise ConfigError(
                f"no GitHub token: set {TOKEN_VARIABLES[0]} (or {TOKEN_VARIABLES[1]}, or {TOKEN_VARIABLES[2]}) "
                f"to a token allowed {NEEDED_PERMISSIONS} on the repository, "
                f"e.g. 'export {TOKEN_VARIABLES[0]}=$(gh auth token)'"
            )
        return cls(
            api_url=env.get("GITHUB_API_URL", "").strip() or DEFAULT_API_URL,
            token=token,
            repository=repository or env.get("GITHUB_REPOSITORY", "").strip() or None,
            token_source=variable,
        )


def _checked_api_url(url: str) -> str:
    parts = urlsplit(url)
    where = "GITHUB_API_URL"
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(
            f"{where} {url!r} is not an http(s) URL: use {DEFAULT_API_URL} or, for GitHub Enterprise Server, "
            "https://HOST/api/v3"
        )
    if parts.username or parts.password:
        # Credentials in the URL would be sent and logged with every request: the token has its own variable.
        raise ConfigError(f"{where} must not hold credentials: remove them and set {TOKEN_VARIABLES[0]} instead")
    if parts.query or parts.fragment:
        raise ConfigError(f"{where} {url!r} must not have a query or fragment: use e.g. https://HOST/api/v3")
    return url.rstrip("/")


def _check_token(token: str, source: str) -> None:
    where = source or "the GitHub token"
    if not token:
        raise ConfigError(f"{where} is empty: set {TOKEN_VARIABLES[0]} to a GitHub token")
    if any(c.isspace() or not c.isprintable() for c in token):
        # Said without the value: a token pasted with a line break or a space is still a secret.
        raise ConfigError(f"{where} holds whitespace or control characters: set it to the token alone")
