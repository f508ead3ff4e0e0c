"""Keeping secrets out of everything the coordinator writes: logs, results on the state branch, messages.

Secrets are known values (of environment variables whose names look secret: ``*_KEY``, ``*_TOKEN``, ...) and
well-known token shapes (``sk-ant-…``, ``ghp_…``, ``AKIA…``, ``Bearer …``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence

REDACTED = "[REDACTED]"

_SECRET_NAME_PARTS = frozenset(
    {"KEY", "APIKEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "PASS", "CREDENTIAL", "CREDENTIALS", "PAT"}
)
_SECRET_FLAG = re.compile(r"^--?[\w-]*(key|token|secret|password|passwd|credential)[\w-]*$", re.IGNORECASE)
# The lookbehind keeps ordinary words from matching mid-way ("task-implement-the-feature" holds "sk-...").
_SECRET_VALUE = re.compile(
    r"(?<![\w-])(sk-ant-[\w-]{8,}|sk-[A-Za-z0-9_-]{20,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,}"
    r"|xox[abprs]-[\w-]{10,}|AKIA[0-9A-Z]{16}|Bearer\s+[\w.~+/=-]{12,})"
)
_MIN_SECRET_LENGTH = 8  # shorter env values ("test", "1") would redact ordinary words


#: Variables of the runner that its agents never inherit: the state remote (its URL may carry a token) and the
#: GitHub tokens the runner itself uses. A task that needs a credential gets it explicitly, not by inheritance.
WITHHELD_FROM_AGENTS = frozenset(
    {"COORDINATOR_REMOTE", "COORDINATOR_GITHUB_TOKEN", "GITHUB_TOKEN", "GH_TOKEN", "GH_ENTERPRISE_TOKEN"}
)


def is_secret_env_name(name: str) -> bool:
    """Whether an environment variable name suggests a secret (``ANTHROPIC_API_KEY``, ``GH_TOKEN``, ...)."""
    parts = re.split(r"[^A-Za-z0-9]+", name.upper())
    return any(part in _SECRET_NAME_PARTS for part in parts)


def secret_values(env: Mapping[str, str]) -> list[str]:
    """The values of secret-looking variables in ``env``, longest first (so overlapping values redact fully)."""
    values = {v for k, v in env.items() if is_secret_env_name(k) and len(v) >= _MIN_SECRET_LENGTH}
    return sorted(values, key=len, reverse=True)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Replace the given secret values and anything that looks like a well-known token format."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return _SECRET_VALUE.sub(REDACTED, text)


def redact_argv(argv: Sequence[str], secrets: Iterable[str] = ()) -> list[str]:
    """``argv`` with secret values redacted: ``--api-key X``, ``--token=X`` and token-shaped values."""
    secrets = list(secrets)
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        flag, eq, _value = arg.partition("=")
        if _SECRET_FLAG.match(flag):
            if eq:
                out.append(f"{flag}={REDACTED}")
                continue
            hide_next = True
        out.append(redact(arg, secrets))
    return out


def describe_argv(argv: Sequence[str], secrets: Iterable[str]) -> str:
    # One line whatever the arguments hold (prompts have newlines); long ones are shortened to keep it readable.
    shown = [a if len(a) <= 500 else f"{a[:500]}…[{len(a)} chars]" for a in redact_argv(argv, secrets)]
    return json.dumps(shown, ensure_ascii=False)
