"""Where the state branch lives: a git remote URL, with any credentials kept out of argv and logs.

``https://user:TOKEN@host/o/r.git`` is split into a credential-free URL (used in argv and messages) and an
``Authorization`` header handed to git through ``GIT_CONFIG_*`` environment variables, so the token is never
visible in ``ps``, in error messages, or on the state branch.
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_SCP_LIKE = re.compile(r"^[^/\\:]+@[^/\\:]+:")  # git@github.com:o/r.git
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
_REDACTED = "***"


@dataclass(frozen=True)
class Remote:
    """A git remote: ``url`` is safe to show; ``secrets`` are redacted from anything we print."""

    url: str
    auth_header: str | None = field(default=None, repr=False)
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @classmethod
    def parse(cls, spec: str, *, cwd: Path | None = None) -> Remote:
        """Parse a remote URL or local path; relative paths are made absolute against ``cwd``."""
        spec = spec.strip()
        if not spec:
            raise ValueError("the remote is empty: pass --remote URL or set COORDINATOR_REMOTE")
        if _SCHEME.match(spec):
            parts = urlsplit(spec)
            if parts.scheme in ("http", "https") and (parts.username or parts.password):
                user = parts.username or "x-access-token"
                secret = parts.password or parts.username or ""
                if parts.password is None:  # https://TOKEN@host/...
                    user = "x-access-token"
                netloc = parts.hostname or ""
                if parts.port:
                    netloc += f":{parts.port}"
                clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
                token = base64.b64encode(f"{user}:{secret}".encode()).decode()
                return cls(url=clean, auth_header=f"Authorization: Basic {token}", secrets=(secret, token))
            return cls(url=spec)
        if _SCP_LIKE.match(spec):
            return cls(url=spec)
        path = Path(spec).expanduser()
        if not path.is_absolute():
            path = (cwd or Path.cwd()) / path
        return cls(url=str(path.resolve()))

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
        """``text`` with credentials removed (URL user info and every known secret)."""
        text = _USERINFO.sub(_REDACTED + "@", text)
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, _REDACTED)
        return text

    def __str__(self) -> str:
        return self.url
