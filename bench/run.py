"""The benchmark harness (issue #7): `make bench`, or `python -m bench [options]`.

For each scale factor of the flights sample it lands a scaled landing zone, then runs, each in
its own subprocess (time and peak RSS of the process tree are its own):

1. ours: a full single-run backfill raw -> staged -> marts through Dagster, in-process, checks
   included (`bench.impl_ours full`), on the local SQLite instance `make run` uses, and again
   on the production instance storage (`ours_pg`: `deploy/dagster.yaml` on a PostgreSQL server
   the harness starts on loopback with PostgreSQL's default durability) when PostgreSQL is
   installed (the report says when it is not);
2. the DuckDB floors: the platform's semantics hand-written as one SQL script, as fast as
   DuckDB runs it (`bench/floor.sql`, the expert floor), and the least work that yields the
   same marts on valid input (`bench/floor_minimal.sql`, the minimal floor);
3. pandas: the same transforms in plain pandas (`bench.impl_pandas`);
4. ours again, one day re-run with 10 and with 365 days of history in the warehouse;

and checks that all of them produce identical mart figures before it reports any time. Raw
ingest throughput comes from the raw/flights step of run 1; Dagster's fixed cost (imports,
a trivial run, the start-up of the big run) is reported apart from data work.

Options can also be set through the environment: BENCH_SCALES (e.g. `1,10,50`), BENCH_REPS,
BENCH_START, BENCH_END, BENCH_WORK, BENCH_RESULTS, BENCH_MAX_RSS_GB (an implementation whose
process tree passes it is stopped and reported as failed: the machine is shared),
BENCH_POSTGRES (`0` skips the run on PostgreSQL).
"""

import argparse
import contextlib
import dataclasses
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psutil

from bench.landing import flights_bytes, land_scaled
from bench.marts import Outputs, differences, mart_totals
from bench.measure import Measured, run_measured
from bench.report import COMPARED, MEASURED, MINIMAL, markdown
from lakehouse.deploy.instance import INSTANCE_ENV
from platform_tests.production.services import Postgres, ServiceMissingError, postgres_server

ROOT = Path(__file__).resolve().parent.parent
HISTORIES = (10, 365)
GB = 1e9
ONE_DAY_REPEAT = 3
INSTANCE_FILES = {"postgres": ROOT / "deploy" / "dagster.yaml", "sqlite": ROOT / "dagster.yaml"}
DATABASE_FILE = "bench-database"  # names the PostgreSQL database of a Dagster home
# The module and arguments of each implementation that is not ours.
BASELINES: dict[str, tuple[str, ...]] = {
    "duckdb": ("bench.impl_duckdb",),
    MINIMAL: ("bench.impl_duckdb", "--script", "floor_minimal.sql"),
    "pandas": ("bench.impl_pandas",),
}


@dataclass(frozen=True)
class Config:
    """What to measure."""

    scales: list[int]
    reps: int
    start: date
    end: date
    work: Path
    results: Path
    max_rss_bytes: int = int(16 * GB)
    incremental: bool = True
    overhead: bool = True
    postgres_too: bool = True  # ours also on the production instance storage, if installed
    postgres: Postgres | None = None  # its server, once started
    notes: list[str] = field(default_factory=list)

    @property
    def implementations(self) -> tuple[str, ...]:
        """What each scale runs: ours on the local instance (as `make run`), the baselines, and
        ours on the production instance when a PostgreSQL server runs.
        """
        return (*MEASURED, "ours_pg") if self.postgres else MEASURED


