"""Landing -> marts latency under the real daemon (issue #18): `make bench-latency`, or
`python -m bench.latency [options]`.

It builds a data home as `make run` does, with the flights year up to the first measured day
(on its own fresh instance), starts `lakehouse dev` on it (UI, daemon, code server: what `make dev`
runs), waits for the landing sensors' first look, then delivers N new days of flights and
weather as a user's producer does: each file written under a hidden name and renamed into
place, no completion marker, one day every `--pace` seconds plus a random 0-5 s (so the
renames fall at every point of the daemon's loop). For each day it times the rename
to the moment `mart_ontime_daily` (flights only) and `mart_delay_weather` (flights and
weather) hold its rows, read from their Delta tables as a user's reader would, and takes each
stage of the flights run from the instance: the sensor's detection, the queue, the run
process's start, each step, and the commit becoming visible. A few more days are delivered with
`lakehouse land --start D --end D` (which also re-delivers the reference snapshots), timed from
the command's start.

Results: bench/latency.json and bench/latency.md (BENCH_RESULTS for another folder).
"""

import argparse
import json
import math
import os
import random
import shutil
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import dagster as dg

from bench.dev import (
    DAEMON_LOOP_S,
    ROOT,
    VEGA_SOURCES,
    cli,
    commits,
    holds,
    running_dev,
    wait_for_first_look,
    wait_until_idle,
)
from bench.run import log, machine
from lakehouse.deploy.instance import INSTANCE_ENV
from lakehouse.runner import RANGE_END, RANGE_START
from lakehouse.simulator.replay import daily_steps
from lakehouse.simulator.sample import SAMPLE_SOURCES

MARTS = ("mart_ontime_daily", "mart_delay_weather")
TARGET_P50_S, TARGET_P95_S = 10.0, 20.0
POLL_S = 0.05
EVENTS = dg.DagsterEventType


@dataclass
class Delivery:
    """One day delivered and what became of it."""

    day: str
    how: str  # "rename" or "lakehouse land"
    delivered_at: float  # epoch seconds: the rename, or the start of `lakehouse land`
    seconds: dict[str, float] = field(default_factory=dict)  # mart -> latency
    stages: dict[str, float] = field(default_factory=dict)  # stage -> seconds (flights run)
    delay_weather_by: str = ""  # which run built mart_delay_weather: "landing run" / "automation"


def deliver_by_rename(home: Path, day: date) -> float:
    """Write the day's flights and weather under hidden names, rename both into place; the
    time of the first rename.
    """
    bodies = {
        s.source: s.body
        for s in daily_steps(day, day, [SAMPLE_SOURCES["flights"], SAMPLE_SOURCES["weather"]])
    }
    hidden = {}
    for source, body in bodies.items():
        folder = home / "landing" / source
        folder.mkdir(parents=True, exist_ok=True)
        hidden[source] = folder / f".{day}.csv.part"
        hidden[source].write_bytes(body)
    renamed_at = time.time()
    for path in hidden.values():
        path.rename(path.parent / f"{day}.csv")
    return renamed_at


def wait_for_marts(home: Path, day: str, since: float, timeout_s: float) -> dict[str, float]:
    """Seconds from `since` until each mart holds the day (missing: not within the timeout)."""
    seen: dict[str, float] = {}
    looked: dict[str, int] = {}
    while len(seen) < len(MARTS) and time.time() - since < timeout_s:
        for mart in MARTS:
            if mart in seen or looked.get(mart) == (now := commits(home, mart)):
                continue
            looked[mart] = now
            if holds(home, mart, day):
                seen[mart] = time.time() - since
        time.sleep(POLL_S)
    return seen


def _covers(run: dg.DagsterRun, day: str) -> bool:
    tags = run.tags
    if tags.get("dagster/partition") == day:
        return True
    start, end = tags.get(RANGE_START), tags.get(RANGE_END)
    return start is not None and end is not None and start <= day <= end


def _stage(step_key: str) -> str:
    if step_key.startswith("raw"):
        return "raw step"
    if step_key.startswith("staged"):
        return "staged step"
    if "fct_flights" in step_key:
        return "fact step"
    if step_key.startswith("marts"):
        return "mart steps"
    return "check steps"


