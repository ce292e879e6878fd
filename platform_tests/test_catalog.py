"""The read side: readers of warehouse.duckdb never block a write and see whole versions."""

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
from lakehouse.resources.catalog import Catalog
from lakehouse.resources.delta_tables import DeltaStore
from lakehouse.runner import materialize_range
from lakehouse.settings import Settings

pytestmark = pytest.mark.slow
D1, D3 = date(2013, 1, 1), date(2013, 1, 3)

READER = textwrap.dedent(
    """
    import sys, time, duckdb
    path, mode, out = sys.argv[1], sys.argv[2], sys.argv[3]
    held = duckdb.connect(path, read_only=True) if mode == "held" else None
    with open(out, "w") as log:
        while True:
            try:
                con = held or duckdb.connect(path, read_only=True)
                total = con.execute(
                    "SELECT coalesce(sum(flights), 0) FROM marts.mart_ontime_daily"
                ).fetchall()[0][0]
                log.write(f"ok {total}\\n")
                if held is None:
                    con.close()
            except Exception as error:  # noqa: BLE001  (every failure is the test's finding)
                log.write(f"error {type(error).__name__}: {error}\\n")
            log.flush()
            time.sleep(0.05)
    """
)


def reader(path: Path, mode: str, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", READER, str(path), mode, str(out)])  # noqa: S603


def test_readers_holding_the_catalog_open_never_block_a_run(
    landed: Settings, tmp_path: Path
) -> None:
    resources = build_resources(landed)
    with dg.instance_for_test() as instance:
        assert materialize_range(defs, D1, D1, instance, resources=resources).success
        held, fresh = tmp_path / "held.log", tmp_path / "fresh.log"
        readers = [
            reader(landed.warehouse_path, "held", held),
            reader(landed.warehouse_path, "fresh", fresh),
        ]
        try:
            time.sleep(2)  # both readers are connected and querying
            started = time.monotonic()
            result = materialize_range(defs, D1, D3, instance, resources=resources)
            took = time.monotonic() - started
            time.sleep(1)
        finally:
            for process in readers:
                process.kill()
                process.wait()
    assert result.success
    assert took < 120
    day_one = _total(landed, D1)
    three_days = _total(landed, None)
    held_lines = held.read_text().splitlines()
    fresh_lines = fresh.read_text().splitlines()
    assert held_lines
    assert fresh_lines
    assert not [line for line in held_lines + fresh_lines if line.startswith("error")]
    # The held connection keeps the version it opened; a new one sees each published version
    # whole: the first day's total, then the three days', nothing in between.
    assert {line.split()[1] for line in held_lines} == {str(day_one)}
    assert {line.split()[1] for line in fresh_lines} <= {str(day_one), str(three_days)}
    assert fresh_lines[-1] == f"ok {three_days}"


def _total(settings: Settings, day: date | None) -> int:
    table = pl.read_delta(str(settings.lake_dir / "marts" / "mart_ontime_daily"))
    if day is not None:
        table = table.filter(pl.col("flight_date") == day)
    return int(table["flights"].sum())


def test_the_catalog_names_every_lake_table_and_drops_a_vanished_one(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    for name in ("a", "b"):
        pl.DataFrame({"x": [1, 2]}).write_delta(str(lake / "marts" / name))
    catalog = Catalog(tmp_path / "warehouse.duckdb", DeltaStore(str(lake)))
    catalog.publish()
    with duckdb.connect(str(catalog.path), read_only=True) as con:
        assert con.execute("SELECT sum(x) FROM marts.b").fetchall() == [(3,)]
    for file in (lake / "marts" / "b").rglob("*"):
        if file.is_file():
            file.unlink()
    catalog.publish([["marts", "b"]])
    with duckdb.connect(str(catalog.path), read_only=True) as con:
        views = {
            r[0] for r in con.sql("SELECT table_name FROM information_schema.tables").fetchall()
        }
    assert views == {"a"}
