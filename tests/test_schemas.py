"""The committed JSON Schemas in state/schemas match the models, and real files validate against them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coordinator.schemas import SCHEMAS, render

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "state" / "schemas"


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_committed_schema_matches_the_model(name: str) -> None:
    model, describes = SCHEMAS[name]
    committed = (SCHEMA_DIR / name).read_text(encoding="utf-8")
    assert committed == render(model, describes), (
        f"state/schemas/{name} is out of date: run 'python -m coordinator.schemas state/schemas' and commit it"
    )


def test_every_schema_file_is_generated() -> None:
    assert sorted(p.name for p in SCHEMA_DIR.glob("*.json")) == sorted(SCHEMAS)


def test_schemas_allow_unknown_fields_and_list_every_status() -> None:
    from coordinator.models import TaskStatus

    task = json.loads((SCHEMA_DIR / "task.schema.json").read_text())
    assert task["additionalProperties"] is True  # files from newer versions stay valid
    assert task["$defs"]["TaskStatus"]["enum"] == [s.value for s in TaskStatus]
    assert {"id", "title", "created_at", "updated_at"} <= set(task["required"])


def test_files_written_on_a_real_branch_validate_against_the_schemas(store: object, remote_path: Path) -> None:
    from datetime import timedelta

    import jsonschema

    from coordinator.core import transitions as T
    from coordinator.models import Runner
    from coordinator.store.layout import task_path
    from tests.gitutil import read_branch_file

    store.update(lambda s, now: T.submit(s, T.SubmitRequest(title="x", deadline=now), now))  # type: ignore[attr-defined]
    store.update(  # type: ignore[attr-defined]
        lambda s, now: T.claim(
            s,
            runner="r1",
            capabilities=(),
            lease_ttl=timedelta(minutes=1),
            now=now,
            heartbeat=Runner(name="r1", last_heartbeat=now),
        )
    )
    for path, schema in (
        (task_path("task-1"), "task.schema.json"),
        ("runners/r1.json", "runner.schema.json"),
        ("meta.json", "meta.schema.json"),
        ("config.json", "config.schema.json"),
    ):
        instance = json.loads(read_branch_file(remote_path, path))
        jsonschema.validate(instance, json.loads((SCHEMA_DIR / schema).read_text()))
