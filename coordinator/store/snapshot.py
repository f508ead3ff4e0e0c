"""Read the state branch at a commit into a ``State``, re-reading only what changed since the last commit read.

Trees are compared by id: an unchanged shard is skipped without being opened, and a changed shard only
re-parses the blobs whose ids changed. Parsed files are cached by blob id. A file that does not parse or
validate becomes a ``Problem`` (path, reason) and its task is left out until it is fixed.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from coordinator.core.state import Problem, State
from coordinator.ids import task_shard
from coordinator.models import BranchConfig, Meta, Runner, Task
from coordinator.store.objects import Entry, ObjectCache

META_FILE = "meta.json"
CONFIG_FILE = "config.json"
README_FILE = "README.md"
TASKS_DIR = "tasks"
RUNNERS_DIR = "runners"

_BLOB_CACHE_SIZE = 50_000

M = TypeVar("M", bound=BaseModel)


def describe_error(exc: Exception) -> str:
    """A one-line reason for a file that failed to parse."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "file"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        return f"invalid {where}: {first.get('msg')}{more}"
    return f"{type(exc).__name__}: {exc}"


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
        self._root = _Dir()
        self._tasks = _Dir()
        self._shards: dict[str, _Dir] = {}
        self._runners = _Dir()
        self._parsed: OrderedDict[str, BaseModel | Problem] = OrderedDict()

    def _parse(self, sha: str, path: str, model: type[M]) -> M | Problem:
        cached = self._parsed.get(sha)
        if isinstance(cached, model):
            self._parsed.move_to_end(sha)
            return cached
        if isinstance(cached, Problem):
            return Problem(path, cached.reason)
        try:
            kind, data = self._objects.read(sha)
            if kind != "blob":
                raise ValueError(f"expected a file, found a {kind}")
            value: M | Problem = model.model_validate_json(data)
        except (ValidationError, ValueError, UnicodeDecodeError) as exc:
            value = Problem(path, describe_error(exc))
        self._parsed[sha] = value
        if len(self._parsed) > _BLOB_CACHE_SIZE:
            self._parsed.popitem(last=False)
        return value

    def remember(self, sha: str, value: BaseModel) -> None:
        """Cache a model we just wrote, so reading our own commit parses nothing."""
        self._parsed[sha] = value

    def advance(self, commit: str | None) -> State:
        """Bring the state to ``commit`` (None: an empty branch) and return it."""
        if commit == self.commit:
            return self.state
        root = self._objects.read_tree(self._objects.read_commit_tree(commit)) if commit else {}
        self._advance_root(root)
        self.commit = commit
        return self.state

    # --- the pieces ---

    def _advance_root(self, root: dict[str, Entry]) -> None:
        state = self.state
        old = self._root.entries
        self._root.entries = root

        meta_entry = root.get(META_FILE)
        if meta_entry is None:
            state.meta = Meta()
        elif meta_entry != old.get(META_FILE):
            meta = self._parse(meta_entry.sha, META_FILE, Meta)
            state.meta = meta if isinstance(meta, Meta) else state.meta
            self._set_problem(META_FILE, meta)

        config_entry = root.get(CONFIG_FILE)
        if config_entry is None:
            state.modes = BranchConfig().modes
        elif config_entry != old.get(CONFIG_FILE):
            config = self._parse(config_entry.sha, CONFIG_FILE, BranchConfig)
            state.modes = config.modes if isinstance(config, BranchConfig) else BranchConfig().modes
            self._set_problem(CONFIG_FILE, config)

        self._advance_tasks(root.get(TASKS_DIR))
        self._advance_runners(root.get(RUNNERS_DIR))

    def _set_problem(self, key: str, value: BaseModel | Problem) -> None:
        if isinstance(value, Problem):
            self.state.problems[key] = value
        else:
            self.state.problems.pop(key, None)

    def _advance_tasks(self, entry: Entry | None) -> None:
        sha = entry.sha if entry and entry.is_tree else None
        if sha == self._tasks.sha:
            return
        shards = self._objects.read_tree(sha) if sha else {}
        self._tasks = _Dir(sha, shards)
        for name in set(self._shards) | set(shards):
            new = shards.get(name)
            new_sha = new.sha if new and new.is_tree else None
            old = self._shards.get(name, _Dir())
            if new_sha == old.sha:
                continue
            files = self._objects.read_tree(new_sha) if new_sha else {}
            self._advance_shard(name, old.entries, files)
            if new_sha:
                self._shards[name] = _Dir(new_sha, files)
            else:
                self._shards.pop(name, None)

    def _advance_shard(self, shard: str, old: dict[str, Entry], new: dict[str, Entry]) -> None:
        state = self.state
        for name in set(old) - set(new):
            task_id = name.removesuffix(".json")
            state.remove_task(task_id)
            state.problems.pop(task_id, None)
        for name, entry in new.items():
            if old.get(name) == entry:
                continue
            path = f"{TASKS_DIR}/{shard}/{name}"
            task_id = name.removesuffix(".json")
            parsed = self._parse(entry.sha, path, Task) if not entry.is_tree else Problem(path, "is a directory")
            if isinstance(parsed, Task) and (parsed.id != task_id or task_shard(task_id) != shard):
                parsed = Problem(path, f"holds task '{parsed.id}', which belongs at tasks/{task_shard(parsed.id)}/")
            if isinstance(parsed, Task):
                state.put_task(parsed)
            else:
                state.remove_task(task_id)
                state.problems[task_id] = parsed

    def _advance_runners(self, entry: Entry | None) -> None:
        sha = entry.sha if entry and entry.is_tree else None
        if sha == self._runners.sha:
            return
        old = self._runners.entries
        files = self._objects.read_tree(sha) if sha else {}
        self._runners = _Dir(sha, files)
        for name in set(old) - set(files):
            self.state.runners.pop(name.removesuffix(".json"), None)
            self.state.problems.pop(f"{RUNNERS_DIR}/{name}", None)
        for name, file in files.items():
            if old.get(name) == file:
                continue
            path = f"{RUNNERS_DIR}/{name}"
            parsed = self._parse(file.sha, path, Runner)
            self._set_problem(path, parsed)
            if isinstance(parsed, Runner):
                self.state.runners[parsed.name] = parsed

    # --- building the next tree ---

    def tree_with(self, files: dict[str, bytes]) -> tuple[str, dict[str, str]]:
        """Write the tree of the current commit with ``files`` (path -> content) replaced.

        Returns the new root tree id and the blob id of each written file.

        Only the directories on the changed paths are rewritten; everything else is reused by id.
        """
        objects = self._objects
        root = dict(self._root.entries)
        blob_ids: dict[str, str] = {}
        by_dir: dict[str, dict[str, bytes]] = {}
        for path, data in files.items():
            blob_ids[path] = objects.write("blob", data)
            folder, _, name = path.rpartition("/")
            by_dir.setdefault(folder, {})[name] = data

        def blob(data: bytes) -> Entry:
            return Entry(objects.write("blob", data), is_tree=False)

        for name, data in by_dir.pop("", {}).items():
            root[name] = blob(data)
        runner_files = by_dir.pop(RUNNERS_DIR, None)
        if runner_files:
            entries = dict(self._runners.entries)
            entries.update({name: blob(data) for name, data in runner_files.items()})
            root[RUNNERS_DIR] = Entry(objects.write_tree(entries), is_tree=True)
        shard_files = {k.split("/", 1)[1]: v for k, v in by_dir.items() if k.startswith(TASKS_DIR + "/")}
        unknown = set(by_dir) - {f"{TASKS_DIR}/{s}" for s in shard_files}
        if unknown:
            raise ValueError(f"cannot write files under {sorted(unknown)}")
        if shard_files:
            shards = dict(self._tasks.entries)
            for shard, shard_content in shard_files.items():
                entries = dict(self._shards.get(shard, _Dir()).entries)
                entries.update({name: blob(data) for name, data in shard_content.items()})
                shards[shard] = Entry(objects.write_tree(entries), is_tree=True)
            root[TASKS_DIR] = Entry(objects.write_tree(shards), is_tree=True)
        return objects.write_tree(root), blob_ids
