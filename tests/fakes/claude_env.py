"""Helpers for tests that run ``claude``: find the real CLI, build its offline env, make a fake executable.

Reusable by any test module (no conftest needed)::

    from tests.fakes.claude_env import claude_env, clear_inherited_claude_env, require_real_claude

    def test_x(tmp_path, monkeypatch):
        exe = require_real_claude()          # skips when the CLI is not installed
        clear_inherited_claude_env(monkeypatch)
        with FakeAnthropic([...]) as api:
            env = claude_env(api.url, tmp_path / "home")
"""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import sys
from pathlib import Path

import pytest

FIXTURES_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "claude-cli"
FAKE_CLAUDE_SCRIPT = Path(__file__).resolve().parent / "fake_claude.py"
SKIP_REASON = "real claude CLI not installed: set COORDINATOR_TEST_CLAUDE or npm install @anthropic-ai/claude-code"

#: Variables of the developer's or CI's own Claude setup that would leak into a test run (a real key, a nested
#: session marker, another provider, a proxy that cannot reach 127.0.0.1).
INHERITED_CLAUDE_VARS = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_MODEL",
    "ANTHROPIC_SMALL_FAST_MODEL",
    "ANTHROPIC_DEFAULT_HAIKU_MODEL",
    "ANTHROPIC_DEFAULT_SONNET_MODEL",
    "ANTHROPIC_DEFAULT_OPUS_MODEL",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX",
    "CLAUDE_CONFIG_DIR",
    "CLAUDECODE",
    "CLAUDE_CODE_ENTRYPOINT",
    "CLAUDE_CODE_SSE_PORT",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


def find_real_claude() -> str | None:
    """The real CLI: ``$COORDINATOR_TEST_CLAUDE``, else ``claude`` on PATH, else ``None``."""
    configured = os.environ.get("COORDINATOR_TEST_CLAUDE")
    if configured:
        return configured if Path(configured).exists() else shutil.which(configured)
    return shutil.which("claude")


def require_real_claude() -> str:
    """The real CLI, or skip the calling test with a message saying how to get it."""
    found = find_real_claude()
    if not found:
        pytest.skip(SKIP_REASON)
    return found


def clear_inherited_claude_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove :data:`INHERITED_CLAUDE_VARS` from ``os.environ`` for this test (agents merge onto it)."""
    for name in INHERITED_CLAUDE_VARS:
        monkeypatch.delenv(name, raising=False)


def claude_env(api_url: str, home: Path, *, oauth_token: str | None = None, api_key: str = "test") -> dict[str, str]:
    """Environment for a real CLI run that talks only to ``api_url`` and keeps its state under ``home``.

    With ``oauth_token`` the CLI authenticates like a subscription (Bearer token, no API key), which is what
    makes it report usage limits; call :func:`clear_inherited_claude_env` too so no inherited key wins.
    """
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "ANTHROPIC_BASE_URL": api_url,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_MAX_RETRIES": "0",
        "HOME": str(home),
        "USERPROFILE": str(home),  # Windows reads the home folder from here
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    if oauth_token is not None:
        env["CLAUDE_CODE_OAUTH_TOKEN"] = oauth_token
    else:
        env["ANTHROPIC_API_KEY"] = api_key
    return env


def make_fake_claude(directory: Path, name: str = "claude") -> Path:
    """An executable in ``directory`` that runs ``fake_claude.py`` with this Python; returns its path.

    POSIX: a ``/bin/sh`` script that execs ``sys.executable``; Windows: a ``.cmd`` file.
    """
    directory.mkdir(parents=True, exist_ok=True)
    if sys.platform == "win32":
        path = directory / f"{name}.cmd"
        path.write_text(
            f'@echo off\r\n"{sys.executable}" "{FAKE_CLAUDE_SCRIPT}" %*\r\nexit /b %ERRORLEVEL%\r\n',
            encoding="utf-8",
        )
        return path
    path = directory / name
    path.write_text(
        f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(FAKE_CLAUDE_SCRIPT))} "$@"\n',
        encoding="utf-8",
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def fixture_case(case: str) -> tuple[int | None, str, str]:
    """A captured run: (exit code or ``None`` when not recorded, stdout, stderr)."""
    rc_file = FIXTURES_DIR / f"{case}.rc"
    err_file = FIXTURES_DIR / f"{case}.stderr"
    rc = int(rc_file.read_text().strip()) if rc_file.exists() else None
    stdout = (FIXTURES_DIR / f"{case}.stdout").read_text(encoding="utf-8")
    stderr = err_file.read_text(encoding="utf-8") if err_file.exists() else ""
    return rc, stdout, stderr
