"""What PyPI gets: the distribution ``coordinator-queue`` (``coordinator`` there is someone else's) holding the
import package ``coordinator`` and the ``coordinator`` command, built and checked as the release workflow does."""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

from coordinator import __version__
from coordinator.github.workflow import DISTRIBUTION
from tests.test_cli_terminal import coordinator_command

ROOT = Path(__file__).resolve().parents[1]


def test_the_distribution_name_is_the_one_the_workflow_installs() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["name"] == DISTRIBUTION == "coordinator-queue"
    assert project["scripts"] == {"coordinator": "coordinator.cli:main"}
    # The installed environment has it under that name (pip install -e '.[dev]').
    assert importlib.metadata.version(DISTRIBUTION) == __version__


def test_the_command_keeps_its_name_and_says_its_version() -> None:
    done = subprocess.run(
        [*coordinator_command(), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"coordinator {__version__}\n"


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sdist and wheel of a copy of the source (the build writes egg-info next to its input)."""
    pytest.importorskip("build", reason="the dev extras install build: pip install -e '.[dev]'")
    source = tmp_path_factory.mktemp("source")
    shutil.copytree(ROOT / "coordinator", source / "coordinator", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel", "--outdir", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return out


def test_the_wheel_holds_the_coordinator_package_and_command(dists: Path) -> None:
    wheel = dists / f"coordinator_queue-{__version__}-py3-none-any.whl"
    assert wheel.exists(), sorted(p.name for p in dists.iterdir())
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = f"coordinator_queue-{__version__}.dist-info"
        metadata = archive.read(f"{info}/METADATA").decode("utf-8")
        entry_points = archive.read(f"{info}/entry_points.txt").decode("utf-8")
    assert {"coordinator/__init__.py", "coordinator/py.typed", "coordinator/github/workflow.py"} <= names
    assert not any(name.startswith("tests/") for name in names)
    assert "Name: coordinator-queue\n" in metadata and f"Version: {__version__}\n" in metadata
    assert "coordinator = coordinator.cli:main" in entry_points


def test_the_sdist_is_named_for_pypi(dists: Path) -> None:
    sdist = dists / f"coordinator_queue-{__version__}.tar.gz"
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
    assert f"coordinator_queue-{__version__}/pyproject.toml" in names
    assert f"coordinator_queue-{__version__}/coordinator/cli/app.py" in names


def test_twine_accepts_both_as_the_release_workflow_checks_them(dists: Path) -> None:
    pytest.importorskip("twine", reason="the dev extras install twine: pip install -e '.[dev]'")
    files = sorted(str(p) for p in dists.iterdir())
    done = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *files],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") == 2
