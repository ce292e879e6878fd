"""The benchmark harness, run tiny (1x, one week, one repetition) so it cannot rot.

It asserts that the harness runs and that the implementations agree (ours on the local
instance, the DuckDB floor, pandas, and ours on PostgreSQL where it is installed); never a
time.
"""

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from lakehouse.simulator.replay import split_by_day
from lakehouse.simulator.sample import FLIGHTS, sample_bytes

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
START, END = date(2013, 1, 1), date(2013, 1, 7)


def test_the_harness_runs_and_ours_duckdb_and_pandas_agree(tmp_path: Path) -> None:
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
    ran = {"ours", "duckdb", "pandas"} | ({"ours_pg"} if results["config"]["postgres"] else set())
    assert ran <= scale.keys()
    by_day = split_by_day(sample_bytes(FLIGHTS), FLIGHTS)
    week = sum(len(by_day[date(2013, 1, d)]) for d in range(START.day, END.day + 1))
    assert scale["fact"]["rows"] == scale["figures"]["flights"] == week
    assert "| 1x |" in (tmp_path / "results" / "results.md").read_text()
    assert "| 1x |" in done.stdout
