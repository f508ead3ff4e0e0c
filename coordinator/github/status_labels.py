"""The labels coordinator sets on issues: which an issue should carry now, and their node ids on GitHub.

A status change is sent as one GraphQL request together with the comment edit (see :mod:`coordinator.github.graphql`),
which needs the labels' node ids, kept in ``meta.json``: ``coordinator init --github`` makes the labels and keeps
their ids (:func:`make_labels`); else the first time a label is set in a repository it goes by REST and by name
(GitHub makes a label it lacks), and the answer's ids are kept for every later change.
"""

from __future__ import annotations

from collections.abc import Mapping

from coordinator.core.deliveries import needs_person, status_label, status_labels
from coordinator.github.api import GitHubAPI
from coordinator.models import GitHubConfig, GitHubLink, Task

#: Colour and description of each status label (by suffix), as people see them in the issue list.
_LOOKS = {
    "queued": ("fbca04", "coordinator: waiting for a runner"),
    "running": ("1d76db", "coordinator: an agent is working on it"),
    "needs-input": ("d876e3", "coordinator: the agent asked a question"),
    "succeeded": ("0e8a16", "coordinator: done; see the tracking comment"),
    "failed": ("b60205", "coordinator: failed; see the tracking comment"),
    "cancelled": ("cccccc", "coordinator: cancelled"),
}


def wanted_labels(task: Task, config: GitHubConfig) -> tuple[set[str], set[str]]:
    """(the labels coordinator wants on ``task``'s issue now, every label coordinator manages there)."""
    person = needs_person(task) is not None and task.follow_up is None
    wanted = {status_label(task, config)} if config.status_labels else set()
    wanted |= {config.needs_human_label} if person else set()
    return wanted, managed(config)


def managed(config: GitHubConfig) -> set[str]:
    """Every label coordinator sets and takes off (the status labels when on, and the needs-human label)."""
    return (status_labels(config) if config.status_labels else set()) | {config.needs_human_label}


def learned(known: Mapping[str, str] | None, answer: Mapping[str, str], ours: set[str]) -> dict[str, str] | None:
    """``known`` with the ids of coordinator's labels in a REST answer (None: nothing new)."""
    found = {name: node for name, node in answer.items() if name in ours and node}
    if not found or all((known or {}).get(name) == node for name, node in found.items()):
        return None
    return {**(known or {}), **found}


def believed_present(link: GitHubLink, config: GitHubConfig) -> set[str]:
    """The labels coordinator last left on the issue (people may have changed them since)."""
    present = {link.status_label} if link.status_label else set()
    return present | ({config.needs_human_label} if link.needs_human else set())


def label_specs(config: GitHubConfig) -> dict[str, tuple[str, str]]:
    """Name → (colour, description) of every label coordinator reads or sets: the trigger and plan labels, the
    status labels (when on) and the needs-human label."""
    specs = {
        config.trigger_label: ("7057ff", "coordinator: hands the issue to an agent (people with write access)"),
        config.plan_label: ("5319e7", "coordinator: the agent splits the issue into a plan of subtasks first"),
        config.needs_human_label: ("e99695", "coordinator: a task failed for good and needs a person"),
    }
    if config.status_labels:
        specs |= {config.status_label_prefix + suffix: looks for suffix, looks in _LOOKS.items()}
    return specs


def make_labels(api: GitHubAPI, repository: str, config: GitHubConfig) -> tuple[dict[str, str], list[str]]:
    """Make every label of :func:`label_specs` the repository lacks: (the node ids of the labels coordinator
    sets, to keep in ``meta.json``; the names made)."""
    ours = managed(config)
    ids: dict[str, str] = {}
    made: list[str] = []
    for name, (color, description) in label_specs(config).items():
        node, new = api.create_label(repository, name, color=color, description=description)
        if name in ours:
            ids[name] = node
        if new:
            made.append(name)
    return ids, made
