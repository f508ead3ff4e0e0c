"""A local object cache for one remote: read and write git objects without a work tree.

Reads go through one long-lived ``git cat-file --batch`` process (GitPython keeps it open); writes are loose
objects written directly (zlib + atomic rename), which is what ``git hash-object -w`` does minus the process
start. Trees are small (the tasks directory is sharded), so a commit costs a handful of tiny writes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import git

from coordinator.errors import RemoteError
from coordinator.gitcmd import last_lines, run_git

TREE_MODE = b"40000"
FILE_MODE = b"100644"

# The file-type bits of a mode, as git tests them (``S_IFMT``) after parsing the mode as octal.
_TYPE_BITS = 0o170000
_DIRECTORY = 0o040000
_REGULAR = 0o100000
_SYMLINK = 0o120000
_GITLINK_MODE = b"160000"


@dataclass(frozen=True)
class Entry:
    """One entry of a tree, with its mode exactly as the tree holds it (``040000`` included).

    Its kind is what git itself reads it as: git parses the mode as octal and looks only at the file-type bits,
    so ``040000`` (and ``40755``) is a directory and ``100600`` a regular file, and git treats every mode that is
    neither a directory, a regular file nor a symbolic link as a gitlink. Reading a tree the way git does means a
    directory git shows is never hidden from the queue (nor dropped by the next write).
    """

    sha: str
    mode: bytes

    @property
    def _type(self) -> int | None:
        # git refuses a tree whose modes are not octal digits, so such a mode is no kind we know.
        if not self.mode or self.mode.strip(b"01234567"):
            return None
        return int(self.mode, 8) & _TYPE_BITS

    @property
    def is_tree(self) -> bool:
        """A directory (``40000``; git reads the zero-padded ``040000`` and odd ``40755`` as one too)."""
        return self._type == _DIRECTORY

    @property
    def is_file(self) -> bool:
        """A regular file (``100644``, ``100755``; git reads odd ones such as ``100600`` as files too)."""
        return self._type == _REGULAR

    @property
    def written_mode(self) -> bytes:
        """The mode to write in a new tree: the same mode without zero padding, which strict remotes (GitHub,
        ``receive.fsckObjects``) reject in pushed trees and git reads the same way anyway."""
        return self.mode.lstrip(b"0") or self.mode

    def describe(self) -> str:
        """What kind of entry this is, for a person."""
        if self.is_tree:
            return "a directory"
        if self.is_file:
            return "a file"
        if self.mode == _GITLINK_MODE:
            return "a submodule (gitlink)"
        if self._type == _SYMLINK:
            return "a symbolic link"
        return f"an entry with the unknown mode {self.mode.decode('ascii', 'replace')}"


def _encode_name(name: str) -> bytes:
    # Names are decoded with surrogateescape, so any byte sequence a tree holds is written back unchanged.
    return name.encode("utf-8", "surrogateescape")


def _tree_sort_key(item: tuple[str, Entry]) -> bytes:
    name, entry = item
    # git orders whatever it reads as a directory as if its name ended with '/'.
    return _encode_name(name) + (b"/" if entry.is_tree else b"")


def _create_bare(path: Path) -> None:
    """Create a bare repository at ``path`` atomically: other processes may be creating the same one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    result = run_git(["init", "--bare", "--quiet", str(staging)], cwd=path.parent)
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise RemoteError(f"cannot create the local cache {path}: {last_lines(result.stderr)}")
    try:
        os.rename(staging, path)
    except OSError:
        # Another process won the race and its cache is complete (renames are atomic): use that one.
        shutil.rmtree(staging, ignore_errors=True)
        if not (path / "HEAD").exists():
            raise


class ObjectCache:
    """A bare repository used only as a store of objects and a few private refs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.exists():
            _create_bare(path)
        self._objects = path / "objects"
        self._repo = git.Repo(path)
        self._lock = threading.Lock()  # the cat-file pipe is not thread-safe

    def close(self) -> None:
        """Stop the long-lived git processes."""
        self._repo.close()

    # --- reading ---

    def read(self, sha: str) -> tuple[str, bytes]:
        """The type and content of an object."""
        with self._lock:
            _, kind, _, stream = self._repo.git.stream_object_data(sha)
            data: bytes = stream.read()
        return kind.decode() if isinstance(kind, bytes) else str(kind), data

    def resolve(self, ref: str) -> str | None:
        """The object id a ref points at, or None when it does not exist."""
        with self._lock:
            try:
                hexsha, _, _ = self._repo.git.get_object_header(ref)
            except ValueError:
                return None
        return hexsha.decode() if isinstance(hexsha, bytes) else str(hexsha)

    def read_tree(self, sha: str) -> dict[str, Entry]:
        """Entries of a tree object by name."""
        kind, data = self.read(sha)
        if kind != "tree":
            raise ValueError(f"{sha} is a {kind}, not a tree")
        entries: dict[str, Entry] = {}
        pos = 0
        while pos < len(data):
            space = data.index(b" ", pos)
            nul = data.index(b"\0", space)
            mode = data[pos:space]
            name = data[space + 1 : nul].decode("utf-8", "surrogateescape")
            entries[name] = Entry(sha=data[nul + 1 : nul + 21].hex(), mode=mode)
            pos = nul + 21
        return entries

    def read_commit_tree(self, sha: str) -> str:
        """The tree id of a commit."""
        kind, data = self.read(sha)
        if kind != "commit" or not data.startswith(b"tree "):
            raise ValueError(f"{sha} is not a commit")
        return data[5:45].decode()

    # --- writing ---

    def write(self, kind: str, data: bytes) -> str:
        """Store an object (idempotent) and return its id."""
        raw = f"{kind} {len(data)}\0".encode() + data
        sha = hashlib.sha1(raw, usedforsecurity=False).hexdigest()
        folder = self._objects / sha[:2]
        target = folder / sha[2:]
        if target.exists():
            return sha
        folder.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix="tmp_obj_")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(zlib.compress(raw, 1))
            os.replace(tmp, target)
        except OSError:
            # Another process wrote the same object at the same moment (Windows refuses the rename then).
            Path(tmp).unlink(missing_ok=True)
            if not target.exists():
                raise
        return sha

    def write_tree(self, entries: Mapping[str, Entry]) -> str:
        """Store a tree with these entries in git's order, each with its own mode (without zero padding: a
        ``040000`` is written as ``40000``, the same directory in the form strict remotes accept)."""
        parts = []
        for name, entry in sorted(entries.items(), key=_tree_sort_key):
            parts.append(entry.written_mode + b" " + _encode_name(name) + b"\0" + bytes.fromhex(entry.sha))
        return self.write("tree", b"".join(parts))

    def write_commit(self, *, tree: str, parents: Iterable[str], message: str, author: str, timestamp: int) -> str:
        """Store a commit; ``author`` is ``Name <email>``, used as committer too."""
        lines = [f"tree {tree}"] + [f"parent {p}" for p in parents]
        stamp = f"{author} {timestamp} +0000"
        lines += [f"author {stamp}", f"committer {stamp}", "", message.rstrip("\n"), ""]
        return self.write("commit", "\n".join(lines).encode())
