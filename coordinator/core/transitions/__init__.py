"""Pure state transitions: functions of ``(state, request, now)`` that return a ``Change``.

A transition never mutates the state and performs no I/O; the store commits the returned change atomically
(one commit, compare-and-swap push) or, when another writer won the race, calls the transition again on the
newer state. Invariants kept here: at most one live lease per task, attempts only grow, and no automatic
transition leaves a terminal status (only an explicit ``retry`` revives a failed or cancelled task), except a task
cancelled only because its dependency ended badly: it waits again once that dependency is retried or succeeds.
"""

from coordinator.core.transitions.change import Change, Transition, require_mode
from coordinator.core.transitions.leases import claim, renew, requeue_expired
from coordinator.core.transitions.results import complete, fail, release
from coordinator.core.transitions.runners import heartbeat, set_modes, with_heartbeat
from coordinator.core.transitions.tasks import SubmitRequest, cancel, retry, submit

__all__ = [
    "Change",
    "SubmitRequest",
    "Transition",
    "cancel",
    "claim",
    "complete",
    "fail",
    "heartbeat",
    "release",
    "renew",
    "requeue_expired",
    "require_mode",
    "retry",
    "set_modes",
    "submit",
    "with_heartbeat",
]
