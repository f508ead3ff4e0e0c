"""``coordinator pipeline``: multi-phase pipelines kept on the state branch (set, list, show, run)."""

from __future__ import annotations

import json
import tomllib
from typing import Any

import click

from coordinator.cli.app import actor, cli, echo_json, read_text_option, state_options, store_for, usage_error


@cli.group(name="pipeline")
def pipeline_group() -> None:
    """Pipelines: ordered phases (each a task template with mode, timeout, retries, criticality), run as
    dependent tasks pipe-<name>-<n>-<phase>."""


@pipeline_group.command(name="set")
@click.argument("name")
@click.option("--file", "source", type=click.File("rb"), required=True, help="The definition: TOML or JSON.")
@click.pass_context
def set_cmd(ctx: click.Context, name: str, source: Any) -> None:
    """Keep the pipeline NAME as defined in FILE (replacing its definition; its run count stays)."""
    from pydantic import ValidationError

    from coordinator.core.transitions.pipelines import set_pipeline
    from coordinator.models import Pipeline
    from coordinator.store.snapshot import describe_error

    text = read_text_option(source, "--file")
    data = _parsed(text, getattr(source, "name", ""))
    try:
        pipeline = Pipeline.model_validate({**data, "name": name})
    except ValidationError as exc:
        usage_error(f"--file {getattr(source, 'name', '-')}: {describe_error(exc)}")
    who = actor()
    with store_for(ctx) as store:
        change = store.update(lambda s, now: set_pipeline(s, pipeline=pipeline, by=who, now=now))
    click.echo(change.message)


def _parsed(text: str, name: str) -> dict[str, Any]:
    """A definition file's content: JSON when it looks like JSON (or is named .json), else TOML."""
    try:
        looks_json = name.endswith(".json") or text.lstrip().startswith("{")
        data = json.loads(text) if looks_json else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        usage_error(f"--file {name or '-'}: not valid TOML or JSON: {exc}")
    if not isinstance(data, dict):
        usage_error(f"--file {name or '-'}: the definition must be a table/object with 'phases'")
    return data


@pipeline_group.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_cmd(ctx: click.Context, as_json: bool) -> None:
    """The pipelines on the branch, with their phases and run counts."""
    from coordinator.models import Pipeline
    from coordinator.text import table, terminal_safe

    with store_for(ctx) as store:
        found = sorted(
            (p for p in store.read().records.get("pipelines", {}).values() if isinstance(p, Pipeline)),
            key=lambda p: p.name,
        )
    if as_json:
        echo_json([p.model_dump(mode="json") for p in found])
        return
    if not found:
        click.echo("no pipeline yet: add one with 'coordinator pipeline set NAME --file pipeline.toml'")
        return
    rows = [(p.name, " -> ".join(ph.name for ph in p.phases), str(p.runs), terminal_safe(p.description)) for p in found]
    click.echo(table(("PIPELINE", "PHASES", "RUNS", "DESCRIPTION"), rows))


@pipeline_group.command(name="show")
@click.argument("name")
@click.option("--run", "number", type=click.IntRange(1), help="The run to show (default: the latest).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def show_cmd(ctx: click.Context, name: str, number: int | None, as_json: bool) -> None:
    """The pipeline's phases, and a run's summary: each phase with outcome, attempts, duration and cost."""
    from coordinator.cli.render import run_summary_text
    from coordinator.cli.run_comment import report_line
    from coordinator.core.pipeline_runs import run_summary
    from coordinator.core.run_reports import report_of
    from coordinator.core.transitions.pipelines import pipeline_of

    with store_for(ctx) as store:
        state = store.read()
    pipeline = pipeline_of(state, name)
    which = number or pipeline.runs
    summary = run_summary(state, f"pipe-{name}-{which}") if which else None
    report = report_of(state, f"pipe-{name}-{which}") if which else None
    if as_json:
        shown = _summary_json(summary)
        if shown is not None:
            shown["github"] = report.model_dump(mode="json", exclude_none=True) if report is not None else None
        echo_json({"pipeline": pipeline.model_dump(mode="json"), "run": shown})
        return
    click.echo(run_summary_text(pipeline, summary))
    line = report_line(report) if summary is not None else None
    if line is not None:
        click.echo(line)


def _summary_json(summary: Any) -> dict[str, Any] | None:
    if summary is None:
        return None
    phases = [
        {
            "task": p.task.id,
            "status": p.task.status.value,
            "critical": p.task.critical,
            "attempts": p.attempts,
            "seconds": round(p.seconds, 3),
            "cost_usd": round(p.cost_usd, 6),
            "reason": p.task.status_reason,
        }
        for p in summary.phases
    ]
    return {"run": summary.run, "status": summary.status, "cost_usd": round(summary.cost_usd, 6), "phases": phases}


@pipeline_group.command(name="run")
@click.argument("name")
@click.option("--runner", help="Run every phase on this runner (default: where each phase says, else anywhere).")
@click.option(
    "--issue",
    type=click.IntRange(1),
    help="The GitHub issue on which this run keeps one tracking comment (default: the definition's 'issue').",
)
@click.pass_context
def run_cmd(ctx: click.Context, name: str, runner: str | None, issue: int | None) -> None:
    """Start a run of the pipeline NAME: its phases are queued as dependent tasks. With an issue (and a GitHub
    token), the run's tracking comment is posted there at once and kept current by the runners."""
    from coordinator.cli.run_comment import post_run_comment
    from coordinator.core.transitions.pipelines import run_pipeline

    who = actor()
    with store_for(ctx) as store:
        change = store.update(lambda s, now: run_pipeline(s, name=name, by=who, now=now, runner=runner, issue=issue))
        click.echo(change.message)
        post_run_comment(store, change)


for _command in pipeline_group.commands.values():  # the global options after the subcommand too
    _command.params += state_options()
