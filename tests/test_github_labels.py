"""What an issue's labels say about its task (:func:`coordinator.github.labels.read_labels`): priority, mode,
required capabilities and PR policy; the last label of a kind wins; labels that look like settings but are not
valid are reported, never fatal; every other label is no setting at all."""

from __future__ import annotations

import pytest

from coordinator.core.transitions.github import IssueSettings
from coordinator.github.labels import read_labels
from coordinator.models import Priority, PrPolicy


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ((), IssueSettings()),
        (("bug", "claude", "good first issue"), IssueSettings()),
        (("priority:critical",), IssueSettings(priority=Priority.CRITICAL)),
        (("priority:high",), IssueSettings(priority=Priority.HIGH)),
        (("priority:low",), IssueSettings(priority=Priority.LOW)),
        (("Priority: HIGH",), IssueSettings(priority=Priority.HIGH)),
        (("priority:low", "priority:high"), IssueSettings(priority=Priority.HIGH)),
        (("mode:complex",), IssueSettings(mode="complex")),
        (("Mode:Expert",), IssueSettings(mode="expert")),
        (("mode:simple", "mode:expert"), IssueSettings(mode="expert")),
        (("needs:gpu",), IssueSettings(requires=("gpu",))),
        (("needs:GPU", "needs:gpu", "needs:macos"), IssueSettings(requires=("gpu", "macos"))),
        (("needs:x86_64", "needs:linux"), IssueSettings(requires=("linux", "x86_64"))),
        (("pr:none",), IssueSettings(pr_policy="none")),
        (("pr:link",), IssueSettings(pr_policy="link")),
        (("pr:ready",), IssueSettings(pr_policy="ready")),
        (("PR:Draft",), IssueSettings(pr_policy="draft")),
        (("pr:none", "pr:ready"), IssueSettings(pr_policy="ready")),
        (("lock:db",), IssueSettings(locks=("db",))),
        (("lock:DB", "lock:deploy", "lock:db"), IssueSettings(locks=("db", "deploy"))),
        (
            ("claude", "priority:high", "mode:complex", "needs:gpu", "pr:ready", "coordinator:queued"),
            IssueSettings(Priority.HIGH, "complex", ("gpu",), "ready"),
        ),
    ],
)
def test_settings_from_labels(labels: tuple[str, ...], expected: IssueSettings) -> None:
    assert read_labels(labels) == expected


@pytest.mark.parametrize(
    ("label", "why"),
    [
        ("priority:urgent", "not a priority"),
        ("priority:", "no value"),
        ("priority", "no value"),
        ("mode:", "no value"),
        ("needs:", "no value"),
        ("needs:gpu large", "a space"),
        ("needs:-gpu", "starts with '-'"),
        ("needs:con", "a Windows device name"),
        ("needs:a..b", "'..'"),
        ("pr:open", "not a policy"),
        ("lock:", "no value"),
        ("lock:two words", "a space"),
        ("pr:", "no value"),
    ],
)
def test_a_setting_label_that_is_not_valid_is_reported_and_changes_nothing(label: str, why: str) -> None:
    settings = read_labels(["claude", label, "bug"])
    assert settings == IssueSettings(ignored=(label,)), why


def test_an_invalid_label_does_not_undo_a_valid_one_of_its_kind() -> None:
    settings = read_labels(["priority:high", "priority:urgent", "pr:ready", "pr:sometimes", "needs:gpu", "needs:"])
    assert (settings.priority, settings.pr_policy, settings.requires) == (Priority.HIGH, "ready", ("gpu",))
    assert settings.ignored == ("priority:urgent", "pr:sometimes", "needs:")


@pytest.mark.parametrize("default", ["none", "link", "draft", "ready"])
def test_the_branch_default_pr_policy_applies_without_a_pr_label(default: PrPolicy) -> None:
    assert read_labels(["claude"], default_pr=default).pr_policy == default
    assert read_labels(["claude", "pr:link"], default_pr=default).pr_policy == "link"


def test_labels_may_be_any_iterable_and_are_read_once() -> None:
    settings = read_labels(label for label in ["needs:gpu", "priority:low"])
    assert settings == IssueSettings(priority=Priority.LOW, requires=("gpu",))
