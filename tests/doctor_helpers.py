"""A machine for the doctor to look at: a home folder with (or without) a git identity and a claude login, a
runner's clone of a project whose origin holds the state branch, and the doctor's checks by name."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from coordinator.ops.checks import Check, Status


def by_name(checks: Sequence[Check]) -> dict[str, Check]:
    """The checks keyed by name (each name appears once)."""
    named = {check.name: check for check in checks}
    assert len(named) == len(checks), [c.name for c in checks]
    return named


def statuses(checks: Sequence[Check]) -> dict[str, str]:
    """``name -> OK|WARN|FAIL``, for readable assertion messages."""
    return {check.name: check.status.value for check in checks}


def make_home(root: Path, monkeypatch: pytest.MonkeyPatch, *, identity: bool = True, login: bool = False) -> Path:
    """A fresh HOME (the platform's folders under it, no system git config); with a git identity and, when
    ``login``, the file the claude CLI keeps its login in."""
    home = root / "home"
    home.mkdir(parents=True, exist_ok=True)
    for name in ("HOME", "USERPROFILE"):
        monkeypatch.setenv(name, str(home))
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "GIT_CONFIG_GLOBAL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("COORDINATOR_GITHUB_TOKEN", "GITHUB_TOKEN", "GH_TOKEN", "GITHUB_REPOSITORY", "GITHUB_API_URL"):
        monkeypatch.delenv(name, raising=False)
    if identity:
        (home / ".gitconfig").write_text("[user]\n\tname = Ada\n\temail = ada@example.invalid\n", encoding="utf-8")
    if login:
        (home / ".claude").mkdir()
        (home / ".claude" / ".credentials.json").write_text(json.dumps({"claudeAiOauth": {}}), encoding="utf-8")
    return home


def not_ok(checks: Sequence[Check]) -> dict[str, str]:
    """The checks that did not pass, with their details (what a failing assertion should show)."""
    return {c.name: f"{c.status.value}: {c.detail}" for c in checks if c.status is not Status.OK}
