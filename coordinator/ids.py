"""Names of things on the state branch: task ids, runner names, capability names, and where files live."""

from __future__ import annotations

import hashlib
import re

_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")

#: Shards of the tasks directory: a claim rewrites one small shard tree, never one huge directory.
SHARD_HEX_DIGITS = 2


def check_name(kind: str, value: str) -> str:
    """Validate a task id, runner name or capability; returns it or raises ``ValueError``.

    Names become file names on the state branch, so they are lower-case, portable (Windows too) and short.
    """
    if not _NAME.fullmatch(value) or value.endswith(".") or ".." in value:
        raise ValueError(
            f"invalid {kind} '{value}': use 1-100 characters a-z, 0-9, '.', '_', '-', starting with a letter or digit"
        )
    return value


def task_shard(task_id: str) -> str:
    """The fan-out directory of a task (two hex digits of the SHA-1 of its id)."""
    return hashlib.sha1(task_id.encode(), usedforsecurity=False).hexdigest()[:SHARD_HEX_DIGITS]


def task_path(task_id: str) -> str:
    """Path of a task's file on the state branch."""
    return f"tasks/{task_shard(task_id)}/{task_id}.json"


def runner_path(name: str) -> str:
    """Path of a runner's heartbeat file on the state branch."""
    return f"runners/{name}.json"