def log(message: str) -> None:
    """Progress on stderr (stdout carries the table)."""
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def _ours_env(
    home: Path, dagster_home: Path, cfg: Config, instance: str = "sqlite"
) -> dict[str, str]:
    """The environment of ours over a data home and a Dagster home, configured as users run it:
    the repository's instance file for `instance` and the instance settings the Makefile
    exports. A new PostgreSQL-backed home gets its own empty database.
    """
    env = {
        "LAKEHOUSE_HOME": str(home),
        "LAKEHOUSE_START": cfg.start.isoformat(),
        "LAKEHOUSE_END": cfg.end.isoformat(),
        "DAGSTER_HOME": str(dagster_home),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "platform")]),
        **INSTANCE_ENV,
    }
    dagster_home.mkdir(parents=True, exist_ok=True)
    config = dagster_home / "dagster.yaml"
    if instance == "sqlite" or cfg.postgres is None:
        shutil.copy(INSTANCE_FILES["sqlite"], config)
        return env
    named = dagster_home / DATABASE_FILE
    if not config.exists():
        named.write_text(f"bench_{uuid.uuid4().hex[:12]}")
        cfg.postgres.create_database(named.read_text())
        shutil.copy(INSTANCE_FILES["postgres"], config)
    return {**env, **cfg.postgres.instance_env(named.read_text())}


@contextlib.contextmanager
def instance_server(cfg: Config) -> Iterator[Config]:
    """`cfg` with a PostgreSQL server running (production durability); where PostgreSQL is not
    installed or does not start, ours is measured on SQLite only, and the report says so.
    """
    if not cfg.postgres_too:
        yield cfg
        return
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(postgres_server(durable=True))
        except (ServiceMissingError, OSError, subprocess.CalledProcessError) as failed:
            note = f"ours ran on the SQLite instance only: PostgreSQL did not start ({failed})"
            log(note)
            yield dataclasses.replace(cfg, notes=[*cfg.notes, note])
            return
        yield dataclasses.replace(cfg, postgres=server)


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
    """Median time over repetitions, the largest peak, and the own report (its breakdown of
    the time) of the median run (of the lower of the two middle ones for an even count).

    `time_s` is the time to result: from the child's start (its imports included) to its
    result being complete, without writing the comparison files; `wall_s` adds interpreter
    start, that export and exit.
    """
    times = [r.report.get("total_s", r.wall_s) for r in runs]
    median_run = runs[times.index(statistics.median_low(times))]
    return {
        "time_s": statistics.median(times),
        "wall_s": statistics.median(r.wall_s for r in runs),
        "walls_s": [r.wall_s for r in runs],
        "peak_rss_bytes": max(r.peak_rss_bytes for r in runs),
        "tree_rss_bytes": max(r.tree_rss_bytes for r in runs),
        "maxrss_bytes": max(r.maxrss_bytes for r in runs),
        **median_run.report,
    }


