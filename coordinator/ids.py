"""Names of things: task ids, runner names, capabilities and branch names. One rule each, used everywhere.

Task ids and runner names become file names on the state branch, directory names of worktrees and parts of
git ref names (``coordinator/<task>``), on Windows too; so there is one rule for all of them.
"""

from __future__ import annotations

import re

#: The state branch when none is configured.
DEFAULT_STATE_BRANCH = "coordinator/state"
#: Task branches are ``coordinator/<task id>``.
TASK_BRANCH_PREFIX = "coordinator/"

_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")
# Windows refuses these as file or directory names, with or without an extension ("con.txt" too).
_WINDOWS_DEVICES = frozenset(
    {"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(10)} | {f"lpt{i}" for i in range(10)}
)
_BRANCH_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//")


def check_name(kind: str, value: str) -> str:
    """Validate a task id, runner name or capability; returns it or raises ``ValueError``.

    1-100 characters ``a-z 0-9 . _ -``, starting with a letter or digit, not ending in ``.`` or ``.lock``,
    no ``..``, and not a Windows device name (``con``, ``nul``, ``com1``...).
    """
    if (
        not _NAME.fullmatch(value)
        or value.endswith((".", ".lock"))
        or ".." in value
        or value.split(".", 1)[0] in _WINDOWS_DEVICES
    ):
        raise ValueError(
            f"invalid {kind} {value!r}: use 1-100 characters a-z, 0-9, '.', '_', '-', starting with a letter or "
            "digit (not a Windows device name like 'con' or 'nul')"
        )
    return value


def check_branch(value: str) -> str:
    """Validate a git branch name given by a person (``--branch``); returns it or raises ``ValueError``."""
    if (
        not value
        or value.startswith(("/", "-", "."))
        or value.endswith((".lock", "/", "."))
        or "/." in value
        or _BRANCH_FORBIDDEN.search(value)
    ):
        raise ValueError(f"{value!r} is not a valid branch name (e.g. {DEFAULT_STATE_BRANCH})")
    return value


def task_branch(task_id: str) -> str:
    """The git branch a task's attempts commit to."""
    return TASK_BRANCH_PREFIX + check_name("task id", task_id)
