"""The fake GitHub's clock, set by tests: comments and issue events get the time the test says, so "before the
trigger", "edited after it" or "two minutes off" are exact, not a matter of how fast the test ran."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.fakes import github_server


class FakeGitHubClock:
    """What the fake GitHub takes as now (its ``_now``), moved by the test."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, when: datetime) -> None:
        self.now = when

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def install_clock(monkeypatch: pytest.MonkeyPatch) -> FakeGitHubClock:
    """Give the fake GitHub a clock the test sets, starting at 2026-03-01 10:00 UTC (for a fixture)."""
    clock = FakeGitHubClock(datetime.fromisoformat("2026-03-01T10:00:00+00:00"))
    monkeypatch.setattr(github_server, "_now", clock)
    return clock
