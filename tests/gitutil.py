"""Helpers that change a state branch by hand, the way a person (or a bug) might."""

from __future__ import annotations

import subprocess
from pathlib import Path

IDENTITY = ["-c", "user.name=tester", "-c", "user.email=tester@example.invalid", "-c", "commit.gpgsign=false"]


def git(*args: str, cwd: Path) -> str:
    """Run git with a fixed identity; returns stdout; raises on failure."""
    result = subprocess.run(["git", *IDENTITY, *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {result.stderr}")
    return result.stdout


def edit_branch(remote: Path, workdir: Path, files: dict[str, str | None], branch: str = "coordinator/state") -> None:
    """Commit ``files`` (path -> text, None deletes) onto ``branch`` of ``remote`` and push it."""
    if not workdir.exists():
        git("clone", "--quiet", "--branch", branch, str(remote), str(workdir), cwd=remote.parent)
    else:
        git("pull", "--quiet", "origin", branch, cwd=workdir)
    for path, text in files.items():
        target = workdir / path
        if text is None:
            git("rm", "--quiet", path, cwd=workdir)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            git("add", path, cwd=workdir)
    git("commit", "--quiet", "-m", "edit by hand", cwd=workdir)
    git("push", "--quiet", "origin", f"HEAD:{branch}", cwd=workdir)


def read_branch_file(remote: Path, path: str, branch: str = "coordinator/state") -> str:
    """The content of ``path`` at the tip of ``branch`` in ``remote``."""
    return git("show", f"{branch}:{path}", cwd=remote)


def branch_log(remote: Path, branch: str = "coordinator/state") -> list[str]:
    """Commit subjects of ``branch``, newest first."""
    return git("log", "--format=%s", branch, cwd=remote).splitlines()
