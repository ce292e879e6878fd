"""Our platform, in-process: `python -m bench.impl_ours <mode> ...` (run by bench.run).

Modes:
    full      materialize every asset and check over the range in one run, into a fresh home
    oneday    re-run one day over an existing home, `--repeat` times: every asset, or with
              `--new-day` what a new day's landing run builds (the flights calendar, raw to marts)
    overhead  import time and the run time of one trivial asset (Dagster's fixed cost)

Settings come from the environment, as for `make run` (LAKEHOUSE_HOME, LAKEHOUSE_START/END,
DAGSTER_HOME), so the platform is measured exactly as configured for users.
"""

import argparse
import statistics
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

T0 = time.perf_counter()

import dagster as dg  # noqa: E402  (timed: importing dagster is part of the fixed cost)

T_DAGSTER = time.perf_counter()

from lakehouse.definitions import build_resources, defs  # noqa: E402
from lakehouse.runner import materialize_range, range_tags  # noqa: E402
from lakehouse.settings import Settings  # noqa: E402

T_DEFS = time.perf_counter()

import duckdb  # noqa: E402

from bench.marts import MARTS, write_fingerprint  # noqa: E402
from bench.measure import emit  # noqa: E402

FINGERPRINT_SQL = """
SELECT count(*) AS rows,
    count(*) FILTER (WHERE cancelled) AS cancelled,
    count(arr_utc) AS arrivals_utc,
    sum(epoch_ms(dep_utc) // 1000)::BIGINT AS dep_utc_seconds,
    sum(epoch_ms(arr_utc) // 1000)::BIGINT AS arr_utc_seconds,
    count(*) FILTER (WHERE airline_sk = -1) AS unknown_airline,
    count(*) FILTER (WHERE origin_sk = -1) AS unknown_origin,
    count(*) FILTER (WHERE dest_sk = -1) AS unknown_dest,
    count(*) FILTER (WHERE plane_sk = -1) AS unknown_plane
FROM marts.fct_flights
"""


def step_timings(instance: dg.DagsterInstance, run_id: str) -> dict[str, Any]:
    """Per-step durations and the run's start-up and wrap-up, from the event log."""
    starts: dict[str, float] = {}
    steps: dict[str, float] = {}
    run_start = run_end = None
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None:
            continue
        kind = event.event_type
        if kind == dg.DagsterEventType.RUN_START:
            run_start = entry.timestamp
        elif kind in (dg.DagsterEventType.RUN_SUCCESS, dg.DagsterEventType.RUN_FAILURE):
            run_end = entry.timestamp
        elif kind == dg.DagsterEventType.STEP_START and event.step_key:
            starts[event.step_key] = entry.timestamp
        elif kind == dg.DagsterEventType.STEP_SUCCESS and event.step_key:
            steps[event.step_key] = entry.timestamp - starts[event.step_key]
    first_step = min(starts.values()) if starts else None
    return {
        "steps_s": dict(sorted(steps.items(), key=lambda kv: -kv[1])),
        "run_start_ts": run_start,
        "first_step_ts": first_step,
        "run_end_ts": run_end,
    }


def export(settings: Settings, out: Path) -> None:
    """The marts as Parquet and the fact's fingerprint, for the comparison (not timed)."""
    out.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        for name in MARTS:
            con.sql(f"SELECT * FROM marts.{name}").pl().write_parquet(out / f"{name}.parquet")
        fingerprint = con.sql(FINGERPRINT_SQL).pl().row(0, named=True)
    write_fingerprint(out, fingerprint)


def instance_for(kind: str) -> dg.DagsterInstance:
    """The Dagster instance: `home` is DAGSTER_HOME's, as users run it (SQLite for `make run`,
    PostgreSQL in production); `memory` keeps runs and events in memory, to measure what the
    event log costs (experiments only).
    """
    return dg.DagsterInstance.get() if kind == "home" else dg.DagsterInstance.ephemeral()


def new_day_selection() -> dg.AssetSelection:
    """What a new day's landing run builds (`sensors/chain.py`): every asset on the flights
    calendar, raw to marts, with their checks. The reference tables and the dimensions, which a
    day of flights does not change, are left out.
    """
    graph = defs.resolve_asset_graph()
    days = graph.get(dg.AssetKey(["raw", "flights"])).partitions_def
    return dg.AssetSelection.assets(
        *(key for key in graph.materializable_asset_keys if graph.get(key).partitions_def == days)
    )


