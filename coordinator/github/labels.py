"""What an issue's labels say about its task: ``priority:high``, ``mode:complex``, ``needs:gpu``, ``pr:none``,
``lock:db``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast, get_args

from coordinator.core.transitions.github import IssueSettings
from coordinator.ids import check_name
from coordinator.models import Priority, PrPolicy

_PR_POLICIES = frozenset(get_args(PrPolicy))


def read_labels(labels: Iterable[str], *, default_pr: PrPolicy = "draft") -> IssueSettings:
    """The settings in ``labels``; the last label of a kind wins, unknown labels are not settings."""
    priority, mode, pr = Priority.MEDIUM, None, default_pr
    requires: list[str] = []
    locks: list[str] = []
    ignored: list[str] = []
    for label in labels:
        kind, _, value = label.partition(":")
        kind, value = kind.strip().lower(), value.strip().lower()
        if kind == "priority" and value in Priority._value2member_map_:
            priority = Priority(value)
        elif kind == "mode" and value:
            mode = value
        elif kind == "needs" and value:
            try:
                requires.append(check_name("capability", value))
            except ValueError:
                ignored.append(label)
        elif kind == "lock" and value:
            try:
                locks.append(check_name("lock name", value))
            except ValueError:
                ignored.append(label)
        elif kind == "pr" and value in _PR_POLICIES:
            pr = cast(PrPolicy, value)
        elif kind in ("priority", "needs", "pr", "mode", "lock"):
            ignored.append(label)
    return IssueSettings(
        priority, mode, tuple(sorted(set(requires))), pr, tuple(ignored), locks=tuple(sorted(set(locks)))
    )
