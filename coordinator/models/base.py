"""What every model of the state branch shares: UTC instants, name rules, titles, the base class."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from coordinator.ids import check_name
from coordinator.text import first_unsafe


def _as_utc(value: datetime) -> datetime:
    # A hand-edited file may hold a time without a zone: take it as UTC, like the CLI does, so that every time
    # in memory compares with every other (and with ``now``).
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: Every instant in the models: timezone-aware, in UTC.
UtcDateTime = Annotated[datetime, AfterValidator(_as_utc)]
#: Names that become file and ref names (one rule: :func:`coordinator.ids.check_name`).
TaskId = Annotated[str, AfterValidator(partial(check_name, "task id"))]
RunnerName = Annotated[str, AfterValidator(partial(check_name, "runner name"))]
Capability = Annotated[str, AfterValidator(partial(check_name, "capability"))]
LockName = Annotated[str, AfterValidator(partial(check_name, "lock name"))]

#: The longest title the model accepts; ``Limits.max_title_chars`` bounds new titles below it.
MAX_TITLE_CHARS = 500


def check_title(value: str) -> str:
    """A task title: one line of visible text, or ``ValueError`` naming the first offending character.

    Control characters (a newline breaks ``show`` and the audit log, ESC starts terminal escapes) and invisible
    formatting characters (bidi overrides, zero-width characters) are refused.
    """
    found = first_unsafe(value)
    if found is not None:
        position, shown = found
        # A lone surrogate is how Python carries a byte of a command-line argument that was not UTF-8.
        not_utf8 = "\ud800" <= value[position] <= "\udfff"
        what = "a byte that is not UTF-8" if not_utf8 else "a control or invisible formatting character"
        raise ValueError(
            f"the title holds {what} ({shown} at position {position + 1}): "
            "a title is one line of visible text; put details in the body"
        )
    return value


#: A task title (see :func:`check_title`).
Title = Annotated[str, Field(min_length=1, max_length=MAX_TITLE_CHARS), AfterValidator(check_title)]

#: Bumped only for incompatible layout changes; additive fields never bump it.
SCHEMA_VERSION = 1


class StateModel(BaseModel):
    """Base of everything stored on the state branch: keeps unknown fields, serialises stably."""

    model_config = ConfigDict(extra="allow", validate_assignment=False, use_enum_values=False)

    def to_json(self) -> bytes:
        """Stable, readable JSON (what is committed to the branch)."""
        return (self.model_dump_json(indent=2, exclude_none=True) + "\n").encode()


def dump(model: BaseModel) -> dict[str, Any]:
    """A JSON-ready dict of a model (for ``--json`` output)."""
    return model.model_dump(mode="json", exclude_none=True)
