"""Read the state branch at a commit into a ``State``, re-reading only what changed since the last commit read.

Trees are compared by id: an unchanged shard is skipped without being opened, and a changed shard only
re-parses the blobs whose ids changed. Parsed files are cached by blob id and model. What to read is driven by
the layout table (:mod:`coordinator.store.layout`).

Nothing on the branch can stop the queue. Entries are what git reads them as (``040000`` is a directory, see
``Entry``); a file that does not parse or validate, a record in the wrong place, a symlink, a submodule entry or
an entry with a mode git reads as neither file nor directory becomes a ``Problem`` (path, reason) and is left
out until fixed. Writing keeps every entry it did not change exactly as it was (object and mode; in a directory
it rewrote, a zero-padded mode loses its zeros). A commit without ``meta.json`` at its root is not read at all.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from coordinator.core.archive_layout import ARCHIVE_DIR
from coordinator.core.state import Problem, State
from coordinator.ids import check_name
from coordinator.models import BranchConfig, Meta
from coordinator.store.archive import ArchiveIndex
from coordinator.store.layout import COLLECTIONS, CONFIG, META, Collection, shard_of
from coordinator.store.objects import FILE_MODE, TREE_MODE, Entry, ObjectCache

_BLOB_CACHE_SIZE = 50_000
_DELETE = object()

M = TypeVar("M", bound=BaseModel)


def describe_error(exc: Exception) -> str:
    """A one-line reason for a file that failed to parse."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "file"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        message = str(first.get("msg", "")).removeprefix("Value error, ")  # pydantic's prefix for our own checks
        return f"invalid {where}: {message}{more}"
    return f"{type(exc).__name__}: {exc}"


class NoMarker(ValueError):
    """The commit is not on a state branch: its root has no ``meta.json``."""


@dataclass
class _Dir:
    sha: str | None = None
    entries: dict[str, Entry] = field(default_factory=dict)


