"""JSON Schemas of the state-branch files, generated from the models.

``python -m coordinator.schemas state/schemas`` rewrites the committed copies; a test fails when they drift.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from coordinator.models import (
    AttemptResult,
    BranchConfig,
    DailySpend,
    Meta,
    NamedLock,
    Pipeline,
    PlanFile,
    Runner,
    RunReport,
    Schedule,
    Task,
)

#: file name -> (model, which state-branch file it describes)
SCHEMAS: dict[str, tuple[type[BaseModel], str]] = {
    "task.schema.json": (Task, "tasks/<2 hex>/<task-id>.json"),
    "runner.schema.json": (Runner, "runners/<name>.json"),
    "lock.schema.json": (NamedLock, "locks/<name>.json"),
    "pipeline.schema.json": (Pipeline, "pipelines/<name>.json"),
    "plan.schema.json": (PlanFile, ".coordinator/plan.json that a plan task's planning attempt writes"),
    "schedule.schema.json": (Schedule, "schedules/<name>.json"),
    "meta.schema.json": (Meta, "meta.json"),
    "config.schema.json": (BranchConfig, "config.json"),
    "attempt-result.schema.json": (AttemptResult, "the --result-file of 'coordinator complete' and 'fail'"),
    "spend.schema.json": (DailySpend, "spend/<YYYY-MM-DD>.json"),
    "run.schema.json": (RunReport, "runs/<run-id>.json"),
}


def render(model: type[BaseModel], describes: str) -> str:
    """The schema text of one model, stable across runs."""
    schema = model.model_json_schema(mode="serialization")
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": f"Generated from coordinator.models.{model.__name__}; describes {describes}. "
        "Do not edit: run 'python -m coordinator.schemas state/schemas'.",
        **schema,
    }
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_all(folder: Path) -> list[Path]:
    """Write every schema into ``folder``; returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (model, describes) in SCHEMAS.items():
        path = folder / name
        path.write_text(render(model, describes), encoding="utf-8", newline="\n")
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_all(Path(sys.argv[1] if len(sys.argv) > 1 else "state/schemas")):
        print(written_path)
