"""``coordinator gc``'s transition: move ended tasks off the live tree into a pack of the archive. Pure.

Which ended tasks may go (``archivable``): succeeded, failed or cancelled, last changed before ``now - older_than``
(at least a day, so today's spend and a daily budget never lose an attempt), with nothing left to tell GitHub, and
nothing that stays live pointing at them: a task that stays depends on none of them (a dependency must stay
readable by the scheduler, and a retried dependent would wait forever), and an issue's task goes together with all
its follow-ups (they share its pull request and tracking comment) or not at all.

One batch (``archive_batch``) is one commit: the tasks' files are deleted from ``tasks/``, one new pack holds them,
and the index shards of their ids are rewritten. Run concurrently, the loser of the push race computes the batch
again on the newer state, where those tasks are gone: nothing is archived twice, nothing lost.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from coordinator.core.archive_layout import ARCHIVE_DIR, PACK_SUFFIX, Archived, format_index, index_path, shard
from coordinator.core.run_reports import RUNS
from coordinator.core.run_reports import reports as reports_of
from coordinator.core.state import State
from coordinator.core.transitions.change import Change
from coordinator.errors import UsageError
from coordinator.models import Task

#: Tasks that changed more recently stay live: today's spend (STATUS.md, daily budgets) is counted from them.
MIN_AGE = timedelta(days=1)
DEFAULT_AGE = timedelta(days=7)
#: The most tasks one commit moves: a bounded pack and a bounded commit, however much is waiting.
BATCH_LIMIT = 500
_IDS_IN_MESSAGE = 5


@dataclass(frozen=True)
class GcRequest:
    """What ``gc`` archives: tasks ended (last changed) more than ``older_than`` ago, at most ``limit`` per commit."""

    older_than: timedelta = DEFAULT_AGE
    limit: int = BATCH_LIMIT


def check_request(request: GcRequest) -> GcRequest:
    """``request`` if it is sane, else a ``UsageError`` saying what to pass instead."""
    if request.older_than < MIN_AGE:
        raise UsageError(
            "--older-than must be at least 1d: tasks that changed today count in today's spend and the daily "
            "budget, so they stay live; e.g. coordinator gc --older-than 7d"
        )
    if request.limit < 1:
        raise UsageError(f"the batch limit must be at least 1, not {request.limit}")
    return request


def _family(task: Task) -> str:
    """The issue task a follow-up belongs to, the plan a child belongs to (its own id otherwise): a family is
    archived whole or not at all."""
    if task.follow_up is not None:
        return task.follow_up.of
    return task.parent or task.id


def _eligible(task: Task, cutoff: datetime) -> bool:
    pending = task.github is not None and (task.github.pending or task.github.creating_by)
    return task.is_terminal and task.updated_at <= cutoff and not pending


def archivable(state: State, now: datetime, older_than: timedelta) -> list[Task]:
    """The ended tasks that may be archived now, oldest first (see the module's docstring for the rules)."""
    cutoff = now - older_than
    chosen = {t.id for t in state.tasks.values() if _eligible(t, cutoff)}
    return _closed(state, chosen, state.tasks.values())


def _closed(state: State, chosen: set[str], tasks: Iterable[Task]) -> list[Task]:
    """``chosen`` without every task that something staying live still needs, until nothing changes."""
    families: dict[str, list[str]] = defaultdict(list)
    with_dependencies: list[Task] = []
    for task in tasks:
        families[_family(task)].append(task.id)
        if task.depends_on:
            with_dependencies.append(task)
    changed = True
    while changed:
        changed = False
        for members in families.values():
            if any(m in chosen for m in members) and not all(m in chosen for m in members):
                chosen.difference_update(members)
                changed = True
        for task in with_dependencies:
            if task.id not in chosen and any(dep in chosen for dep in task.depends_on):
                chosen.difference_update(task.depends_on)
                changed = True
    return sorted((state.tasks[i] for i in chosen), key=lambda t: (t.updated_at, t.id))


def pack_content(tasks: Iterable[Task]) -> bytes:
    """A pack: every task as one line of JSON (the same fields as its file in ``tasks/``), sorted by id."""
    lines = [task.model_dump_json(exclude_none=True) for task in sorted(tasks, key=lambda t: t.id)]
    return ("\n".join(lines) + "\n").encode()


def pack_path(content: bytes, now: datetime) -> str:
    """Where a new pack goes: its month, its time, and a digest of its content (two batches never collide)."""
    digest = hashlib.sha1(content, usedforsecurity=False).hexdigest()[:10]
    return f"{ARCHIVE_DIR}/{now:%Y-%m}/{now:%Y%m%dT%H%M%SZ}-{digest}{PACK_SUFFIX}"


def archive_batch(state: State, request: GcRequest, now: datetime) -> Change:
    """Archive up to ``request.limit`` archivable tasks, oldest first, in one change (empty when none is)."""
    candidates = archivable(state, now, request.older_than)
    if len(candidates) > request.limit:
        # A cut may split a family or a dependency: close the batch again so it holds only what may go alone.
        candidates = _closed(state, {t.id for t in candidates[: request.limit]}, state.tasks.values())
    reports = _finished_reports(state, {t.id for t in candidates})
    dropped = tuple((RUNS, run) for run in reports)
    if not candidates:
        if dropped:
            return Change(
                message=f"gc: drop {len(dropped)} delivered run report(s) ({', '.join(reports)})", deletes=dropped
            )
        return Change(message="gc: nothing to archive")
    content = pack_content(candidates)
    pack = pack_path(content, now)
    return Change(
        message=_message(candidates, pack, now - request.older_than),
        deletes=(*(("tasks", t.id) for t in candidates), *dropped),
        files=((pack, content), *_index_files(state, candidates, pack)),
    )


def _finished_reports(state: State, leaving: set[str]) -> list[str]:
    """The runs whose tracking comment is delivered and none of whose phases stays live: their report records
    go with their phases (the comment on GitHub stays; ``pipeline show`` reads the archived phases)."""
    live = {t.run for t in state.tasks.values() if t.run is not None and t.id not in leaving}
    return [r.run for r in reports_of(state) if not r.pending and r.run not in live]


def _index_files(state: State, tasks: list[Task], pack: str) -> list[tuple[str, bytes]]:
    """The rewritten index shards of the archived ids: what each held, plus the new entries."""
    touched: dict[str, dict[str, Archived]] = defaultdict(dict)
    for task in tasks:
        touched[shard(task.id)][task.id] = Archived(task.id, task.status.value, pack)
    for entry in state.archived.values():
        name = shard(entry.task_id)
        if name in touched:
            touched[name].setdefault(entry.task_id, entry)
    return [(index_path(name), format_index(entries.values())) for name, entries in sorted(touched.items())]


def _message(tasks: list[Task], pack: str, cutoff: datetime) -> str:
    ids = ", ".join(t.id for t in tasks[:_IDS_IN_MESSAGE]) + (", …" if len(tasks) > _IDS_IN_MESSAGE else "")
    return f"gc: archive {len(tasks)} task(s) ended before {cutoff:%Y-%m-%d %H:%M} UTC into {pack} ({ids})"


def parse_age(text: str) -> timedelta:
    """``7d``, ``36h``, ``2w`` as a duration, or ``ValueError`` with the forms accepted."""
    units = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    number, unit = text.strip()[:-1], text.strip()[-1:].lower()
    if unit not in units or not number.isdigit() or len(number) > 6:
        raise ValueError(f"'{text}' is not an age: use a number and a unit, e.g. 7d, 36h or 2w")
    return timedelta(seconds=int(number) * units[unit])
