"""A target repository with its origin (holding the state branch) and runners built on it, for runner tests."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from coordinator.core import transitions as T
from coordinator.core.state import State
from coordinator.runner.build import build_runner
from coordinator.runner.clock import SYSTEM_CLOCK, Clock
from coordinator.runner.config import RunnerConfig
from coordinator.runner.daemon import RunnerDaemon
from coordinator.store.remote import Remote
from coordinator.store.store import StateStore
from tests.gitutil import git


@dataclass
class Project:
    """origin.git (main + state branch) and a helper store to submit/inspect tasks."""

    root: Path
    origin: Path
    store: StateStore

    def clone(self, name: str) -> Path:
        """A fresh clone of origin for a runner."""
        path = self.root / name
        git("clone", "--quiet", str(self.origin), str(path), cwd=self.root)
        return path

    def submit(self, title: str, **kwargs: Any) -> str:
        change = self.store.update(lambda s, now: T.submit(s, T.SubmitRequest(title=title, **kwargs), now))
        assert change.task is not None
        return change.task.id

    def update(self, fn: Callable[[State, datetime], T.Change]) -> T.Change:
        return self.store.update(fn)

    def state(self) -> State:
        return self.store.read()

    def daemon(
        self,
        name: str,
        *,
        repo: Path | None = None,
        echo: Callable[[str], None] | None = None,
        clock: Clock | None = None,
        **settings: Any,
    ) -> RunnerDaemon:
        """A runner on its own clone, built as ``coordinator runner`` builds it from these config keys (close
        ``daemon.store`` when done). Only keys a user can set in the config file are accepted."""
        repo = repo or self.clone(name)
        values: dict[str, Any] = {
            "name": name,
            "repo": repo,
            "poll_seconds": 0.1,
            "lease_ttl_seconds": 60,
            "heartbeat_seconds": 60,
            "agent": "command",
            "log_dir": self.root / "logs" / name,
            "cache_dir": self.root / f"cache-{name}",
            "shutdown_grace_seconds": 1,
            "kill_grace_seconds": 1,
            "api_error_pause_seconds": 0,
        }
        values.update(settings)
        lines: list[str] = []
        daemon = build_runner(RunnerConfig(**values), echo=echo or lines.append, clock=clock or SYSTEM_CLOCK)
        daemon.lines = lines  # type: ignore[attr-defined]
        return daemon


def run_once(daemon: RunnerDaemon) -> int:
    """Run a daemon with ``--once`` semantics and close its store; returns its exit code."""
    try:
        return daemon.run(once=True)
    finally:
        daemon.store.close()


def make_project(root: Path) -> Project:
    """origin.git with a README on main, and an initialised state branch."""
    root.mkdir(parents=True, exist_ok=True)
    origin = root / "origin.git"
    git("init", "--bare", "--quiet", "--initial-branch=main", str(origin), cwd=root)
    seed = root / "seed"
    git("init", "--quiet", "--initial-branch=main", str(seed), cwd=root)
    (seed / "README.md").write_text("# sample\n")
    git("add", ".", cwd=seed)
    git("commit", "--quiet", "-m", "initial", cwd=seed)
    git("push", "--quiet", str(origin), "main", cwd=seed)
    store = StateStore(Remote.parse(str(origin)), cache_dir=root / "cache-test")
    store.init()
    return Project(root=root, origin=origin, store=store)


def branch_files(repo: Path, branch: str) -> list[str]:
    """Files on ``branch`` of ``repo``."""
    return git("ls-tree", "-r", "--name-only", branch, cwd=repo).split()


def lease(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def run_git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout
