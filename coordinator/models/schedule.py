"""Recurring tasks: one file ``schedules/<name>.json`` per schedule on the state branch."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field

from coordinator.cron import check_cron, check_zone_name
from coordinator.ids import check_name
from coordinator.models.base import Capability, StateModel, Title, UtcDateTime
from coordinator.models.priority import Priority

#: The longest schedule name: its tasks are ``sched-<name>-<YYYYMMDDtHHMM>``, and a task id is at most 100
#: characters.
MAX_SCHEDULE_NAME_CHARS = 80
#: How many of the latest slots a schedule remembers as enqueued (older ones can never be due again).
REMEMBERED_SLOTS = 20


def check_schedule_name(value: str) -> str:
    """A schedule name: a task id's characters, at most :data:`MAX_SCHEDULE_NAME_CHARS`; ``ValueError`` else."""
    check_name("schedule name", value)
    if len(value) > MAX_SCHEDULE_NAME_CHARS:
        raise ValueError(
            f"the schedule name is {len(value)} characters long: use at most {MAX_SCHEDULE_NAME_CHARS} "
            "(it becomes part of its tasks' ids)"
        )
    return value


ScheduleName = Annotated[str, AfterValidator(check_schedule_name)]
CronExpression = Annotated[str, AfterValidator(check_cron)]
ZoneName = Annotated[str, AfterValidator(check_zone_name)]


class Schedule(StateModel):
    """A task to enqueue at every occurrence of a cron expression (``coordinator schedule add``)."""

    name: ScheduleName
    cron: CronExpression = Field(
        description="Five fields (minute hour day-of-month month day-of-week) or an alias such as @daily, read "
        "in `timezone`."
    )
    timezone: ZoneName = Field(default="UTC", description="The IANA time zone the expression is read in.")
    title: Title
    body: str = ""
    mode: str | None = Field(default=None, description="Mode of its tasks; none: the branch's default mode then.")
    priority: Priority = Priority.MEDIUM
    requires: list[Capability] = Field(default_factory=list, description="Capabilities a runner must have.")
    pipeline: str | None = Field(
        default=None, description="A pipeline to run at each occurrence instead of one task (its phases' tasks)."
    )
    created_at: UtcDateTime = Field(description="Occurrences before this are never enqueued.")
    created_by: str = Field(default="unknown", description="Who added it (its tasks' source actor).")
    enqueued: list[UtcDateTime] = Field(
        default_factory=list,
        description="The latest slots enqueued, oldest first (at most 20): a slot is enqueued once, even after "
        "its task was archived.",
    )

    def remembers(self, slot: datetime) -> bool:
        """True when ``slot`` was enqueued already."""
        return slot in self.enqueued


def schedule_task_id(name: str, slot_key: str) -> str:
    """The id of the task of one occurrence: ``sched-<name>-<slot>`` (the idempotency key of ``tick``)."""
    return f"sched-{name}-{slot_key}"
