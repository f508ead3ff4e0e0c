"""A pipeline run that reports to GitHub (``runs/<run-id>.json``): the issue its one tracking comment lives on,
that comment, and whether it must be updated (an outbox on the state branch, like a task's pending deliveries).

The run's summary itself is never stored here: it is computed from the run's phase tasks
(:mod:`coordinator.core.pipeline_runs`), so the record and the tasks cannot disagree.
"""

from __future__ import annotations

from pydantic import Field

from coordinator.models.base import StateModel, TaskId, UtcDateTime


class RunReport(StateModel):
    """Where a pipeline run reports, and what is still to be told."""

    run: TaskId = Field(description="The run's id, pipe-<pipeline>-<n>.")
    pipeline: TaskId = Field(description="The pipeline's name.")
    issue: int = Field(ge=1, description="The issue on which the run keeps its one tracking comment.")
    comment_id: int | None = Field(default=None, description="The tracking comment, once made.")
    pending: bool = Field(default=True, description="The comment must be created or updated.")
    delivered_digest: str | None = Field(default=None, description="SHA-256 of the text last posted.")
    attempts: int = Field(default=0, ge=0, description="Failed tries in a row since the last success.")
    retry_at: UtcDateTime | None = Field(default=None, description="Not tried again before then (backoff).")
    last_error: str | None = Field(default=None, max_length=2_000, description="Why the last try failed.")
    creating_by: str | None = Field(
        default=None, max_length=200, description="The process that may create the comment (its window)."
    )
    creating_until: UtcDateTime | None = Field(default=None, description="When that creation window lapses.")
    updated_at: UtcDateTime | None = None
