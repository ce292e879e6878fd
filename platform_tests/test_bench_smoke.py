"""The benchmark harness, run tiny (1x, one week, one repetition) so it cannot rot.

It asserts that the harness runs and that the implementations agree (ours on the local
instance, the expert and the minimal DuckDB floors, pandas, and ours on PostgreSQL where it is
installed); never a time.
"""

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from lakehouse.landing import write_atomic
from lakehouse.simulator.replay import land_sample, split_by_day
from lakehouse.simulator.sample import FLIGHTS, sample_bytes

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
START, END = date(2013, 1, 1), date(2013, 1, 7)
# bench.landing.DONE (bench is not importable here): the harness reuses a landing folder with it
LANDED = ".complete"


def test_the_harness_runs_and_ours_both_duckdb_floors_and_pandas_agree(tmp_path: Path) -> None:
    command = [
        sys.executable, "-m", "bench", "--scales", "1", "--reps", "1",
        "--start", START.isoformat(), "--end", END.isoformat(),
        "--work", str(tmp_path / "work"), "--results", str(tmp_path / "results"),
        "--no-incremental", "--no-overhead",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    (scale,) = results["scales"]
    assert scale["agree"], scale.get("mismatches") or scale.get("failed")
    # Each is reported only when it finished and its figures agreed with ours'.
    ran = {"ours", "duckdb", "duckdb_minimal", "pandas"}
    ran |= {"ours_pg"} if results["config"]["postgres"] else set()
    assert ran <= scale.keys()
    # Both floors time their statements (the report's breakdown).
    assert scale["duckdb"]["statements_s"]["fct_flights"] > 0
    assert scale["duckdb_minimal"]["statements_s"]["flights_by_hour"] > 0
    by_day = split_by_day(sample_bytes(FLIGHTS), FLIGHTS)
    week = sum(len(by_day[date(2013, 1, d)]) for d in range(START.day, END.day + 1))
    assert scale["fact"]["rows"] == scale["figures"]["flights"] == week
    assert "| 1x |" in (tmp_path / "results" / "results.md").read_text()
    assert "| 1x |" in done.stdout


def _edit(path: Path, line: int, **fields: str) -> str:
    """Line `line` (1 = header) of a CSV file, with `fields` replaced."""
    header, *rows = path.read_text().splitlines()
    names = header.split(",")
    values = rows[line - 2].split(",")
    for name, value in fields.items():
        values[names.index(name)] = value
    return ",".join(values)


def _append(path: Path, *lines: str) -> None:
    """Deliver `path` again with `lines` added (and its completion marker, as a producer does)."""
    write_atomic(path, (path.read_text() + "".join(f"{line}\n" for line in lines)).encode())


def _with_quirks(landing: Path) -> int:
    """Re-deliveries and broken rows added to a week's landing files (the benchmark's own have
    none); returns how many flights ours must keep beyond the week's.
    """
    flights = landing / "flights"
    day = {d: flights / f"2013-01-0{d}.csv" for d in range(2, 7)}
    # a flight delivered again, changed: the later one wins
    _append(day[2], _edit(day[2], 12, dep_delay="99", arr_delay="120"))
    # a flight delivered again, breaking the contract: the earlier one stays
    _append(day[3], _edit(day[3], 22, distance="-5", dep_delay="99"))
    # a field that does not parse (hour too), a line cut short, a clock that is not hhmm
    _append(
        day[4],
        _edit(day[4], 32, month="M", flight="9999"),
        ",".join(_edit(day[4], 33).split(",")[:4]),
        _edit(day[4], 34, hour="x", flight="9998"),
        _edit(day[4], 35, sched_dep_time="2460", flight="9997"),
    )
    # a row dated another day than its file; a carrier code padded with a space (kept)
    carrier = _edit(day[5], 43).split(",")[9]
    _append(
        day[5],
        _edit(day[5], 42, day="6", flight="9996"),
        _edit(day[5], 43, carrier=f" {carrier}", flight="9995"),
    )
    # a stray quote (it costs its own line, not the next, kept), a tail number that is not
    # one, no time in the air
    stray = _edit(day[6], 53, flight="9993").split(",")
    stray[9] = f'"{stray[9]}'
    _append(
        day[6],
        ",".join(stray),
        _edit(day[6], 55, flight="9991"),
        _edit(day[6], 54, tailnum="N1 23", flight="9992"),
        _edit(day[6], 52, air_time="0", flight="9994"),
    )
    # an hour of weather delivered again, changed: the later one wins
    weather = landing / "weather" / "2013-01-03.csv"
    _append(weather, _edit(weather, 7, visib="0.5"))
    return 2


def test_the_expert_floor_treats_redeliveries_and_broken_rows_as_ours_does(tmp_path: Path) -> None:
    work = tmp_path / "work"
    landing = work / f"landing-1x-{START}-{END}"
    land_sample(landing, START, END)
    kept = _with_quirks(landing)
    (landing / LANDED).touch()
    command = [
        sys.executable, "-m", "bench", "--scales", "1", "--reps", "1",
        "--start", START.isoformat(), "--end", END.isoformat(),
        "--work", str(work), "--results", str(tmp_path / "results"),
        "--no-incremental", "--no-overhead", "--no-postgres",
    ]  # fmt: skip
    # pandas and the minimal floor are not meant to survive this input: the run fails on them
    subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    (scale,) = json.loads((tmp_path / "results" / "results.json").read_text())["scales"]
    assert scale["reference"] == "ours"
    assert "duckdb" not in scale["failed"]
    assert not scale.get("mismatches", {}).get("duckdb"), scale["mismatches"]["duckdb"]
    by_day = split_by_day(sample_bytes(FLIGHTS), FLIGHTS)
    week = sum(len(by_day[date(2013, 1, d)]) for d in range(START.day, END.day + 1))
    assert scale["fact"]["rows"] == week + kept
