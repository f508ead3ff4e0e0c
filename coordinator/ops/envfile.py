"""Environment files for runner services: ``KEY=VALUE`` lines holding the secrets a runner needs (tokens, API
keys), kept out of the unit file. The format is the subset systemd's ``EnvironmentFile=`` reads too, so one file
serves every platform: ``#`` comments, blank lines, optional quotes around a value (and an ``export`` prefix)."""

from __future__ import annotations

import re
from pathlib import Path

from coordinator.errors import ConfigError

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_env_text(text: str, source: str) -> dict[str, str]:
    """The variables of an env file's ``text``; ``source`` names it in errors, which never quote a value."""
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        key, equals, value = stripped.removeprefix("export ").partition("=")
        key = key.strip()
        if not equals or not _KEY.fullmatch(key):
            raise ConfigError(
                f"{source}, line {number}: not a KEY=VALUE line (e.g. COORDINATOR_GITHUB_TOKEN=...): fix that line"
            )
        values[key] = _unquoted(value.strip())
    return values


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1]
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\([\\\"$`])", r"\1", value[1:-1])
    return value


def read_env_file(path: Path) -> dict[str, str]:
    """The variables of the env file at ``path``, or a ``ConfigError`` saying what to fix."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"env file {path} does not exist: create it (KEY=VALUE lines) or drop --env-file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read env file {path}: {error}") from None
    return parse_env_text(text, str(path))