def measure_scale(cfg: Config, scale: int) -> dict[str, Any]:
    """Every measurement of one scale factor.

    An implementation that fails (or passes the memory limit) is reported with how far it got;
    the others are still measured and compared with each other. Times are reported only for
    implementations whose figures agree with another's.
    """
    tag = f"{scale}x"
    folder = cfg.work / tag
    span = f"{cfg.start}-{cfg.end}"
    log(f"{tag}: landing the sample x{scale} for {cfg.start}..{cfg.end}")
    began = time.perf_counter()
    landing = land_scaled(cfg.work / f"landing-{tag}-{span}", cfg.start, cfg.end, scale)
    log(f"{tag}: landing ready ({time.perf_counter() - began:.1f} s)")
    implementations = cfg.implementations
    out = {name: folder / "marts" / name for name in implementations}
    logs = folder / "logs"
    runs: dict[str, list[Measured]] = {name: [] for name in implementations}
    for rep in range(cfg.reps):
        for name in implementations:
            log(f"{tag}: {name} (rep {rep + 1}/{cfg.reps})")
            if name.startswith("ours"):
                home, dagster_home = fresh_home(folder / name, landing)
                command = ["bench.impl_ours", "full", "--start", str(cfg.start)]
                command += ["--end", str(cfg.end)]
                instance = "postgres" if name == "ours_pg" else "sqlite"
                env = _ours_env(home, dagster_home, cfg, instance)
            else:
                command = [*BASELINES[name], "--landing", str(landing)]
                env = {"PYTHONPATH": str(ROOT / "platform")}
            measured = run_measured(
                python_module(*command, "--out", str(out[name])),
                env=env,
                log=logs / f"{name}-{rep}.log",
                cwd=ROOT,
                max_rss_bytes=cfg.max_rss_bytes,
            )
            if measured.failure:
                log(f"{tag}: {name} FAILED: {measured.failure}")
            runs[name].append(measured)
    done = [name for name in implementations if all(not r.failure for r in runs[name])]
    result: dict[str, Any] = {
        "scale": scale,
        "flights_csv_bytes": flights_bytes(landing, cfg.start, cfg.end),
        "failed": {
            name: failed_summary(runs[name]) for name in implementations if name not in done
        },
    }
    if len(done) < 2:  # noqa: PLR2004  (nothing to compare a lone result with)
        result["agree"] = False
        return result
    reference = Outputs(out[done[0]])
    problems = {name: differences(reference, Outputs(out[name])) for name in done[1:]}
    result.update(
        reference=done[0],
        figures=mart_totals(reference),
        fact=reference.fingerprint(),
        agree=not any(problems.values()),
    )
    if not result["agree"]:
        for name, found in problems.items():
            for problem in found:
                log(f"{tag}: MISMATCH {done[0]} vs {name}: {problem}")
        result["mismatches"] = problems
        return result  # no time is reported for figures that differ
    log(f"{tag}: {', '.join(done)} agree on every mart figure and the fact's fingerprint")
    for name in done:
        result[name] = summarize(runs[name])
    result["ratios"] = ratios(result)
    if "ours" in done:
        raw_s = result["ours"]["steps_s"].get("raw__flights")
        result["raw_ingest_mb_s"] = result["flights_csv_bytes"] / 1e6 / raw_s if raw_s else None
        if cfg.incremental:
            one = one_day_runs(cfg, folder, landing, logs)
            result["one_day"] = one
            if all("run_s" in one.get(h, {}) for h in ("10", "365")):
                result["ratios"]["one_day_365_over_10"] = one["365"]["run_s"] / one["10"]["run_s"]
    return result


def failed_summary(runs: list[Measured]) -> dict[str, Any]:
    """How far a failed implementation got: why, after how long, at what memory."""
    failed = next(r for r in runs if r.failure)
    return {
        "failure": failed.failure,
        "wall_s": failed.wall_s,
        "peak_rss_bytes": failed.peak_rss_bytes,
    }


def ratios(result: dict[str, Any]) -> dict[str, float]:
    """The ratios of issues #7 and #20, for the implementations measured: each of ours, the
    expert floor and pandas over the others, and over the minimal floor.
    """
    found: dict[str, float] = {}
    ours, floor, pandas_ = (result.get(name) for name in COMPARED)
    minimal = result.get(MINIMAL)
    if ours and floor:
        found["ours_over_duckdb"] = ours["time_s"] / floor["time_s"]
        # Without Dagster's fixed cost: imports and the run's start-up.
        found["ours_work_over_duckdb"] = (ours["run_s"] - ours["startup_s"]) / floor["time_s"]
    if ours and pandas_:
        found["pandas_over_ours"] = pandas_["time_s"] / ours["time_s"]
    if floor and pandas_:
        found["pandas_over_duckdb"] = pandas_["time_s"] / floor["time_s"]
    if minimal:
        for name, measured in (("ours", ours), ("duckdb", floor), ("pandas", pandas_)):
            if measured:
                found[f"{name}_over_minimal"] = measured["time_s"] / minimal["time_s"]
    return found


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
            setup = run_measured(
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
                max_rss_bytes=cfg.max_rss_bytes,
            )
            if setup.failure:
                runs[str(history)] = failed_summary([setup])
                continue
        found: dict[str, Any] = {}
        # The day re-run whole (reference tables and dimensions too), then as a new day's
        # landing run builds it (its partitions, raw to marts).
        for kind, extra in (("all", ()), ("new_day", ("--new-day",))):
            log(f"one-day run ({kind}) of {day} with {history} days of history (x{ONE_DAY_REPEAT})")
            measured = run_measured(
                python_module(
                    "bench.impl_ours",
                    "oneday",
                    "--start",
                    str(day),
                    "--repeat",
                    str(ONE_DAY_REPEAT),
                    *extra,
                ),  # fmt: skip
                env=_ours_env(home, dagster_home, cfg),
                log=logs / f"oneday-{kind}-{history}.log",
                cwd=ROOT,
                max_rss_bytes=cfg.max_rss_bytes,
            )
            found[kind] = failed_summary([measured]) if measured.failure else summarize([measured])
        runs[str(history)] = {**found["all"], "new_day": found["new_day"]}
    return runs