def stages(
    instance: dg.DagsterInstance, day: str, renamed_at: float, ontime_at: float
) -> tuple[dict[str, float], str]:
    """The stages on the path of the day's flights to mart_ontime_daily (the run's steps up
    to that mart's), and which run built mart_delay_weather.
    """
    runs = [r for r in instance.get_runs(limit=200) if _covers(r, day)]
    flights = [r for r in runs if dg.AssetKey(["raw", "flights"]) in (r.asset_selection or [])]
    weather_mart = dg.AssetKey(["marts", "mart_delay_weather"])
    builders = [r for r in runs if weather_mart in (r.asset_selection or [])]
    both = {dg.AssetKey(["raw", "flights"]), dg.AssetKey(["raw", "weather"])}
    sensors = [r.tags.get("dagster/sensor_name", "") for r in builders]
    if any(both <= set(r.asset_selection or []) for r in builders):
        by = "one landing run"  # the flights run took the day's weather along
    elif any(s.endswith("_landing") for s in sensors):
        by = "landing run"
    else:
        by = "automation"
    if not flights:
        return {}, by
    run = min(flights, key=lambda r: r.run_id)
    record = instance.get_run_record_by_id(run.run_id)
    assert record is not None
    at: dict[Any, float] = {}
    steps: dict[str, float] = {}
    started: dict[str, float] = {}
    mart_done: float | None = None
    for event in instance.all_logs(run.run_id):
        kind = event.dagster_event_type
        if mart_done is not None:
            break  # what the run does after mart_ontime_daily is not on this path
        if kind in (EVENTS.RUN_STARTING, EVENTS.RUN_START):
            at.setdefault(kind, event.timestamp)
        elif kind == EVENTS.STEP_START and event.step_key:
            started[event.step_key] = event.timestamp
        elif kind == EVENTS.STEP_SUCCESS and event.step_key in started:
            stage = _stage(event.step_key)
            steps[stage] = steps.get(stage, 0.0) + event.timestamp - started[event.step_key]
            if "mart_ontime_daily" in event.step_key:
                mart_done = event.timestamp
    created = record.create_timestamp.timestamp()
    launched = at.get(EVENTS.RUN_STARTING, created)
    begun = at.get(EVENTS.RUN_START, launched)
    written = mart_done if mart_done is not None else ontime_at
    result = {
        "detection (delivered -> run requested)": created - renamed_at,
        "queue (requested -> launched)": launched - created,
        "run process start (imports, definitions)": begun - launched,
        **steps,
        "between steps (events, inputs)": (written - begun) - sum(steps.values()),
        "read by a reader (after the commit)": ontime_at - written,
    }
    return result, by


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (`share` of 1): of 12 values, p95 is the largest."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def summarize(deliveries: list[Delivery]) -> dict[str, Any]:
    """Per way of delivering: each mart's p50, p95 and max, and each stage's median."""
    summary: dict[str, Any] = {}
    for how in sorted({d.how for d in deliveries}):
        these = [d for d in deliveries if d.how == how]
        row: dict[str, Any] = {"days": len(these)}
        for mart in MARTS:
            values = [d.seconds[mart] for d in these if mart in d.seconds]
            row[mart] = {
                "reached": len(values),
                "p50_s": statistics.median(values) if values else None,
                "p95_s": percentile(values, 0.95) if values else None,
                "max_s": max(values) if values else None,
            }
        names = [s for d in these for s in d.stages]
        row["stages_median_s"] = {
            s: statistics.median(d.stages[s] for d in these if s in d.stages)
            for s in dict.fromkeys(names)
        }
        summary[how] = row
    return summary


