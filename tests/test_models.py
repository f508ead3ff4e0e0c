"""The data models: unknown fields survive a round trip at every level, JSON output is stable, ids are checked,
datetimes carry their timezone."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from core_helpers import NOW, TTL, apply, claim, complete, make_task
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from coordinator.core import transitions as tr
from coordinator.core.scheduling import pick_next
from coordinator.core.state import State
from coordinator.models import (
    MAX_TASK_NUMBER,
    Attempt,
    AttemptOutcome,
    BranchConfig,
    Lease,
    Limits,
    Meta,
    Priority,
    Runner,
    RunnerState,
    Source,
    Task,
    TaskStatus,
    Tokens,
    dump,
)

FUTURE = {"added_in_v9": {"nested": [1, "two", {"three": 3.5}], "flag": True}}


def future(name: str) -> dict[str, Any]:
    """Unknown fields a newer coordinator might write, distinct per level."""
    return {f"x_{name}": f"kept {name}", f"x_{name}_obj": {"list": [1, 2, {"deep": name}], "n": 7}}


def task_document() -> dict[str, Any]:
    """A task file as a newer coordinator could write it, with unknown fields at every level."""
    return {
        "id": "task-42",
        "title": "Fix the login bug",
        "body": "Steps...",
        "source": {
            "kind": "github-issue",
            "actor": "octocat",
            "at": "2026-03-01T11:00:00Z",
            "issue": 7,
            **future("source"),
        },
        "group": "issue-7",
        "priority": "high",
        "deadline": "2026-03-02T17:00:00Z",
        "created_at": "2026-03-01T11:00:00Z",
        "updated_at": "2026-03-01T12:05:00Z",
        "mode": "complex",
        "requested_mode": "simple",
        "requires": ["gpu"],
        "depends_on": ["task-41"],
        "max_attempts": 3,
        "round": 0,
        "status": "running",
        "lease": {
            "runner": "runner-b",
            "attempt": 2,
            "acquired_at": "2026-03-01T12:05:00Z",
            "expires_at": "2026-03-01T12:15:00Z",
            **future("lease"),
        },
        "attempts": [
            {
                "number": 1,
                "round": 0,
                "runner": "runner-a",
                "mode": "simple",
                "outcome": "failed",
                "counted": True,
                "reason": "max turns",
                "started_at": "2026-03-01T11:01:00Z",
                "finished_at": "2026-03-01T11:31:00Z",
                "cost_usd": 0.25,
                "tokens": {"input": 10, "output": 20, **future("tokens")},
                **future("attempt1"),
            },
            {
                "number": 2,
                "runner": "runner-b",
                "mode": "complex",
                "started_at": "2026-03-01T12:05:00Z",
                **future("attempt2"),
            },
        ],
        **future("task"),
        **FUTURE,
    }


def runner_document() -> dict[str, Any]:
    return {
        "name": "runner-b",
        "capabilities": ["gpu", "linux"],
        "slots": 2,
        "last_heartbeat": "2026-03-01T12:05:00Z",
        "state": "busy",
        "running": ["task-42"],
        **future("runner"),
    }


def meta_document() -> dict[str, Any]:
    return {"schema_version": 1, "created_at": "2026-01-01T00:00:00Z", "next_task_number": 43, **future("meta")}


def assert_contains(document: Any, written: Any, path: str = "$") -> None:
    """Every key and value of ``document`` is in ``written`` (which may add defaults)."""
    if isinstance(document, dict):
        assert isinstance(written, dict), path
        for key, value in document.items():
            assert key in written, f"{path}.{key} was dropped"
            assert_contains(value, written[key], f"{path}.{key}")
    elif isinstance(document, list):
        assert isinstance(written, list), path
        assert len(document) == len(written), path
        for i, (a, b) in enumerate(zip(document, written, strict=True)):
            assert_contains(a, b, f"{path}[{i}]")
    else:
        assert document == written, f"{path}: {document!r} became {written!r}"


def roundtrip(model: type[Any], document: dict[str, Any]) -> dict[str, Any]:
    parsed = model.model_validate_json(json.dumps(document))
    return json.loads(parsed.to_json())


# -------------------------------------------------------------------------------------------- unknown fields


@pytest.mark.parametrize(
    ("model", "document"),
    [(Task, task_document()), (Runner, runner_document()), (Meta, meta_document())],
    ids=["task", "runner", "meta"],
)
def test_unknown_fields_survive_a_round_trip(model: type[Any], document: dict[str, Any]) -> None:
    written = roundtrip(model, document)
    assert_contains(document, written)
    # And a second round trip changes nothing.
    assert roundtrip(model, written) == written


def test_unknown_fields_are_reachable_on_the_parsed_models() -> None:
    task = Task.model_validate(task_document())
    assert task.model_extra is not None
    assert task.model_extra["x_task"] == "kept task"
    assert task.source.model_extra == future("source")
    assert task.lease is not None
    assert task.lease.model_extra == future("lease")
    assert task.attempts[0].model_extra == future("attempt1")
    assert task.attempts[0].tokens is not None
    assert task.attempts[0].tokens.model_extra == future("tokens")
    assert task.attempts[1].model_extra == future("attempt2")


def test_unknown_fields_of_branch_config_and_modes_survive() -> None:
    document = {
        "modes": {
            "default_mode": "fast",
            "modes": {"fast": {"model": "haiku", "x_temperature": 0.2}},
            **future("modes"),
        },
        **future("config"),
    }
    written = roundtrip(BranchConfig, document)
    assert_contains(document, written)


def test_unknown_fields_survive_transitions() -> None:
    """A file written by a newer coordinator keeps its extra fields when an older one rewrites the task."""
    dep = make_task("task-41", status=TaskStatus.SUCCEEDED)
    document = task_document()
    state = State.build([dep, Task.model_validate(document)])
    later = datetime(2026, 3, 1, 12, 10, tzinfo=UTC)

    apply(state, tr.renew(state, task_id="task-42", runner="runner-b", lease_ttl=TTL, now=later))
    written = json.loads(state.tasks["task-42"].to_json())
    assert written["lease"]["x_lease"] == "kept lease"

    complete(state, "task-42", "runner-b", now=later, summary="done")
    written = json.loads(state.tasks["task-42"].to_json())
    assert written["status"] == "succeeded"
    for key in ("x_task", "x_task_obj", "added_in_v9"):
        assert written[key] == document[key]
    assert_contains(document["source"], written["source"])
    assert_contains(document["attempts"][0], written["attempts"][0])  # untouched attempt
    second = written["attempts"][1]
    assert second["outcome"] == "succeeded"
    assert second["summary"] == "done"
    assert second["x_attempt2"] == "kept attempt2"
    assert second["x_attempt2_obj"] == document["attempts"][1]["x_attempt2_obj"]


def test_unknown_fields_of_a_requeued_and_reclaimed_task_survive() -> None:
    document = task_document()
    document["depends_on"] = []
    document["requires"] = []
    state = State.build([Task.model_validate(document)])
    claimed = claim(state, "runner-c", now=datetime(2026, 3, 1, 13, 0, tzinfo=UTC))
    assert claimed is not None
    written = json.loads(claimed.to_json())
    assert written["x_task"] == "kept task"
    assert written["attempts"][1]["outcome"] == "lease_expired"
    assert written["attempts"][1]["x_attempt2"] == "kept attempt2"
    assert written["attempts"][0]["tokens"]["x_tokens"] == "kept tokens"


# ------------------------------------------------------------------------------------------------ stable JSON


def test_json_output_is_stable() -> None:
    task = Task.model_validate(task_document())
    first = task.to_json()
    assert first == task.to_json()
    assert first.endswith(b"}\n")
    assert first.decode().startswith('{\n  "id": "task-42",\n  "title": ')
    # Parsing and writing again gives the same bytes.
    assert Task.model_validate_json(first).to_json() == first
    # Known fields come in declaration order whatever the order of the input.
    shuffled = dict(reversed(list(task_document().items())))
    keys = list(json.loads(Task.model_validate(shuffled).to_json()))
    known = [k for k in Task.model_fields if k in keys]
    assert keys[: len(known)] == known


def test_json_leaves_out_unset_optional_fields_and_uses_plain_values() -> None:
    task = make_task("task-1", priority=Priority.LOW)
    written = json.loads(task.to_json())
    assert "deadline" not in written
    assert "lease" not in written
    assert "status_reason" not in written
    assert written["priority"] == "low"
    assert written["status"] == "queued"
    assert written["attempts"] == []
    assert dump(task) == written


def test_enums_are_read_back_as_enums() -> None:
    task = Task.model_validate_json(Task.model_validate(task_document()).to_json())
    assert task.priority is Priority.HIGH
    assert task.status is TaskStatus.RUNNING
    assert task.attempts[0].outcome is AttemptOutcome.FAILED
    runner = Runner.model_validate(runner_document())
    assert runner.state is RunnerState.BUSY


@settings(max_examples=50, deadline=None)
@given(
    title=st.text(st.characters(exclude_categories=("Cc", "Cf", "Cs", "Zl", "Zp", "Cn")), min_size=1, max_size=50),
    body=st.text(max_size=100),
    extra=st.dictionaries(
        st.from_regex(r"x_[a-z]{1,8}", fullmatch=True),
        st.recursive(
            st.integers() | st.text(max_size=10) | st.booleans(),
            lambda children: (
                st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
            ),
            max_leaves=6,
        ),
        max_size=3,
    ),
)
def test_round_trip_property(title: str, body: str, extra: dict[str, Any]) -> None:
    task = Task(id="task-1", title=title, body=body, created_at=NOW, updated_at=NOW, **extra)
    first = task.to_json()
    again = Task.model_validate_json(first)
    assert again.to_json() == first
    assert again.title == title
    assert again.body == body
    for key, value in extra.items():
        assert json.loads(first)[key] == value


# ------------------------------------------------------------------------------------------------------- ids


@pytest.mark.parametrize("value", ["a", "task-1", "0", "fix_login.v2", "a-b_c.d", "x" * 100])
def test_valid_ids(value: str) -> None:
    assert make_task(value).id == value
    assert Runner(name=value, last_heartbeat=NOW).name == value
    assert make_task(requires=[value]).requires == [value]


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Task-1",
        "-a",
        ".a",
        "_a",
        "a.",
        "a..b",
        "a/b",
        "../a",
        "a b",
        "a\\b",
        "tâche",
        "x" * 101,
        "a\nb",
        "a\n",
    ],
)
def test_invalid_ids_are_rejected(value: str) -> None:
    with pytest.raises(ValidationError, match="invalid task id"):
        make_task(value)
    with pytest.raises(ValidationError, match="invalid runner name"):
        Runner(name=value, last_heartbeat=NOW)
    with pytest.raises(ValidationError, match="invalid capability"):
        make_task(requires=[value])


def test_invalid_ids_are_rejected_when_read_from_a_file() -> None:
    document = task_document()
    document["id"] = "../../etc/passwd"
    with pytest.raises(ValidationError):
        Task.model_validate_json(json.dumps(document))


@pytest.mark.parametrize(
    ("field", "value"),
    [("title", ""), ("title", "x" * 501), ("max_attempts", 0), ("max_attempts", 101), ("round", -1)],
)
def test_other_task_fields_are_checked(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        make_task(**{field: value})


@pytest.mark.parametrize("title", ["two\nlines", "\x1b]0;pwned\x07", "a\u202eb", "zero\u200bwidth", "tag\U000e0041"])
def test_titles_with_control_or_invisible_characters_are_refused_in_files(title: str) -> None:
    document = task_document()
    document["title"] = title
    with pytest.raises(ValidationError, match="control or invisible formatting character"):
        Task.model_validate_json(json.dumps(document))


@pytest.mark.parametrize("title", ["x" * 500, "Fix: café — naïve 日本語 😀", " padded ", "C:\\path\\file"])
def test_titles_valid_before_stay_valid(title: str) -> None:
    assert make_task(title=title).title == title


def test_the_task_counter_is_bounded() -> None:
    assert Meta(next_task_number=MAX_TASK_NUMBER).next_task_number == 10**9
    with pytest.raises(ValidationError, match="next_task_number"):
        Meta.model_validate_json(json.dumps({"schema_version": 1, "next_task_number": 10**120}))


def test_branch_config_limits_default_and_are_read_from_the_file() -> None:
    old = BranchConfig.model_validate_json('{"modes": {}}')  # a config.json written before limits existed
    assert old.limits == Limits(max_body_bytes=65536, max_title_chars=256)
    assert json.loads(BranchConfig().to_json())["limits"] == {"max_body_bytes": 65536, "max_title_chars": 256}
    raised = BranchConfig.model_validate_json('{"limits": {"max_body_bytes": 1048576, "x_future": 1}}')
    assert raised.limits.max_body_bytes == 1048576
    assert raised.limits.max_title_chars == 256
    assert json.loads(raised.to_json())["limits"]["x_future"] == 1
    with pytest.raises(ValidationError, match="max_title_chars"):
        BranchConfig.model_validate_json('{"limits": {"max_title_chars": 501}}')  # never above the model's bound


def test_attempt_and_lease_numbers_start_at_one() -> None:
    with pytest.raises(ValidationError):
        Attempt(number=0, runner="r", mode="simple")
    with pytest.raises(ValidationError):
        Lease(runner="r", attempt=0, acquired_at=NOW, expires_at=NOW)


# ------------------------------------------------------------------------------------------------- datetimes


def test_datetimes_are_written_in_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    task = make_task(
        created_at=NOW,
        deadline=datetime(2026, 3, 2, 17, 0, tzinfo=plus_two),
        source=Source(at=NOW),
        lease=Lease(runner="r", attempt=1, acquired_at=NOW, expires_at=NOW + TTL),
        attempts=[Attempt(number=1, runner="r", mode="simple", started_at=NOW)],
        status=TaskStatus.RUNNING,
    )
    written = json.loads(task.to_json())
    assert written["created_at"] == "2026-03-01T12:00:00Z"
    assert written["updated_at"] == "2026-03-01T12:00:00Z"
    assert written["deadline"] == "2026-03-02T15:00:00Z"  # the same instant, normalised to UTC
    assert written["source"]["at"] == "2026-03-01T12:00:00Z"
    assert written["lease"]["expires_at"] == "2026-03-01T12:10:00Z"
    assert written["attempts"][0]["started_at"] == "2026-03-01T12:00:00Z"
    runner = Runner(name="r", last_heartbeat=NOW, cooldown_until=NOW)
    assert json.loads(runner.to_json())["last_heartbeat"] == "2026-03-01T12:00:00Z"
    assert json.loads(Meta(created_at=NOW).to_json())["created_at"] == "2026-03-01T12:00:00Z"


def test_datetimes_read_back_as_the_same_instant() -> None:
    plus_two = timezone(timedelta(hours=2))
    deadline = datetime(2026, 3, 2, 17, 0, 0, 123456, tzinfo=plus_two)
    task = make_task(created_at=NOW, deadline=deadline)
    again = Task.model_validate_json(task.to_json())
    assert again.deadline == deadline
    assert again.deadline is not None
    assert again.deadline.utcoffset() == timedelta(0)
    assert again.created_at == NOW
    assert again.created_at.utcoffset() == timedelta(0)


def test_naive_datetimes_in_a_file_are_taken_as_utc() -> None:
    document = {
        "id": "task-1",
        "title": "t",
        "created_at": "2026-03-01T11:00:00",
        "updated_at": "2026-03-01T11:00:00",
        "deadline": "2026-03-02T17:00:00",
    }
    task = Task.model_validate_json(json.dumps(document))
    assert task.created_at.tzinfo is not None
    written = json.loads(task.to_json())
    assert written["deadline"] == "2026-03-02T17:00:00Z"
    assert pick_next(State.build([task]), capabilities=(), now=NOW) is not None


def test_tokens_default_to_zero() -> None:
    assert Tokens() == Tokens(input=0, output=0, cache_read=0, cache_creation=0)
