"""The benchmark harness (issue #7): `make bench`, or `python -m bench [options]`.

For each scale factor of the flights sample it lands a scaled landing zone, then runs, each in
its own subprocess (time and peak RSS of the process tree are its own):

1. ours: a full single-run backfill raw -> staged -> marts through Dagster, in-process, checks
   included (`bench.impl_ours full`);
2. the DuckDB floor: the same transforms as one SQL script (`bench/floor.sql`);
3. pandas: the same transforms in plain pandas (`bench.impl_pandas`);
4. ours again, one day re-run with 10 and with 365 days of history in the warehouse;

and checks that all three produce identical mart figures before it reports any time. Raw
ingest throughput comes from the raw/flights step of run 1; Dagster's fixed cost (imports,
a trivial run, the start-up of the big run) is reported apart from data work.

Options can also be set through the environment: BENCH_SCALES (e.g. `1,10,50`), BENCH_REPS,
BENCH_START, BENCH_END, BENCH_WORK, BENCH_RESULTS.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psutil

from bench.landing import flights_bytes, land_scaled
from bench.marts import Outputs, differences, mart_totals
from bench.measure import Measured, SubprocessFailedError, run_measured
from bench.report import markdown

ROOT = Path(__file__).resolve().parent.parent
HISTORIES = (10, 365)
ONE_DAY_REPEAT = 3


@dataclass(frozen=True)
class Config:
    """What to measure."""

    scales: list[int]
    reps: int
    start: date
    end: date
    work: Path
    results: Path
    incremental: bool = True
    overhead: bool = True
    notes: list[str] = field(default_factory=list)


def log(message: str) -> None:
    """Progress on stderr (stdout carries the table)."""
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def _ours_env(home: Path, dagster_home: Path, cfg: Config) -> dict[str, str]:
    """A fresh data home over the shared landing zone, and a fresh Dagster instance (SQLite,
    configured by the repository's dagster.yaml, as `make run` uses).
    """
    dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
    return {
        "LAKEHOUSE_HOME": str(home),
        "LAKEHOUSE_START": cfg.start.isoformat(),
        "LAKEHOUSE_END": cfg.end.isoformat(),
        "DAGSTER_HOME": str(dagster_home),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "platform")]),
    }


def fresh_home(folder: Path, landing: Path) -> tuple[Path, Path]:
    """An empty data home whose landing zone is `landing`, and an empty instance folder."""
    shutil.rmtree(folder, ignore_errors=True)
    home = folder / "home"
    home.mkdir(parents=True)
    (home / "landing").symlink_to(landing.resolve())
    return home, folder / "dagster_home"


def python_module(module: str, *args: str) -> list[str]:
    """Arguments to run a bench module with the current interpreter."""
    return ["-m", module, *args]


def summarize(runs: list[Measured]) -> dict[str, Any]:
    """Median time over repetitions, the largest peak, and the last run's own report.

    `time_s` is the time to result: from the child's start (its imports included) to its
    result being complete, without writing the comparison files; `wall_s` adds interpreter
    start, that export and exit.
    """
    return {
        "time_s": statistics.median(r.report.get("total_s", r.wall_s) for r in runs),
        "wall_s": statistics.median(r.wall_s for r in runs),
        "walls_s": [r.wall_s for r in runs],
        "peak_rss_bytes": max(r.peak_rss_bytes for r in runs),
        "tree_rss_bytes": max(r.tree_rss_bytes for r in runs),
        "maxrss_bytes": max(r.maxrss_bytes for r in runs),
        **runs[-1].report,
    }


def measure_scale(cfg: Config, scale: int) -> dict[str, Any]:
    """Every measurement of one scale factor; a failed implementation is reported, not fatal."""
    try:
        return _measure_scale(cfg, scale)
    except SubprocessFailedError as error:
        log(f"{scale}x: FAILED: {error}")
        return {"scale": scale, "agree": False, "failed": str(error)}


def _measure_scale(cfg: Config, scale: int) -> dict[str, Any]:
    """Every measurement of one scale factor; times only when the figures agree."""
    tag = f"{scale}x"
    folder = cfg.work / tag
    span = f"{cfg.start}-{cfg.end}"
    log(f"{tag}: landing the sample x{scale} for {cfg.start}..{cfg.end}")
    began = time.perf_counter()
    landing = land_scaled(cfg.work / f"landing-{tag}-{span}", cfg.start, cfg.end, scale)
    log(f"{tag}: landing ready ({time.perf_counter() - began:.1f} s)")
    csv_bytes = flights_bytes(landing, cfg.start, cfg.end)
    out = {name: folder / "marts" / name for name in ("ours", "duckdb", "pandas")}
    logs = folder / "logs"

    ours_runs = []
    for rep in range(cfg.reps):
        home, dagster_home = fresh_home(folder / "ours", landing)
        log(f"{tag}: ours, full backfill (rep {rep + 1}/{cfg.reps})")
        ours_runs.append(
            run_measured(
                python_module(
                    "bench.impl_ours",
                    "full",
                    "--start",
                    str(cfg.start),
                    "--end",
                    str(cfg.end),
                    "--out",
                    str(out["ours"]),
                ),  # fmt: skip
                env=_ours_env(home, dagster_home, cfg),
                log=logs / f"ours-full-{rep}.log",
                cwd=ROOT,
            )
        )
    floor_runs: list[Measured] = []
    pandas_runs: list[Measured] = []
    for rep in range(cfg.reps):
        for name, module, runs in (
            ("duckdb", "bench.impl_duckdb", floor_runs),
            ("pandas", "bench.impl_pandas", pandas_runs),
        ):
            log(f"{tag}: {name} (rep {rep + 1}/{cfg.reps})")
            runs.append(
                run_measured(
                    python_module(module, "--landing", str(landing), "--out", str(out[name])),
                    env={"PYTHONPATH": str(ROOT / "platform")},
                    log=logs / f"{name}-{rep}.log",
                    cwd=ROOT,
                )
            )
    reference = Outputs(out["ours"])
    problems = {name: differences(reference, Outputs(out[name])) for name in ("duckdb", "pandas")}
    agree = not any(problems.values())
    result: dict[str, Any] = {
        "scale": scale,
        "flights_csv_bytes": csv_bytes,
        "figures": mart_totals(reference),
        "fact": reference.fingerprint(),
        "agree": agree,
    }
    if not agree:
        for name, found in problems.items():
            for problem in found:
                log(f"{tag}: MISMATCH ours vs {name}: {problem}")
        result["mismatches"] = problems
        return result  # no time is reported for figures that differ
    log(f"{tag}: the three implementations agree on every mart figure")
    ours, floor, pandas_ = summarize(ours_runs), summarize(floor_runs), summarize(pandas_runs)
    raw_s = ours["steps_s"].get("raw__flights")
    result.update(
        ours=ours,
        duckdb=floor,
        pandas=pandas_,
        ratios={
            "ours_over_duckdb": ours["time_s"] / floor["time_s"],
            # Without Dagster's fixed cost: imports and the run's start-up.
            "ours_work_over_duckdb": (ours["run_s"] - ours["startup_s"]) / floor["time_s"],
            "pandas_over_ours": pandas_["time_s"] / ours["time_s"],
        },
        raw_ingest_mb_s=csv_bytes / 1e6 / raw_s if raw_s else None,
    )
    if cfg.incremental:
        try:
            one = one_day_runs(cfg, folder, landing, logs)
        except SubprocessFailedError as error:
            log(f"{tag}: one-day runs FAILED: {error}")
            result["one_day_failed"] = str(error)
        else:
            result["one_day"] = one
            result["ratios"]["one_day_365_over_10"] = one["365"]["run_s"] / one["10"]["run_s"]
    return result


def one_day_runs(cfg: Config, folder: Path, landing: Path, logs: Path) -> dict[str, Any]:
    """The last day re-run with 10 days of history (a fresh home backfilled with the 10 days
    ending on it) and with the whole range as history (the home of the full backfill).
    """
    day = cfg.end
    runs: dict[str, Any] = {}
    for history in HISTORIES:
        if history >= (cfg.end - cfg.start).days + 1:
            home, dagster_home = folder / "ours" / "home", folder / "ours" / "dagster_home"
        else:
            home, dagster_home = fresh_home(folder / f"history-{history}", landing)
            first = day - timedelta(days=history - 1)
            log(f"backfilling {first}..{day} as history")
            run_measured(
                python_module(
                    "bench.impl_ours",
                    "full",
                    "--start",
                    str(first),
                    "--end",
                    str(day),
                    "--out",
                    str(folder / f"history-{history}" / "marts"),
                ),  # fmt: skip
                env=_ours_env(home, dagster_home, cfg),
                log=logs / f"history-{history}.log",
                cwd=ROOT,
            )
        log(f"one-day run of {day} with {history} days of history (x{ONE_DAY_REPEAT})")
        measured = run_measured(
            python_module(
                "bench.impl_ours", "oneday", "--start", str(day), "--repeat", str(ONE_DAY_REPEAT)
            ),
            env=_ours_env(home, dagster_home, cfg),
            log=logs / f"oneday-{history}.log",
            cwd=ROOT,
        )
        runs[str(history)] = summarize([measured])
    return runs


def dagster_overhead(cfg: Config) -> dict[str, Any]:
    """Imports and one trivial asset run on a fresh SQLite instance (median of 3)."""
    folder = cfg.work / "overhead"
    empty = cfg.work / "empty-landing"  # the trivial asset reads nothing
    empty.mkdir(parents=True, exist_ok=True)
    home, dagster_home = fresh_home(folder, empty)
    log("Dagster fixed overhead: a trivial asset, 3 runs")
    measured = run_measured(
        python_module("bench.impl_ours", "overhead", "--repeat", "3"),
        env=_ours_env(home, dagster_home, cfg),
        log=folder / "overhead.log",
        cwd=ROOT,
    )
    return summarize([measured])


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import dagster  # noqa: PLC0415  (only for its version)
    import duckdb  # noqa: PLC0415
    import pandas  # noqa: PLC0415
    import polars  # noqa: PLC0415

    return {
        "cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "memory_bytes": psutil.virtual_memory().total,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {
            "dagster": dagster.__version__,
            "polars": polars.__version__,
            "duckdb": duckdb.__version__,
            "pandas": pandas.__version__,
        },
    }


def parse_args(argv: list[str] | None = None) -> Config:
    """Options from the command line, defaulting to the BENCH_* environment variables."""
    env = os.environ
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scales", default=env.get("BENCH_SCALES", "1,10,50"))
    parser.add_argument("--reps", type=int, default=int(env.get("BENCH_REPS", "1")))
    parser.add_argument("--start", default=env.get("BENCH_START", "2013-01-01"))
    parser.add_argument("--end", default=env.get("BENCH_END", "2013-12-31"))
    parser.add_argument("--work", default=env.get("BENCH_WORK", str(ROOT / "bench" / "out")))
    parser.add_argument("--results", default=env.get("BENCH_RESULTS", str(ROOT / "bench")))
    parser.add_argument(
        "--no-incremental", action="store_true", help="skip the one-day runs (smoke test)"
    )
    parser.add_argument(
        "--no-overhead", action="store_true", help="skip the trivial-run overhead (smoke test)"
    )
    args = parser.parse_args(argv)
    return Config(
        scales=[int(s) for s in str(args.scales).split(",") if s.strip()],
        reps=args.reps,
        start=date.fromisoformat(args.start),
        end=date.fromisoformat(args.end),
        work=Path(args.work).resolve(),
        results=Path(args.results).resolve(),
        incremental=not args.no_incremental,
        overhead=not args.no_overhead,
    )


def main(argv: list[str] | None = None) -> None:
    """Measure, compare, write results.json and results.md, print the table."""
    cfg = parse_args(argv)
    cfg.work.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    results: dict[str, Any] = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "config": {
            "scales": cfg.scales,
            "reps": cfg.reps,
            "start": cfg.start.isoformat(),
            "end": cfg.end.isoformat(),
            "one_day_histories": list(HISTORIES) if cfg.incremental else [],
        },
        "scales": [],
    }
    if cfg.overhead:
        results["dagster_overhead"] = dagster_overhead(cfg)
    for scale in cfg.scales:
        results["scales"].append(measure_scale(cfg, scale))
    results["total_s"] = time.perf_counter() - began
    cfg.results.mkdir(parents=True, exist_ok=True)
    (cfg.results / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    table = markdown(results)
    (cfg.results / "results.md").write_text(table)
    sys.stdout.write(table)
    if not all(s["agree"] for s in results["scales"]):
        log("the implementations disagree: no time was reported for those scales")
        raise SystemExit(1)
