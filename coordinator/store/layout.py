"""What lives where on the state branch: single files, collections of one-file-per-record, and the README.

The snapshot (reading) and the tree building (writing) are both driven by :data:`COLLECTIONS`, so a new kind of
record (locks, schedules, pipelines, deliveries, an archive) is one more row here, not new reading code.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from pydantic import BaseModel

from coordinator.models import BranchConfig, DailySpend, Meta, NamedLock, Pipeline, Runner, RunReport, Schedule, Task

#: Fan-out of sharded collections: a claim rewrites one small shard tree, never one huge directory.
SHARD_HEX_DIGITS = 2

README_FILE = "README.md"


def shard_of(key: str) -> str:
    """The fan-out directory of a record key (two hex digits of the SHA-1 of the key)."""
    # A name read from a hostile tree may hold bytes that are not UTF-8 (kept as surrogate escapes): hash the
    # bytes it was, rather than fail on the whole branch.
    return hashlib.sha1(key.encode("utf-8", "surrogateescape"), usedforsecurity=False).hexdigest()[:SHARD_HEX_DIGITS]


@dataclass(frozen=True)
class Collection:
    """A directory of JSON files, one per record, named ``<key>.json`` (under ``<2 hex>/`` when sharded)."""

    directory: str
    model: type[BaseModel]
    key_field: str
    kind: str
    sharded: bool = False

    def key_of(self, record: BaseModel) -> str:
        """The record's key (its file name without ``.json``)."""
        return str(getattr(record, self.key_field))

    def path(self, key: str) -> str:
        """Where the record with ``key`` lives."""
        if self.sharded:
            return f"{self.directory}/{shard_of(key)}/{key}.json"
        return f"{self.directory}/{key}.json"


@dataclass(frozen=True)
class SingleFile:
    """One JSON file at the root of the branch."""

    path: str
    model: type[BaseModel]


TASKS = Collection("tasks", Task, key_field="id", kind="task", sharded=True)
RUNNERS = Collection("runners", Runner, key_field="name", kind="runner")
LOCKS = Collection("locks", NamedLock, key_field="name", kind="lock")
PIPELINES = Collection("pipelines", Pipeline, key_field="name", kind="pipeline")
SCHEDULES = Collection("schedules", Schedule, key_field="name", kind="schedule")
#: Pipeline runs that keep a tracking comment on GitHub (see coordinator.core.run_reports).
RUNS = Collection("runs", RunReport, key_field="run", kind="run")
#: One small file per UTC day: what the attempts recorded that day cost (see coordinator.core.spend).
SPEND = Collection("spend", DailySpend, key_field="day", kind="spend")

#: Every collection on the branch.
COLLECTIONS: tuple[Collection, ...] = (TASKS, RUNNERS, LOCKS, PIPELINES, SCHEDULES, RUNS, SPEND)
_BY_DIRECTORY = {c.directory: c for c in COLLECTIONS}
_BY_MODEL = {c.model: c for c in COLLECTIONS}

META = SingleFile("meta.json", Meta)
CONFIG = SingleFile("config.json", BranchConfig)
SINGLE_FILES: tuple[SingleFile, ...] = (META, CONFIG)
_SINGLE_BY_MODEL = {f.model: f for f in SINGLE_FILES}


def collection(directory: str) -> Collection:
    """The collection stored in ``directory`` (``KeyError`` for an unknown one)."""
    return _BY_DIRECTORY[directory]


def path_of(record: BaseModel) -> str:
    """Where a record (task, runner, meta, config...) is stored."""
    single = _SINGLE_BY_MODEL.get(type(record))
    if single is not None:
        return single.path
    for model, found in _BY_MODEL.items():
        if isinstance(record, model):
            return found.path(found.key_of(record))
    raise TypeError(f"{type(record).__name__} is not stored on the state branch")


def task_path(task_id: str) -> str:
    """Path of a task's file on the state branch."""
    return TASKS.path(task_id)


def runner_path(name: str) -> str:
    """Path of a runner's heartbeat file on the state branch."""
    return RUNNERS.path(name)


def branch_readme(branch: str) -> str:
    """The README committed at the root of a new state branch."""
    return f"""# coordinator state branch (`{branch}`)

This branch is written by `coordinator`, one atomic commit at a time. Do not edit it by hand while runners
are active: change it with the `coordinator` CLI (`submit`, `cancel`, `retry`, ...) or from GitHub.

| path | what |
|---|---|
| `meta.json` | schema version and the task id counter |
| `config.json` | shared settings: the modes (model, turns, timeout, budget, permissions, escalation) and limits |
| `tasks/<2 hex>/<task-id>.json` | one file per task (sharded by the SHA-1 of its id) |
| `runners/<name>.json` | one file per runner: capabilities, slots, last heartbeat |
| `pipelines/<name>.json` | one file per pipeline: its phases and how many runs it had |
| `runs/<run-id>.json` | a pipeline run that keeps a tracking comment on a GitHub issue: the comment, pending or not |
| `schedules/<name>.json` | one file per recurring task: cron expression, time zone, the task it enqueues |
| `spend/<YYYY-MM-DD>.json` | what the attempts recorded on that UTC day cost (checked against the daily cap) |
| `STATUS.md` | the queue at a glance, rewritten by every change |
| `archive/` | ended tasks moved off the live tree by `coordinator gc` (packs, and an index by id) |

The history of this branch is the audit log: every commit message says what happened
(`claim task-42 by runner-a, attempt 2 (simple)`). JSON Schemas of every file are in the `state/` folder of
the coordinator repository.
"""