def dagster_overhead(cfg: Config, kind: str = "sqlite") -> dict[str, Any]:
    """Imports, one trivial asset run on a fresh instance (median of 3), and one run of a
    trivial daily asset over the whole range (the event log's cost per partition).
    """
    folder = cfg.work / f"overhead-{kind}"
    empty = cfg.work / "empty-landing"  # the trivial asset reads nothing
    empty.mkdir(parents=True, exist_ok=True)
    home, dagster_home = fresh_home(folder, empty)
    log(f"Dagster fixed overhead on the {kind} instance: a trivial asset, 3 runs")
    measured = run_measured(
        python_module(
            "bench.impl_ours",
            "overhead",
            "--repeat",
            "3",
            "--start",
            cfg.start.isoformat(),
            "--end",
            cfg.end.isoformat(),
        ),
        env=_ours_env(home, dagster_home, cfg, kind),
        log=folder / "overhead.log",
        cwd=ROOT,
    )
    return {**summarize([measured]), "instance": kind}


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import dagster  # noqa: PLC0415  (only for its version)
    import duckdb  # noqa: PLC0415
    import pandas  # noqa: PLC0415
    import polars  # noqa: PLC0415

    return {
        # Whether imports read compiled bytecode (`make install` compiles it) or compile every
        # module again in each process (~2.5 s more per process where PYTHONDONTWRITEBYTECODE
        # is set).
        "bytecode_compiled": Path(importlib.util.cache_from_source(dagster.__file__)).exists(),
        "cores": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
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
        "--max-rss-gb",
        type=float,
        default=float(env.get("BENCH_MAX_RSS_GB", "16")),
        help="stop an implementation whose process tree passes this RSS (the machine is shared)",
    )
    parser.add_argument(
        "--no-incremental", action="store_true", help="skip the one-day runs (smoke test)"
    )
    parser.add_argument(
        "--no-overhead", action="store_true", help="skip the trivial-run overhead (smoke test)"
    )
    parser.add_argument(
        "--no-postgres",
        action="store_true",
        default=env.get("BENCH_POSTGRES") == "0",
        help="skip ours on the production instance storage (a PostgreSQL server on loopback)",
    )
    args = parser.parse_args(argv)
    return Config(
        scales=[int(s) for s in str(args.scales).split(",") if s.strip()],
        reps=args.reps,
        start=date.fromisoformat(args.start),
        end=date.fromisoformat(args.end),
        work=Path(args.work).resolve(),
        results=Path(args.results).resolve(),
        max_rss_bytes=int(args.max_rss_gb * GB),
        incremental=not args.no_incremental,
        overhead=not args.no_overhead,
        postgres_too=not args.no_postgres,
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
            "max_rss_bytes": cfg.max_rss_bytes,
        },
        "scales": [],
    }
    with instance_server(cfg) as running:
        results["config"]["postgres"] = running.postgres is not None
        if running.overhead:
            results["dagster_overhead"] = dagster_overhead(running)
            if running.postgres:
                results["dagster_overhead_postgres"] = dagster_overhead(running, "postgres")
        for scale in running.scales:
            results["scales"].append(measure_scale(running, scale))
        results["notes"] = running.notes
    results["total_s"] = time.perf_counter() - began
    # The machine may be shared: other work running meanwhile shows here, not in the times.
    results["load_average_at_end"] = os.getloadavg()
    cfg.results.mkdir(parents=True, exist_ok=True)
    (cfg.results / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    table = markdown(results)
    (cfg.results / "results.md").write_text(table)
    sys.stdout.write(table)
    if any(s.get("mismatches") for s in results["scales"]):
        log("the implementations disagree: no time was reported for those scales")
        raise SystemExit(1)
