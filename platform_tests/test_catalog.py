"""The read side: readers of warehouse.duckdb never block a write and see whole versions."""

import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse.definitions import build_resources, defs
from lakehouse.resources.catalog import Catalog
from lakehouse.resources.delta_tables import DeltaStore
from lakehouse.resources.lake_io import LakeIOManager
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


def test_a_view_binds_one_file_until_a_column_is_added_then_reads_old_rows_as_null(
    tmp_path: Path,
) -> None:
    days = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-04")
    extra = {"on": False}

    @dg.asset(key=["marts", "grow"], partitions_def=days, metadata={"partition_expr": "day"})
    def grow(context: dg.AssetExecutionContext) -> pl.DataFrame:
        frame = pl.DataFrame({"day": [date.fromisoformat(context.partition_key)], "a": [1]})
        return frame.with_columns(b=pl.lit("new")) if extra["on"] else frame

    catalog = tmp_path / "warehouse.duckdb"
    manager = LakeIOManager(base_dir=str(tmp_path / "lake"), catalog_path=str(catalog))

    def build(day: str) -> None:
        assert dg.materialize([grow], resources={"io_manager": manager}, partition_key=day).success

    def view() -> tuple[str, list[tuple[object, ...]]]:
        with duckdb.connect(str(catalog), read_only=True) as con:
            [(sql,)] = con.sql("SELECT sql FROM duckdb_views() WHERE view_name = 'grow'").fetchall()
            return sql, con.sql("SELECT * FROM marts.grow ORDER BY day").fetchall()

    build("2024-01-01")
    build("2024-01-02")
    sql, rows = view()
    assert "union_by_name = false" in sql
    assert rows == [(date(2024, 1, 1), 1), (date(2024, 1, 2), 1)]
    extra["on"] = True
    build("2024-01-03")
    sql, rows = view()
    assert "union_by_name = true" in sql
    assert rows == [
        (date(2024, 1, 1), 1, None),
        (date(2024, 1, 2), 1, None),
        (date(2024, 1, 3), 1, "new"),
    ]


def test_an_all_null_column_is_written_in_the_table_s_type_so_any_file_can_bind_the_view(
    tmp_path: Path,
) -> None:
    days = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-03")
    notes = {"2024-01-01": ["x"], "2024-01-02": [None]}

    @dg.asset(key=["marts", "notes"], partitions_def=days, metadata={"partition_expr": "day"})
    def notes_(context: dg.AssetExecutionContext) -> pl.DataFrame:
        day = date.fromisoformat(context.partition_key)
        return pl.DataFrame({"day": [day], "note": notes[context.partition_key]})

    catalog = tmp_path / "warehouse.duckdb"
    manager = LakeIOManager(base_dir=str(tmp_path / "lake"), catalog_path=str(catalog))
    for day in notes:
        assert dg.materialize(
            [notes_], resources={"io_manager": manager}, partition_key=day
        ).success
    (null_day,) = (tmp_path / "lake" / "marts" / "notes" / "day=2024-01-02").glob("*.parquet")
    assert pq.read_schema(null_day).field("note").type == pa.large_string()
    with duckdb.connect(str(catalog), read_only=True) as con:
        rows = con.sql("SELECT * FROM marts.notes ORDER BY day").fetchall()
    assert rows == [(date(2024, 1, 1), "x"), (date(2024, 1, 2), None)]


def test_a_run_publishes_its_lake_tables_and_marts_in_one_catalog_write(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    @dg.asset(key=["staged", "numbers"], io_manager_key="lake_io_manager")
    def numbers() -> pl.DataFrame:
        return pl.DataFrame({"value": [1, 2]})

    @dg.asset(key=["marts", "total"], io_manager_key="warehouse_io_manager")
    def total(numbers: pl.DataFrame) -> pl.DataFrame:
        return numbers.select(pl.col("value").sum())

    writes: list[list[str]] = []
    publish = Catalog.publish

    def counted(self: Catalog, tables: Any = None) -> None:
        writes.append(["/".join(t) for t in tables])
        publish(self, tables)

    monkeypatch.setattr(Catalog, "publish", counted)
    resources = build_resources(settings)
    assert dg.materialize([numbers, total], resources=resources).success
    assert writes == [["marts/total", "staged/numbers"]]  # readers see both change together
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        assert con.sql("SELECT * FROM marts.total").fetchall() == [(3,)]
        assert con.sql("SELECT count(*) FROM staged.numbers").fetchall() == [(2,)]
