"""Helpers that change a state branch by hand, the way a person (or a bug) might."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
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


# --- hand-written trees: git itself builds the objects, whatever modes and names they hold ---

#: What ``S_IFMT`` masks in a tree entry's mode, and the directory type git tests it against.
_TYPE_MASK = 0o170000
_DIR_TYPE = 0o040000


@dataclass(frozen=True)
class RawEntry:
    """One entry of a tree exactly as the tree object holds it (mode bytes unnormalised, name as bytes)."""

    mode: bytes
    name: bytes
    sha: str

    @property
    def git_is_dir(self) -> bool:
        """Whether git itself reads this entry as a directory (it parses the mode as octal: ``040000`` and
        ``40755`` are directories too)."""
        return (int(self.mode, 8) & _TYPE_MASK) == _DIR_TYPE


def git_bytes(*args: str, cwd: Path, data: bytes | None = None) -> bytes:
    """Run git with a fixed identity on binary input; returns stdout; raises on failure."""
    result = subprocess.run(["git", *IDENTITY, *args], cwd=cwd, input=data, capture_output=True, check=False)
    if result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {result.stderr.decode(errors='replace')}")
    return result.stdout


def write_blob(repo: Path, data: bytes) -> str:
    """Store ``data`` as a blob in ``repo``; returns its id."""
    return git_bytes("hash-object", "-w", "--stdin", cwd=repo, data=data).decode().strip()


def write_raw_tree(repo: Path, entries: Iterable[RawEntry]) -> str:
    """Store a tree holding exactly these entries (in git's order) with ``git hash-object --literally``, which
    keeps zero-padded and odd modes and odd names as given; returns its id."""
    ordered = sorted(entries, key=lambda e: e.name + (b"/" if e.git_is_dir else b""))
    data = b"".join(e.mode + b" " + e.name + b"\0" + bytes.fromhex(e.sha) for e in ordered)
    return git_bytes("hash-object", "-w", "--literally", "-t", "tree", "--stdin", cwd=repo, data=data).decode().strip()


def read_raw_tree(repo: Path, tree: str) -> list[RawEntry]:
    """The entries of a tree object as stored (``git cat-file tree``), modes not canonicalised."""
    data = git_bytes("cat-file", "tree", tree, cwd=repo)
    entries, pos = [], 0
    while pos < len(data):
        space = data.index(b" ", pos)
        nul = data.index(b"\0", space)
        entries.append(RawEntry(data[pos:space], data[space + 1 : nul], data[nul + 1 : nul + 21].hex()))
        pos = nul + 21
    return entries


def raw_paths(repo: Path, tree: str, prefix: bytes = b"") -> dict[bytes, RawEntry]:
    """Every entry under ``tree`` by path, descending into whatever git reads as a directory."""
    found: dict[bytes, RawEntry] = {}
    for entry in read_raw_tree(repo, tree):
        path = prefix + entry.name
        found[path] = entry
        if entry.git_is_dir:
            found.update(raw_paths(repo, entry.sha, path + b"/"))
    return found


def commit_onto(repo: Path, tree: str, parent: str | None, branch: str = "coordinator/state") -> str:
    """Commit ``tree`` on top of ``parent`` and move ``branch`` of the bare ``repo`` to it (no push, no hooks)."""
    parents = ["-p", parent] if parent else []
    commit = git_bytes("commit-tree", tree, *parents, "-m", "hostile edit by hand", cwd=repo).decode().strip()
    git("update-ref", f"refs/heads/{branch}", commit, cwd=repo)
    return commit


def ls_tree(repo: Path, rev: str) -> dict[bytes, tuple[str, str, str]]:
    """``git ls-tree -r -t`` of ``rev``: path -> (mode, type, object) as git reports them (canonical modes)."""
    out = git_bytes("ls-tree", "-r", "-t", "-z", rev, cwd=repo)
    listing: dict[bytes, tuple[str, str, str]] = {}
    for record in out.split(b"\0"):
        if record:
            info, _, path = record.partition(b"\t")
            mode, kind, sha = info.decode().split()
            listing[path] = (mode, kind, sha)
    return listing


def fsck_messages(repo: Path) -> dict[str, set[str]]:
    """Object id -> fsck message ids (``zeroPaddedFilemode``…) of ``git fsck --strict`` on ``repo``."""
    result = subprocess.run(
        ["git", "fsck", "--strict", "--no-dangling", "--no-progress"], cwd=repo, capture_output=True, check=False
    )
    found: dict[str, set[str]] = {}
    for line in result.stderr.decode(errors="replace").splitlines() + result.stdout.decode().splitlines():
        match = re.match(r"(?:error|warning) in \w+ ([0-9a-f]{40}): (\w+):", line)
        if match:
            found.setdefault(match.group(1), set()).add(match.group(2))
    return found


def objects_between(repo: Path, new: str, old: str) -> set[str]:
    """Ids of the objects reachable from ``new`` but not from ``old`` (what a write added)."""
    out = git("rev-list", "--objects", new, f"^{old}", cwd=repo)
    return {line.split()[0] for line in out.splitlines() if line}
