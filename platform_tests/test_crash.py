"""SIGKILL at random moments of a run (lake commits, the fact's write, catalog publishing):
afterwards nothing is lost, nothing mixed, nothing partial visible to any Delta reader or to
the catalog, and the next run repairs everything.

A few trials in `make test`; `make crash` runs LAKEHOUSE_CRASH_TRIALS=20.
"""

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from lakehouse.definitions import build_resources, defs
from lakehouse.landing import write_atomic
from lakehouse.runner import materialize_range
from lakehouse.settings import Settings

pytestmark = pytest.mark.slow
D1, D3 = date(2013, 1, 1), date(2013, 1, 3)
TRIALS = int(os.environ.get("LAKEHOUSE_CRASH_TRIALS", "3"))
CHECKED = {  # table -> its day column
    ("raw", "flights"): "_partition_date",
    ("staged", "flights"): "flight_date",
    ("marts", "fct_flights"): "flight_date",
    ("marts", "mart_ontime_daily"): "flight_date",
}
RUN = textwrap.dedent(
    """
    import sys
    from datetime import date
    from pathlib import Path
    import dagster as dg
    from lakehouse.definitions import build_resources, defs
    from lakehouse.runner import materialize_range
    from lakehouse.settings import Settings
    settings = Settings.from_env().with_home(Path(sys.argv[1]))
    with dg.instance_for_test() as instance:
        materialize_range(
            defs, date(2013, 1, 1), date(2013, 1, 3), instance,
            resources=build_resources(settings), log_level="ERROR",
        )
    """
)


def rows_per_day(settings: Settings) -> dict[tuple[str, str], dict[date, int]]:
    """Rows per day of each checked table, as a generic Delta reader sees them."""
    counts = {}
    for (layer, name), column in CHECKED.items():
        table = pl.read_delta(str(settings.lake_dir / layer / name))
        flights = "flights" if name == "mart_ontime_daily" else None
        counted = table.group_by(column).agg(
            pl.col(flights).sum() if flights else pl.len().alias("n")
        )
        counts[(layer, name)] = {day: int(n) for day, n in counted.iter_rows()}
    return counts


def catalog_totals(settings: Settings) -> dict[date, int]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        rows = con.execute(
            "SELECT flight_date, sum(flights) FROM marts.mart_ontime_daily GROUP BY 1"
        ).fetchall()
    return {day: int(total) for day, total in rows}


def cut_deliveries(settings: Settings) -> None:
    """Re-deliver each day with its last 100 flights removed: a new version of every day."""
    for path in sorted((settings.landing_dir / "flights").glob("2013-01-0[123].csv")):
        lines = path.read_bytes().split(b"\n")
        write_atomic(path, b"\n".join(lines[:-101]) + b"\n")


@pytest.mark.parametrize("trial", range(TRIALS))
def test_a_run_killed_at_a_random_moment_leaves_whole_versions_and_is_repaired(
    landed: Settings, trial: int
) -> None:
    resources = build_resources(landed)
    with dg.instance_for_test() as instance:
        assert materialize_range(defs, D1, D3, instance, resources=resources).success
    old = rows_per_day(landed)
    cut_deliveries(landed)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "platform")}
    child = subprocess.Popen(  # noqa: S603  (our own interpreter and script)
        [sys.executable, "-c", RUN, str(landed.home)], env=env, start_new_session=True
    )
    time.sleep(random.Random(trial).uniform(2.5, 6.0))  # imports take ~2 s, the run ~6 s more
    os.killpg(child.pid, signal.SIGKILL)
    assert child.wait() == -signal.SIGKILL, "the run ended before it was killed: kill sooner"

    after = rows_per_day(landed)
    for table, days in after.items():
        for day, n in days.items():
            # Each day holds its old rows or its new ones (100 flights fewer): never a mix.
            assert n in {old[table][day], old[table][day] - 100}, (table, day, n)
        assert set(days) == set(old[table]), table  # no day lost
    assert catalog_totals(landed).keys() == after[("marts", "mart_ontime_daily")].keys()

    with dg.instance_for_test() as instance:
        assert materialize_range(defs, D1, D3, instance, resources=resources).success
    repaired = rows_per_day(landed)
    for table, days in repaired.items():
        assert days == {day: n - 100 for day, n in old[table].items()}, table
    assert catalog_totals(landed) == repaired[("marts", "mart_ontime_daily")]
