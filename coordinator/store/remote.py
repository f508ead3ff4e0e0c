"""Where the state branch lives: a git remote URL, with any credentials kept out of argv and logs.

``https://user:TOKEN@host/o/r.git`` (or ``http://``) is split into a credential-free URL (used in argv and
messages) and an ``Authorization`` header handed to git through ``GIT_CONFIG_*`` environment variables, so the
token is never visible in ``ps``, in error messages, or on the state branch.

Every other scheme (``ssh://``, ``git://``, ``file://``, ...) and the scp-like form (``user:pass@host:path``)
is refused when it holds a password: git gives ``user:pass@host`` to ssh as the destination, so ssh would log
in as the user ``user:pass`` (the password never works) and the password would show in the process list.
Those remotes authenticate with SSH keys; the error says so and shows the URL to use instead.
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

from coordinator.redaction import REDACTED, Secret, redactor_for

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_SCP_LIKE = re.compile(r"^[^/\\:]+@[^/\\:]+:")  # git@github.com:o/r.git
_SCP_WITH_PASSWORD = re.compile(r"^(?P<user>[^/\\:@]+):[^/\\]*@(?P<rest>[^/\\:@]+:.*)$")  # user:pass@host:o/r.git
_HEADER_SCHEMES = ("http", "https")
_SOURCE = "the state remote's credentials"


@dataclass(frozen=True)
class Remote:
    """A git remote: ``url`` is safe to show; ``secrets`` are redacted from anything we print."""

    url: str
    auth_header: str | None = field(default=None, repr=False)
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @classmethod
    def parse(cls, spec: str, *, cwd: Path | None = None) -> Remote:
        """Parse a remote URL or local path; relative paths are made absolute against ``cwd``.

        Raises ``ValueError`` (with a message that never shows the password) for a password git cannot use.
        """
        spec = spec.strip()
        if not spec:
            raise ValueError("the remote is empty: pass --remote URL or set COORDINATOR_REMOTE")
        if _SCHEME.match(spec):
            return cls._parse_url(spec)
        if match := _SCP_WITH_PASSWORD.match(spec):
            user, rest = match.group("user"), match.group("rest")
            raise ValueError(
                f"the remote {user}:{REDACTED}@{rest} holds a password, which git cannot give to ssh: "
                f"set up an SSH key (ssh-agent or ~/.ssh/config) and use --remote {user}@{rest}"
            )
        if _SCP_LIKE.match(spec):
            return cls(url=spec)
        path = Path(spec).expanduser()
        if not path.is_absolute():
            path = (cwd or Path.cwd()) / path
        return cls(url=str(path.resolve()))

    @classmethod
    def _parse_url(cls, spec: str) -> Remote:
        parts = urlsplit(spec)
        userinfo, at, host = parts.netloc.rpartition("@")
        if not at:
            return cls(url=spec)
        user, colon, password = userinfo.partition(":")
        if parts.scheme.lower() in _HEADER_SCHEMES:
            return cls._with_header(parts, host, unquote(user), unquote(password) if colon else None)
        if colon:
            raise _password_refused(parts, user, host)
        return cls(url=spec)  # ssh://git@host/r.git: a user name, no secret

    @classmethod
    def _with_header(cls, parts: SplitResult, host: str, user: str, password: str | None) -> Remote:
        # https://TOKEN@host/... carries the token as the user name; GitHub and others take it with any user.
        secret = password if password is not None else user
        user = (user if password is not None else "") or "x-access-token"
        token = base64.b64encode(f"{user}:{secret}".encode()).decode()
        secrets = tuple(s for s in (secret, token) if s)
        return cls(url=_unsplit(parts, host), auth_header=f"Authorization: Basic {token}", secrets=secrets)

    @property
    def is_local(self) -> bool:
        """True for a path on this machine (or a file:// URL)."""
        return self.url.startswith("file://") or not (_SCHEME.match(self.url) or _SCP_LIKE.match(self.url))

    def git_env(self) -> dict[str, str]:
        """Environment for git processes that talk to this remote (credentials, no prompts)."""
        env = {"GIT_TERMINAL_PROMPT": "0"}
        if self.auth_header is not None:
            count = int(os.environ.get("GIT_CONFIG_COUNT", "0") or 0)
            env["GIT_CONFIG_COUNT"] = str(count + 1)
            env[f"GIT_CONFIG_KEY_{count}"] = "http.extraHeader"
            env[f"GIT_CONFIG_VALUE_{count}"] = self.auth_header
        return env

    def redact(self, text: str) -> str:
        """``text`` with credentials removed: this remote's, in every printed form, and every secret shape."""
        return redactor_for(tuple(Secret(s, _SOURCE) for s in self.secrets)).redact(text)

    def __str__(self) -> str:
        return self.url


def _unsplit(parts: SplitResult, netloc: str) -> str:
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _password_refused(parts: SplitResult, user: str, host: str) -> ValueError:
    without = _unsplit(parts, f"{user}@{host}" if user else host)
    shown = _unsplit(parts, f"{user}:{REDACTED}@{host}")
    if "ssh" in parts.scheme.lower():
        why = f"git cannot give it to ssh (ssh would take '{user}:…' as the user name and show it in the process list)"
        fix = "authenticate with an SSH key (ssh-agent or ~/.ssh/config) and"
    else:
        why = f"git cannot use a password with {parts.scheme}://"
        fix = "remove it and"
    return ValueError(
        f"the remote {shown} holds a password, but {why}: {fix} use --remote {without}, or an https URL with a token"
    )