def run_range(
    start: date,
    end: date,
    instance_kind: str = "home",
    selection: dg.AssetSelection | None = None,
) -> dict[str, Any]:
    """One timed run over [start, end] of the selection (the whole graph by default)."""
    settings = Settings.from_env()
    with instance_for(instance_kind) as instance:
        called = time.time()
        began = time.perf_counter()
        result = materialize_range(
            defs,
            start,
            end,
            instance,
            resources=build_resources(settings),
            selection=selection,
            log_level="WARNING",
        )
        run_s = time.perf_counter() - began
        # The run is complete here: reading its event log back for the step timings below is
        # the bench's own instrumentation (~1.3 s at 50x), not ours.
        result_at = time.perf_counter()
        returned = time.time()
        if not result.success:
            msg = f"run {result.run_id} failed; see the Dagster event log"
            raise SystemExit(msg)
        timings = step_timings(instance, result.run_id)
    checks = {
        f"{e.asset_check_evaluation_data.asset_key.to_user_string()}:"
        f"{e.asset_check_evaluation_data.check_name}": e.asset_check_evaluation_data.passed
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        and e.asset_check_evaluation_data is not None
    }
    first = timings.pop("first_step_ts") or called
    end_ts = timings.pop("run_end_ts") or returned
    timings.pop("run_start_ts")
    step_total = sum(timings["steps_s"].values())
    return {
        "run_s": run_s,
        "result_at": result_at,
        "startup_s": first - called,  # materialize() called -> first step starts
        "between_steps_s": (end_ts - first) - step_total,  # Dagster's work between steps
        "wrapup_s": returned - end_ts,
        "checks": checks,
        **timings,
    }


def trivial_runs(repeat: int) -> list[float]:
    """Run times of one asset that does nothing, on the same kind of instance."""

    @dg.asset
    def trivial() -> int:
        return 1

    times = []
    with dg.DagsterInstance.get() as instance:
        for _ in range(repeat):
            began = time.perf_counter()
            result = dg.materialize([trivial], instance=instance)
            times.append(time.perf_counter() - began)
            if not result.success:
                msg = "the trivial run failed"
                raise SystemExit(msg)
    return times


def trivial_range_run(start: date, end: date) -> dict[str, Any]:
    """One run of a daily asset that does nothing over [start, end] (the event log's cost of a
    partition materialization), and how many partitioned outputs ours' full-range run records
    per day.
    """

    @dg.asset(
        partitions_def=dg.DailyPartitionsDefinition(
            start_date=start.isoformat(), end_date=(end + timedelta(days=1)).isoformat()
        ),
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def trivial_daily() -> dg.MaterializeResult:
        return dg.MaterializeResult()

    # What the full-range run records per day: the flights calendar's partitioned assets (the
    # other sources' calendars are not in it).
    partitioned = len(new_day_selection().resolve(defs.resolve_asset_graph()))
    with dg.DagsterInstance.get() as instance:
        began = time.perf_counter()
        result = dg.materialize(
            [trivial_daily],
            instance=instance,
            tags=range_tags(start, end),
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
        run_s = time.perf_counter() - began
    if not result.success:
        msg = "the trivial range run failed"
        raise SystemExit(msg)
    return {
        "range_run_s": run_s,
        "range_partitions": (end - start).days + 1,
        "partitioned_outputs": partitioned,
    }


def main() -> None:
    """Parse the mode and emit its report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["full", "oneday", "overhead"])
    parser.add_argument("--start", type=date.fromisoformat)
    parser.add_argument("--end", type=date.fromisoformat)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--new-day", action="store_true", help="oneday: only what a new day's landing builds"
    )
    parser.add_argument("--instance", choices=["home", "memory"], default="home")
    args = parser.parse_args()
    imports = {"import_dagster_s": T_DAGSTER - T0, "import_definitions_s": T_DEFS - T_DAGSTER}
    if args.mode == "full":
        report = run_range(args.start, args.end, args.instance)
        report["total_s"] = report.pop("result_at") - T0  # time to result, imports included
        export(Settings.from_env(), args.out)
    elif args.mode == "oneday":
        selection = new_day_selection() if args.new_day else None
        runs = [
            run_range(args.start, args.start, args.instance, selection) for _ in range(args.repeat)
        ]
        times = [r["run_s"] for r in runs]
        median = runs[times.index(statistics.median_low(times))]
        report = {
            "run_s": median["run_s"],
            "runs_s": times,
            # Where the median run's time went: creating the run, the steps, Dagster between
            # them, and the end (the IO managers' teardown writes the catalog).
            **{k: median[k] for k in ("startup_s", "between_steps_s", "wrapup_s", "steps_s")},
        }
    else:
        times = trivial_runs(args.repeat)
        report = {
            "run_s": statistics.median(times),
            "runs_s": times,
            **trivial_range_run(args.start, args.end),
        }
    emit({**imports, **report})


if __name__ == "__main__":
    main()
