"""Reading the archive of the state branch (layout: :mod:`coordinator.core.archive_layout`).

:class:`ArchiveIndex` keeps ``State.archived`` (every archived id, its status and pack) up to date as the snapshot
moves, re-reading only the index shards whose blob ids changed: claims never change the archive, so they never
pay for it. :class:`ArchiveReader` reads archived tasks from their packs on demand (``show``, metrics, the
completion log), caching a few parsed packs.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator

from pydantic import ValidationError

from coordinator.core.archive_layout import ARCHIVE_DIR, INDEX_DIR, INDEX_SUFFIX, Archived, parse_index
from coordinator.core.state import Problem, State
from coordinator.models import Task
from coordinator.store.objects import Entry, ObjectCache

_PACKS_CACHED = 8


class ArchiveIndex:
    """``State.archived``, read incrementally from ``archive/index/<hex digit>.tsv``."""

    def __init__(self, objects: ObjectCache) -> None:
        self._objects = objects
        self._index_tree: str | None = None
        #: Blob id and ids of each index shard read, by file name.
        self._shards: dict[str, tuple[str, list[str]]] = {}

    def advance(self, archive: Entry | None, state: State) -> None:
        """Bring ``state.archived`` to the archive directory ``archive`` (None: the branch has no archive)."""
        index = self._index_entry(archive)
        sha = index.sha if index is not None and index.is_tree else None
        if sha == self._index_tree:
            return
        self._index_tree = sha
        entries = self._objects.read_tree(sha) if sha else {}
        for name in set(self._shards) - set(entries):
            self._drop(name, state)
        for name, entry in entries.items():
            known = self._shards.get(name)
            if known is None or known[0] != entry.sha:
                self._drop(name, state)
                self._read(name, entry, state)

    def _index_entry(self, archive: Entry | None) -> Entry | None:
        if archive is None or not archive.is_tree:
            return None
        return self._objects.read_tree(archive.sha).get(INDEX_DIR.rsplit("/", 1)[-1])

    def _drop(self, name: str, state: State) -> None:
        _, ids = self._shards.pop(name, ("", []))
        for task_id in ids:
            state.archived.pop(task_id, None)
        state.problems.pop(f"{INDEX_DIR}/{name}", None)

    def _read(self, name: str, entry: Entry, state: State) -> None:
        path = f"{INDEX_DIR}/{name}"
        if not entry.is_file or not name.endswith(INDEX_SUFFIX):
            reason = f"is {entry.describe()}, not an index shard (<hex digit>{INDEX_SUFFIX})"
            state.problems[path] = Problem(path, reason)
            return
        kind, data = self._objects.read(entry.sha)
        found, bad = parse_index(data if kind == "blob" else b"")
        if bad:
            state.problems[path] = Problem(path, f"{bad[0]} (and {len(bad) - 1} more)" if len(bad) > 1 else bad[0])
        for archived in found:
            state.archived[archived.task_id] = archived
        self._shards[name] = (entry.sha, [a.task_id for a in found])


class ArchiveReader:
    """Archived tasks, read from their packs; ``entry_at`` finds a path in the current commit's tree."""

    def __init__(self, objects: ObjectCache, entry_at: Callable[[str], Entry | None]) -> None:
        self._objects = objects
        self._entry_at = entry_at
        self._packs: OrderedDict[str, dict[str, Task]] = OrderedDict()

    def task(self, state: State, task_id: str) -> Task | None:
        """The archived task ``task_id`` (None when it is not archived or its pack cannot be read)."""
        archived = state.archived.get(task_id)
        if archived is None:
            return None
        return self._pack(archived).get(task_id)

    def tasks(self, state: State) -> Iterator[Task]:
        """Every archived task the index names, pack by pack."""
        by_pack: dict[str, list[Archived]] = {}
        for archived in state.archived.values():
            by_pack.setdefault(archived.pack, []).append(archived)
        for entries in by_pack.values():
            pack = self._pack(entries[0])
            for archived in entries:
                task = pack.get(archived.task_id)
                if task is not None:
                    yield task

    def _pack(self, archived: Archived) -> dict[str, Task]:
        """The tasks of a pack by id (parsed once per blob; lines that do not parse are skipped)."""
        entry = self._entry_at(archived.pack) if archived.pack.startswith(f"{ARCHIVE_DIR}/") else None
        if entry is None or not entry.is_file:
            return {}
        cached = self._packs.get(entry.sha)
        if cached is not None:
            self._packs.move_to_end(entry.sha)
            return cached
        kind, data = self._objects.read(entry.sha)
        tasks: dict[str, Task] = {}
        for line in data.splitlines() if kind == "blob" else []:
            try:
                task = Task.model_validate_json(line)
            except (ValidationError, ValueError):
                continue
            tasks[task.id] = task
        self._packs[entry.sha] = tasks
        if len(self._packs) > _PACKS_CACHED:
            self._packs.popitem(last=False)
        return tasks
