"""Where archived tasks live on the state branch, and the index that says which pack holds each one.

Layout (``coordinator gc`` writes it, one compare-and-swap commit per batch)::

    archive/<yyyy-mm>/<yyyymmddTHHMMSSZ>-<10 hex>.jsonl   one pack per batch: the archived tasks, one JSON per line
    archive/index/<1 hex>.tsv                             <task id> TAB <status> TAB <pack path>, one line per task

Packs are written once and never rewritten, so the branch's history grows by what is archived and nothing more.
The index is sharded by the first hex digit of the SHA-1 of the id (16 files): a batch rewrites only the shards
of the ids it archives, and a reader re-reads only the shards whose blob ids changed. Every claim's push walks
every entry of the old tree (the remote's connectivity check marks it uninteresting recursively), so the archive
is kept to few entries: 16 index files and one pack per batch, instead of one file per task (10,000 archived task
files cost a claim as much as 10,000 live ones). 16 rather than 256 shards: 256 index files alone measured about
half a millisecond of the remote's CPU per push; a shard holds about 25 KB of index per 10,000 archived tasks.

Pure: no I/O; the store reads and writes these paths (:mod:`coordinator.store.archive`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

ARCHIVE_DIR = "archive"
INDEX_DIR = f"{ARCHIVE_DIR}/index"
INDEX_SUFFIX = ".tsv"
PACK_SUFFIX = ".jsonl"
_SHARD_HEX_DIGITS = 1


@dataclass(frozen=True)
class Archived:
    """An archived task as the index names it: its id, the status it ended with, and the pack that holds it."""

    task_id: str
    status: str
    pack: str


def shard(task_id: str) -> str:
    """The index shard of a task id: the first hex digit of the SHA-1 of the id."""
    data = task_id.encode("utf-8", "surrogateescape")
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()[:_SHARD_HEX_DIGITS]


def index_path(shard_name: str) -> str:
    """Path of one index shard on the branch."""
    return f"{INDEX_DIR}/{shard_name}{INDEX_SUFFIX}"


def format_index(entries: Iterable[Archived]) -> bytes:
    """The content of an index shard: one tab-separated line per task, sorted by id."""
    lines = [f"{e.task_id}\t{e.status}\t{e.pack}\n" for e in sorted(entries, key=lambda e: e.task_id)]
    return "".join(lines).encode("utf-8", "surrogateescape")


def parse_index(data: bytes) -> tuple[list[Archived], list[str]]:
    """The entries of an index shard, and a one-line reason for each line that is not ``id TAB status TAB pack``."""
    entries: list[Archived] = []
    bad: list[str] = []
    text = data.decode("utf-8", "surrogateescape")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 3 or not all(fields) or not fields[2].startswith(f"{ARCHIVE_DIR}/"):
            bad.append(f"line {number} is not '<task id> TAB <status> TAB archive/<pack>'")
            continue
        entries.append(Archived(task_id=fields[0], status=fields[1], pack=fields[2]))
    return entries, bad
