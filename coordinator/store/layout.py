"""Fixed content of the state branch: the README that explains it to a person browsing the branch."""

from __future__ import annotations


def branch_readme(branch: str) -> str:
    """The README committed at the root of a new state branch."""
    return f"""# coordinator state branch (`{branch}`)

This branch is written by `coordinator`, one atomic commit at a time. Do not edit it by hand while runners
are active: change it with the `coordinator` CLI (`submit`, `cancel`, `retry`, ...) or from GitHub.

| path | what |
|---|---|
| `meta.json` | schema version and the task id counter |
| `config.json` | shared settings: the modes (model, turns, timeout, budget, escalation) |
| `tasks/<2 hex>/<task-id>.json` | one file per task (sharded by the SHA-1 of its id) |
| `runners/<name>.json` | one file per runner: capabilities, slots, last heartbeat |

The history of this branch is the audit log: every commit message says what happened
(`claim task-42 by runner-a, attempt 2 (simple)`). JSON Schemas of every file are in the `state/` folder of
the coordinator repository.
"""
