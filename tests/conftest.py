"""Shared fixtures: every test gets its own object cache and a real bare git remote in tmp_path."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from coordinator.store.remote import Remote
from coordinator.store.store import StateStore

if TYPE_CHECKING:
    from tests.fakes.github_server import FakeGitHub
    from tests.github_scenarios import Side
    from tests.runner_helpers import Project


_GITHUB_VARIABLES = (
    "COORDINATOR_GITHUB_TOKEN",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "GITHUB_REPOSITORY",
    "GITHUB_API_URL",
    "GITHUB_EVENT_NAME",
    "GITHUB_EVENT_PATH",
)


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep caches out of $HOME and ignore the developer's own coordinator settings and GitHub credentials (a
    token and GITHUB_REPOSITORY in the environment would make commands talk to github.com)."""
    monkeypatch.setenv("COORDINATOR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COORDINATOR_DATA_DIR", str(tmp_path / "data"))
    for name in ("COORDINATOR_REMOTE", "COORDINATOR_BRANCH", "COORDINATOR_ACTOR", *_GITHUB_VARIABLES):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def claude_exe(monkeypatch: pytest.MonkeyPatch) -> str:
    """The real claude CLI (or a skip saying how to get it), with the developer's own Claude settings kept out."""
    from tests.fakes.claude_env import clear_inherited_claude_env, require_real_claude

    exe = require_real_claude()
    clear_inherited_claude_env(monkeypatch)
    return exe


def make_bare_remote(path: Path) -> Path:
    """An empty bare repository to act as the remote."""
    subprocess.run(["git", "init", "--bare", "--quiet", str(path)], check=True)
    return path


@pytest.fixture
def remote_path(tmp_path: Path) -> Path:
    """A bare remote with no state branch yet."""
    return make_bare_remote(tmp_path / "remote.git")


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    """origin.git with a README on main and an initialised state branch, for runner tests."""
    from tests.runner_helpers import make_project

    made = make_project(tmp_path / "p")
    yield made
    made.store.close()


@pytest.fixture
def store(remote_path: Path, tmp_path: Path) -> Iterator[StateStore]:
    """A store on an initialised state branch."""
    with StateStore(Remote.parse(str(remote_path)), cache_dir=tmp_path / "cache-a") as s:
        s.init()
        yield s


@pytest.fixture
def gh(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    """The fake GitHub on 127.0.0.1 with its usual people, its clock ticking a second per request (a module that
    needs other people defines its own ``gh``)."""
    from tests.fakes import github_server
    from tests.github_scenarios import TickingClock, fake_github

    monkeypatch.setattr(github_server, "_now", TickingClock())
    with fake_github() as fake:
        yield fake


@pytest.fixture
def ingest(store: StateStore, remote_path: Path, gh: FakeGitHub, tmp_path: Path) -> Iterator[Side]:
    """The ingest side (what ``coordinator ingest`` builds) on the ``store``'s branch and the fake GitHub."""
    from tests.github_scenarios import side

    made = side(remote_path, gh, tmp_path / "cache-ingest")
    yield made
    made.close()