def markdown(results: dict[str, Any]) -> str:
    """The report: latencies against the targets, then where the time goes."""
    cfg = results["config"]
    lines = [
        "# Landing -> marts latency",
        "",
        f"Measured {results['measured_at']} on {results['machine']['cores']} cores under "
        f"`lakehouse dev` (UI, daemon, code server; SQLite instance), with "
        f"{cfg['history_days']} days of history materialized; {cfg['days']} days delivered one "
        f"every {cfg['pace_s']:g} s by rename (no completion marker), then "
        f"{cfg['land_days']} with `lakehouse land --start D --end D`. Targets (#18): p50 <= "
        f"{TARGET_P50_S:g} s and p95 <= {TARGET_P95_S:g} s.",
        "",
        "| delivered by | mart | days reached | p50 s | p95 s | max s | target |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for how, row in results["summary"].items():
        for mart in MARTS:
            m = row[mart]
            ok = (
                m["p50_s"] is not None
                and m["reached"] == row["days"]
                and m["p50_s"] <= TARGET_P50_S
                and m["p95_s"] <= TARGET_P95_S
            )
            cells = [
                f"{m[k]:.1f}" if m[k] is not None else "-" for k in ("p50_s", "p95_s", "max_s")
            ]
            lines.append(
                f"| {how} | {mart} | {m['reached']}/{row['days']} | {' | '.join(cells)} | "
                f"{'met' if ok else 'MISSED'} |"
            )
    lines += ["", "Where the time goes (medians over the days; the flights run):", ""]
    for how, row in results["summary"].items():
        lines += [f"| {how}: stage | s |", "|---|---:|"]
        lines += [f"| {stage} | {value:.2f} |" for stage, value in row["stages_median_s"].items()]
        lines.append("")
    built = [d["delay_weather_by"] for d in results["deliveries"]]
    lines.append(
        "mart_delay_weather needs the day's weather too: built on "
        f"{built.count('one landing run')} day(s) by the flights landing run, which took the "
        "day's weather along (`sensors/partners.py`), on "
        f"{built.count('landing run')} by a landing run of its own, on "
        f"{built.count('automation')} by automation."
    )
    return "\n".join(lines) + "\n"


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Build the history, start `lakehouse dev`, deliver the days, time them."""
    work = Path(args.work) / "latency"
    shutil.rmtree(work, ignore_errors=True)
    home, dagster_home, logs = work / "home", work / "dagster_home", work
    dagster_home.mkdir(parents=True)
    shutil.copy(ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
    first = date.fromisoformat(args.first_day)
    start = date(first.year, 1, 1)
    history_end = first - timedelta(days=1)
    env = {
        **os.environ,
        "LAKEHOUSE_HOME": str(home),
        "DAGSTER_HOME": str(dagster_home),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "platform")]),
        **INSTANCE_ENV,
    }
    log(f"history {start} .. {history_end}: landing and materializing, as `make run` does")
    cli(env, "land", "--start", str(start), "--end", str(history_end))
    for published, source in VEGA_SOURCES:
        cli(env, "land", "--from", f"vega:{published}", "--source", source)
    cli(env, "materialize", "--end", str(history_end))
    os.environ.update({k: env[k] for k in ("DAGSTER_HOME", "LAKEHOUSE_HOME")})
    deliveries: list[Delivery] = []
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance, running_dev(env, logs):
        wait_for_first_look(instance)
        wait_until_idle(instance)  # Seattle's days after the history: one catch-up run
        log("sensors are watching, nothing is running; delivering")
        days = [first + timedelta(days=n) for n in range(args.days + args.land_days)]
        rng = random.Random(args.seed)
        for n, day in enumerate(days):
            key = day.isoformat()
            began = time.monotonic()
            if n < args.days:
                how, since = "rename", deliver_by_rename(home, day)
            else:
                how, since = "lakehouse land", time.time()
                cli(env, "land", "--start", key, "--end", key)
            delivery = Delivery(key, how, since, wait_for_marts(home, key, since, args.timeout))
            log(
                f"{key} by {how}: "
                + ", ".join(f"{m} {s:.1f} s" for m, s in delivery.seconds.items())
            )
            deliveries.append(delivery)
            # A pace in whole seconds would land every day at the same point of the daemon's
            # 5 s loop, and measure one waiting time over and over: add a random part.
            jitter = rng.uniform(0, DAEMON_LOOP_S)
            time.sleep(max(0.0, args.pace - (time.monotonic() - began)) + jitter)
        wait_until_idle(instance)
        for delivery in deliveries:
            ontime = delivery.seconds.get("mart_ontime_daily")
            if ontime is None:
                continue
            delivery.stages, delivery.delay_weather_by = stages(
                instance, delivery.day, delivery.delivered_at, delivery.delivered_at + ontime
            )
    return {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "config": {
            "first_day": args.first_day,
            "days": args.days,
            "land_days": args.land_days,
            "pace_s": args.pace,
            "history_days": (history_end - start).days + 1,
        },
        "deliveries": [asdict(d) for d in deliveries],
        "summary": summarize(deliveries),
    }


def main(argv: list[str] | None = None) -> None:
    """Measure, write latency.json and latency.md, print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    env = os.environ.get
    parser.add_argument("--first-day", default=env("BENCH_LATENCY_FIRST", "2013-12-01"))
    parser.add_argument("--days", type=int, default=int(env("BENCH_LATENCY_DAYS", "12")))
    parser.add_argument("--land-days", type=int, default=int(env("BENCH_LATENCY_LAND_DAYS", "3")))
    parser.add_argument("--pace", type=float, default=float(env("BENCH_LATENCY_PACE", "20")))
    parser.add_argument("--seed", type=int, default=13, help="of the pace's random part")
    parser.add_argument("--timeout", type=float, default=120.0, help="per day, in seconds")
    parser.add_argument("--work", default=env("BENCH_WORK", str(ROOT / "bench" / "out")))
    parser.add_argument("--results", default=env("BENCH_RESULTS", str(ROOT / "bench")))
    args = parser.parse_args(argv)
    results = measure(args)
    folder = Path(args.results)
    (folder / "latency.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    text = markdown(results)
    (folder / "latency.md").write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
