"""Settings kept on the state branch, shown as a table and changed one ``--set KEY=VALUE`` at a time
(``coordinator github``, ``coordinator plans``, ``coordinator limits``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

import click
from pydantic import BaseModel

from coordinator.cli.app import usage_error

if TYPE_CHECKING:
    from coordinator.core.state import State
    from coordinator.core.transitions.change import Change

M = TypeVar("M", bound=BaseModel)


def assigned(model: type[M], current: M, assignments: tuple[str, ...], *, lists: tuple[str, ...] = ()) -> M:
    """``current`` with each ``KEY=VALUE`` of ``assignments`` applied and validated; a bad key or value is a
    usage error naming what is allowed. Keys in ``lists`` take comma-separated values; an empty value of an
    optional setting unsets it."""
    from pydantic import ValidationError

    from coordinator.store.snapshot import describe_error

    values = current.model_dump(mode="json")
    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        key = key.strip()
        if not sep or key not in values:
            usage_error(f"--set {assignment!r}: use KEY=VALUE with KEY one of {', '.join(values)}")
        if key in lists:
            values[key] = [v.strip() for v in raw.split(",") if v.strip()]
        else:
            optional = not model.model_fields[key].is_required() and model.model_fields[key].default is None
            values[key] = None if optional and not raw.strip() else raw.strip()
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        usage_error(f"--set: {describe_error(exc)}")


def rows(settings: BaseModel) -> list[tuple[str, str]]:
    """(name, value) of every setting, as a person reads them."""
    from coordinator.text import terminal_safe

    return [(name, terminal_safe(_shown(value))) for name, value in settings.model_dump(mode="json").items()]


def _shown(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "(none)"
    if value is None:
        return "(unset)"
    return str(value).lower() if isinstance(value, bool) else str(value)


def show_or_set(
    ctx: click.Context,
    section: str,
    model: type[M],
    assignments: tuple[str, ...],
    *,
    as_json: bool,
    change: Callable[[State, M, str, datetime], Change],
    lists: tuple[str, ...] = (),
    heading: str = "SETTING",
) -> None:
    """The command of one section of ``config.json`` (``github``, ``plans``, ``limits``): apply ``assignments``
    (one commit, by ``change(state, new, who, now)``, saying what changed), then show the section."""
    from coordinator.cli.app import actor, store_for
    from coordinator.cli.render import to_json
    from coordinator.text import table

    with store_for(ctx) as store:
        if assignments:
            new = assigned(model, getattr(store.read().config, section), assignments, lists=lists)
            who = actor()
            made = store.update(lambda state, now: change(state, new, who, now))
            click.echo(made.message)
        current: BaseModel = getattr(store.read().config, section)
    if as_json:
        click.echo(to_json(current.model_dump(mode="json")))
        return
    click.echo(table((heading, "VALUE"), rows(current)))
