"""Named locks across machines: acquire, renew, release and force-release, as pure transitions of
``(state, request, now)``. One holder at a time: a lock is free when nobody holds it, when its holder's time ran
out (``expires_at``), and while no running task needs it (a task's ``locks`` are held while it runs)."""

from __future__ import annotations

from datetime import datetime, timedelta

from coordinator.core.state import State
from coordinator.core.transitions.change import Change, validated
from coordinator.errors import CoordinatorError, UsageError
from coordinator.ids import check_name
from coordinator.models import NamedLock

LOCKS = "locks"


class LockBusy(CoordinatorError):
    """Someone else holds the lock (exit code 3, as ``claim`` finding nothing: a script waits and tries again)."""

    exit_code = 3


def holder(state: State, name: str, now: datetime) -> str | None:
    """Who holds lock ``name`` now (``owner``, or ``task ID on RUNNER``), or None when it is free."""
    held = live_lock(state, name, now)
    if held is not None:
        return held.owner
    for task in state.running_tasks():
        if name in task.locks:
            runner = task.lease.runner if task.lease is not None else "?"
            return f"task {task.id} on {runner}"
    return None


def live_lock(state: State, name: str, now: datetime) -> NamedLock | None:
    """The record of lock ``name`` when it has not expired."""
    record = state.records.get(LOCKS, {}).get(name)
    if isinstance(record, NamedLock) and record.expires_at > now:
        return record
    return None


def acquire(state: State, *, name: str, owner: str, ttl: timedelta, now: datetime) -> Change:
    """Take lock ``name`` for ``owner`` for ``ttl`` (its holder taking it again renews it); ``LockBusy`` when
    someone else holds it. An expired hold is taken over."""
    name = validated(lambda: check_name("lock name", name))
    owner = _checked_owner(owner)
    seconds = int(ttl.total_seconds())
    if not 1 <= seconds <= 7 * 24 * 3600:
        raise UsageError(f"--ttl must be between 1 second and 7 days, not {seconds}s")
    current = holder(state, name, now)
    if current is not None and current != owner:
        raise LockBusy(f"lock {name} is held by {current}: try again later, or wait for it with --wait SECONDS")
    before = live_lock(state, name, now)
    lock = NamedLock(
        name=name,
        owner=owner,
        acquired_at=before.acquired_at if before is not None else now,
        expires_at=now + ttl,
        renewed_at=now if before is not None else None,
        ttl_seconds=seconds,
    )
    expired = state.records.get(LOCKS, {}).get(name)
    took_over = (
        f" (taking over from {expired.owner}, expired)" if isinstance(expired, NamedLock) and before is None else ""
    )
    verb = "renew" if before is not None else "acquire"
    return Change(message=f"{verb} lock {name} by {owner} for {seconds}s{took_over}", records=(lock,))


def release(
    state: State, *, name: str, owner: str, now: datetime, force: bool = False, reason: str | None = None
) -> Change:
    """Give lock ``name`` back. Only its holder may, unless ``force`` (with a ``reason``, kept in the audit log):
    for a lock whose holder is stuck."""
    name = validated(lambda: check_name("lock name", name))
    owner = _checked_owner(owner)
    record = state.records.get(LOCKS, {}).get(name)
    if not isinstance(record, NamedLock):
        return Change(message=f"lock {name} is not held")
    if force:
        if not reason or not reason.strip():
            raise UsageError(f"a forced release needs a reason: coordinator lock release {name} --force --reason TEXT")
        why = " ".join(reason.split())[:200]
        message = f"force-release lock {name} held by {record.owner} by {owner}: {why}"
        return Change(message=message, deletes=((LOCKS, name),))
    if record.owner != owner and record.expires_at > now:
        raise CoordinatorError(
            f"lock {name} is held by {record.owner}, not {owner}: only its holder releases it; if the holder is "
            f"stuck, run 'coordinator lock release {name} --force --reason TEXT'"
        )
    return Change(message=f"release lock {name} by {owner}", deletes=((LOCKS, name),))


def _checked_owner(owner: str) -> str:
    owner = owner.strip()
    if not owner or len(owner) > 100 or not owner.isprintable():
        raise UsageError("--owner must be a name of 1 to 100 printable characters, e.g. --owner deploy-$HOSTNAME")
    return owner
