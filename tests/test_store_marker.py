"""The state-branch marker: coordinator never writes to (nor shows as a queue) a branch without ``meta.json``.

Found: ``coordinator --branch main submit oops`` wrote ``meta.json`` and ``tasks/…`` onto the code branch.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from coordinator.cli.app import cli
from coordinator.core import transitions as T
from coordinator.store.remote import Remote
from coordinator.store.store import NotAStateBranch, StateStore
from tests.gitutil import git

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def code_remote(remote_path: Path, tmp_path: Path) -> Path:
    """A bare remote whose ``main`` is a code branch (with a ``tasks/`` folder of JSON files, as a project may
    have) and which also holds a real state branch."""
    work = tmp_path / "code"
    git("init", "--quiet", "--initial-branch", "main", str(work), cwd=tmp_path)
    (work / "tasks" / "ab").mkdir(parents=True)
    (work / "tasks" / "ab" / "task-1.json").write_text('{"id": "task-1", "todo": "write the docs"}\n')
    (work / "README.md").write_text("# my project\n")
    git("add", ".", cwd=work)
    git("commit", "--quiet", "-m", "code", cwd=work)
    git("push", "--quiet", str(remote_path), "main", cwd=work)
    assert run(remote_path, "init").exit_code == 0
    return remote_path


def refs(remote: Path) -> str:
    return git("for-each-ref", "--format=%(objectname) %(refname)", cwd=remote)


def run(remote: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--remote", str(remote), *args], catch_exceptions=False)


def assert_refused(result: Result, remote: Path) -> None:
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: branch 'main' on ") and "is not a state branch" in lines[0]
    assert "--branch" in lines[0] and f"coordinator --remote {remote} --branch NEW init" in lines[0]


@pytest.mark.parametrize(
    "args",
    [
        ("submit", "oops"),
        ("init",),
        ("list",),
        ("status",),
        ("status", "--json"),
        ("claim", "--runner", "box-1"),
        ("cancel", "task-1"),
        ("modes",),
    ],
)
def test_every_command_refuses_a_branch_that_is_not_a_state_branch(code_remote: Path, args: tuple[str, ...]) -> None:
    before = refs(code_remote)
    assert_refused(run(code_remote, "--branch", "main", *args), code_remote)
    assert refs(code_remote) == before


def test_the_state_branch_next_to_it_still_works(code_remote: Path) -> None:
    assert run(code_remote, "submit", "fine").output.strip() == "task-1"
    assert run(code_remote, "--branch", "queue/new", "init").exit_code == 0  # a new branch: created
    assert run(code_remote, "--branch", "queue/new", "submit", "also fine").output.strip() == "task-1"


def test_the_store_refuses_before_the_transition_runs(code_remote: Path, tmp_path: Path) -> None:
    called = []

    def transition(state: object, now: object) -> T.Change:
        called.append(state)
        return T.Change(message="must never land")

    before = refs(code_remote)
    with StateStore(Remote.parse(str(code_remote)), "main", cache_dir=tmp_path / "c") as store:
        for attempt in (
            lambda: store.update(transition),
            store.read,
            store.init,
            store.poll,
            lambda: store.update(
                lambda s, now: T.claim(s, runner="box-1", capabilities=(), lease_ttl=timedelta(minutes=5), now=now)
            ),
        ):
            with pytest.raises(NotAStateBranch) as err:
                attempt()
            assert "\n" not in str(err.value)
    assert called == []
    assert refs(code_remote) == before


def test_the_installed_command_refuses_in_one_line_and_leaves_main_alone(code_remote: Path) -> None:
    exe = shutil.which("coordinator", path=str(Path(sys.executable).parent))
    command = [exe] if exe else [sys.executable, "-m", "coordinator"]
    before = refs(code_remote)
    done = subprocess.run(
        [*command, "--remote", str(code_remote), "--branch", "main", "submit", "oops"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "is not a state branch" in done.stderr and "Traceback" not in done.stderr
    assert refs(code_remote) == before