class Snapshot:
    """The state at ``commit``; ``advance`` moves it to another commit incrementally."""

    def __init__(self, objects: ObjectCache) -> None:
        self._objects = objects
        self.commit: str | None = None
        self.state = State()
        # Every directory read at the current commit, by path ("" is the root): reused when writing.
        self._dirs: dict[str, _Dir] = {"": _Dir()}
        # Parsed files by (blob id, model): one blob may be meant as different records in different places.
        self._parsed: OrderedDict[tuple[str, type[BaseModel]], BaseModel | Problem] = OrderedDict()
        self._archive = ArchiveIndex(objects)

    # --- reading ---

    def _parse(self, entry: Entry, path: str, model: type[M]) -> M | Problem:
        if not entry.is_file:
            return Problem(path, f"is {entry.describe()}, not a file")
        cached = self._parsed.get((entry.sha, model))
        if isinstance(cached, model):
            self._parsed.move_to_end((entry.sha, model))
            return cached
        if isinstance(cached, Problem):
            return Problem(path, cached.reason)
        try:
            kind, data = self._objects.read(entry.sha)
            if kind != "blob":
                raise ValueError(f"expected a file, found a {kind}")
            value: M | Problem = model.model_validate_json(data)
        except (ValidationError, ValueError, UnicodeDecodeError) as exc:
            value = Problem(path, describe_error(exc))
        self._parsed[(entry.sha, model)] = value
        if len(self._parsed) > _BLOB_CACHE_SIZE:
            self._parsed.popitem(last=False)
        return value

    def remember(self, sha: str, value: BaseModel) -> None:
        """Cache a model we just wrote, so reading our own commit parses nothing."""
        self._parsed[(sha, type(value))] = value

    def advance(self, commit: str | None) -> State:
        """Bring the state to ``commit`` (None: an empty branch) and return it.

        Raises ``NoMarker`` (and reads nothing more) when the commit has no ``meta.json`` at its root: that is
        not a state branch, and what looks like records there is not the queue's.
        """
        if commit == self.commit:
            return self.state
        root = self._objects.read_tree(self._objects.read_commit_tree(commit)) if commit else {}
        if commit and META.path not in root:
            raise NoMarker(commit)
        self._advance_root(root)
        self.commit = commit
        return self.state

    def _advance_root(self, root: dict[str, Entry]) -> None:
        state = self.state
        old = self._dirs[""].entries
        self._dirs[""] = _Dir(None, root)
        for name in set(old) | set(root):
            entry = root.get(name)
            if entry == old.get(name):
                continue
            odd = entry is not None and not (entry.is_file or entry.is_tree)
            problem = Problem(name, f"is {entry.describe()}; coordinator ignores it") if odd and entry else None
            self._set_problem(name, problem)

        meta = self._read_single(root.get(META.path), old.get(META.path), META.path, Meta)
        if meta is not None:
            # An unreadable meta.json reads as the defaults, as on a fresh read (ids stay unique regardless:
            # submit skips every id that has a file).
            state.meta = meta if isinstance(meta, Meta) else Meta()
        config = self._read_single(root.get(CONFIG.path), old.get(CONFIG.path), CONFIG.path, BranchConfig)
        if config is not None:
            state.config = config if isinstance(config, BranchConfig) else BranchConfig()
        for collection in COLLECTIONS:
            self._advance_collection(collection, root.get(collection.directory))
        self._archive.advance(root.get(ARCHIVE_DIR), state)

    def _read_single(self, entry: Entry | None, old: Entry | None, path: str, model: type[M]) -> M | Problem | None:
        """The parsed file when it changed (a default model when it is gone), None when unchanged."""
        if entry == old:
            return None
        if entry is None:
            self.state.problems.pop(path, None)
            return model()
        parsed = self._parse(entry, path, model)
        self._set_problem(path, parsed)
        return parsed

    def _set_problem(self, path: str, value: BaseModel | Problem | None) -> None:
        if isinstance(value, Problem):
            self.state.problems[path] = value
        else:
            self.state.problems.pop(path, None)

    def _subdir(self, path: str, entry: Entry | None) -> tuple[dict[str, Entry], dict[str, Entry]] | None:
        """(old entries, new entries) of the directory at ``path`` when it changed, else None."""
        sha = entry.sha if entry is not None and entry.is_tree else None
        old = self._dirs.get(path, _Dir())
        if sha == old.sha and path in self._dirs:
            return None
        if entry is not None and not entry.is_tree:
            self._set_problem(path, Problem(path, f"is {entry.describe()}, not a directory"))
        else:
            self.state.problems.pop(path, None)
        new = self._objects.read_tree(sha) if sha else {}
        if sha:
            self._dirs[path] = _Dir(sha, new)
        else:
            self._dirs.pop(path, None)
        return old.entries, new

    def _advance_collection(self, collection: Collection, entry: Entry | None) -> None:
        top = collection.directory
        changed = self._subdir(top, entry)
        if changed is None:
            return
        old, new = changed
        if not collection.sharded:
            self._advance_files(collection, top, old, new, shard=None)
            return
        for name in set(old) | set(new):
            if old.get(name) == new.get(name) and f"{top}/{name}" in self._dirs:
                continue
            shard_changed = self._subdir(f"{top}/{name}", new.get(name))
            if shard_changed is not None:
                self._advance_files(collection, f"{top}/{name}", *shard_changed, shard=name)

    def _advance_files(
        self, collection: Collection, folder: str, old: dict[str, Entry], new: dict[str, Entry], shard: str | None
    ) -> None:
        for name in set(old) - set(new):
            self._forget(collection, f"{folder}/{name}", name)
        for name, entry in new.items():
            if old.get(name) == entry:
                continue
            path = f"{folder}/{name}"
            parsed = self._read_record(collection, path, name, entry, shard)
            key = name.removesuffix(".json")
            if isinstance(parsed, Problem):
                self.state.problems[path] = parsed
                if path == collection.path(key):  # a stray copy elsewhere must not hide the real record
                    self.state.remove_record(collection.directory, key)
            else:
                self.state.problems.pop(path, None)
                self.state.put_record(collection.directory, key, parsed)

    def _read_record(
        self, collection: Collection, path: str, name: str, entry: Entry, shard: str | None
    ) -> BaseModel | Problem:
        key = name.removesuffix(".json")
        try:
            check_name(collection.kind, key)
        except ValueError:
            return Problem(path, f"is not a {collection.kind} file (expected <{collection.kind} name>.json)")
        if not name.endswith(".json"):
            return Problem(path, f"is not a {collection.kind} file (expected {key}.json)")
        parsed = self._parse(entry, path, collection.model)
        if isinstance(parsed, Problem):
            return Problem(path, parsed.reason, collection=collection.directory, key=key)
        found = collection.key_of(parsed)
        if found != key or (shard is not None and shard_of(key) != shard):
            return Problem(
                path,
                f"holds {collection.kind} '{found}', which belongs at {collection.path(found)}",
                collection=collection.directory,
                key=key,
            )
        return parsed

    def _forget(self, collection: Collection, path: str, name: str) -> None:
        self.state.problems.pop(path, None)
        key = name.removesuffix(".json")
        if path == collection.path(key):
            self.state.remove_record(collection.directory, key)

    def entry(self, path: str) -> Entry | None:
        """The entry at ``path`` in the current commit's tree (None when there is none)."""
        entries = self._dirs[""].entries
        parts = path.split("/")
        for depth, name in enumerate(parts[:-1]):
            entries = self._entries_of("/".join(parts[: depth + 1]), entries.get(name))
        return entries.get(parts[-1])

    # --- building the next tree ---

    def tree_with(self, files: dict[str, bytes], deletes: Iterable[str] = ()) -> tuple[str, dict[str, str]]:
        """Write the tree of the current commit with ``files`` (path -> content) written and ``deletes`` gone.

        Returns the new root tree id and the blob id of each written file. Only the directories on the changed
        paths are rewritten; every other entry is kept exactly as it was (in a rewritten directory, a
        zero-padded mode loses its leading zeros: see ``Entry.written_mode``). A directory left empty is dropped;
        a file where a written path needs a directory is replaced by one.
        """
        plan: dict[str, object] = {}
        for path, data in files.items():
            _insert(plan, path.split("/"), data)
        for path in deletes:
            _insert(plan, path.split("/"), _DELETE)
        blob_ids: dict[str, str] = {}
        root = self._apply("", self._dirs[""].entries, plan, blob_ids)
        return self._objects.write_tree(root), blob_ids

    def _apply(
        self, path: str, entries: dict[str, Entry], plan: dict[str, object], blob_ids: dict[str, str]
    ) -> dict[str, Entry]:
        """The entries of the directory at ``path`` with ``plan`` applied; changed subdirectories are written."""
        new = dict(entries)
        for name, step in plan.items():
            child = f"{path}/{name}" if path else name
            if step is _DELETE:
                new.pop(name, None)
            elif isinstance(step, bytes):
                sha = self._objects.write("blob", step)
                blob_ids[child] = sha
                new[name] = Entry(sha, FILE_MODE)
            else:
                assert isinstance(step, dict)
                before = self._entries_of(child, new.get(name))
                after = self._apply(child, before, step, blob_ids)
                if after == before:
                    continue  # nothing changed below (a delete of what is not there): keep the entry as it is
                if after:
                    new[name] = Entry(self._objects.write_tree(after), TREE_MODE)
                else:
                    new.pop(name, None)  # an empty directory is dropped from its parent
        return new

    def _entries_of(self, path: str, entry: Entry | None) -> dict[str, Entry]:
        if entry is None or not entry.is_tree:
            return {}
        known = self._dirs.get(path)
        if known is not None and known.sha == entry.sha:
            return known.entries
        return self._objects.read_tree(entry.sha)


def _insert(plan: dict[str, object], parts: list[str], value: object) -> None:
    for part in parts[:-1]:
        step = plan.setdefault(part, {})
        assert isinstance(step, dict), "a path is both a file and a directory in one change"
        plan = step
    plan[parts[-1]] = value
