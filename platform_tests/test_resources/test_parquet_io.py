from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from lakehouse.resources.parquet_io import (
    DailyScan,
    MissingPartitionError,
    ParquetIOManager,
    PartitionMismatchError,
    partition_file,
    scan_partitions,
    write_partitions,
)

D1, D2, D3 = date(2013, 1, 1), date(2013, 1, 2), date(2013, 1, 3)


def frame(days: list[date], values: list[int]) -> pl.LazyFrame:
    return pl.LazyFrame({"day": days, "value": values}, schema={"day": pl.Date, "value": pl.Int64})


def read(table: Path, days: list[date]) -> pl.DataFrame:
    return scan_partitions(table, days).collect().sort("day", "value")


def test_each_day_lands_in_its_own_hive_partition(tmp_path: Path) -> None:
    written = write_partitions(frame([D1, D2, D2], [1, 2, 3]), tmp_path, "day", [D1, D2])
    assert written == {
        D1: tmp_path / "date=2013-01-01/part-0.parquet",
        D2: partition_file(tmp_path, D2),
    }
    assert read(tmp_path, [D2])["value"].to_list() == [2, 3]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["date=2013-01-01", "date=2013-01-02"]


def test_rewriting_a_day_replaces_it_and_leaves_the_others(tmp_path: Path) -> None:
    write_partitions(frame([D1, D2], [1, 2]), tmp_path, "day", [D1, D2])
    write_partitions(frame([D1], [10]), tmp_path, "day", [D1])
    assert read(tmp_path, [D1, D2])["value"].to_list() == [10, 2]


def test_an_empty_output_is_an_empty_partition_with_its_schema(tmp_path: Path) -> None:
    write_partitions(frame([D1, D2], [1, 2]), tmp_path, "day", [D1, D2])
    write_partitions(frame([], []), tmp_path, "day", [D2])
    assert read(tmp_path, [D2]).schema == pl.Schema({"day": pl.Date, "value": pl.Int64})
    assert read(tmp_path, [D2]).height == 0
    assert read(tmp_path, [D1])["value"].to_list() == [1]


def test_rows_outside_the_partitions_publish_nothing(tmp_path: Path) -> None:
    write_partitions(frame([D1], [1]), tmp_path, "day", [D1])
    with pytest.raises(PartitionMismatchError, match=r"1 day\(s\) outside .* \(2013-01-02\)"):
        write_partitions(frame([D1, D2], [5, 6]), tmp_path, "day", [D1])
    assert read(tmp_path, [D1])["value"].to_list() == [1]
    assert [p.name for p in tmp_path.iterdir()] == ["date=2013-01-01"]


def test_a_failed_write_keeps_the_previous_partition(tmp_path: Path) -> None:
    write_partitions(frame([D1], [1]), tmp_path, "day", [D1])
    failing = frame([D1], [2]).with_columns(pl.col("value").map_batches(_explode, pl.Int64))
    with pytest.raises(pl.exceptions.ComputeError):
        write_partitions(failing, tmp_path, "day", [D1])
    assert read(tmp_path, [D1])["value"].to_list() == [1]
    assert [p.name for p in tmp_path.iterdir()] == ["date=2013-01-01"]


def _explode(_: pl.Series) -> pl.Series:
    raise pl.exceptions.ComputeError("disk full")


def test_a_scan_opens_only_the_requested_partitions(tmp_path: Path) -> None:
    write_partitions(frame([D1, D2, D3], [1, 2, 3]), tmp_path, "day", [D1, D2, D3])
    # Corrupt the days not asked for: reading them would fail.
    partition_file(tmp_path, D1).write_bytes(b"not parquet")
    partition_file(tmp_path, D3).write_bytes(b"not parquet")
    scan = scan_partitions(tmp_path, [D2])
    plan = scan.explain()
    assert "date=2013-01-02" in plan
    assert "date=2013-01-01" not in plan
    assert "date=2013-01-03" not in plan
    assert scan.collect()["value"].to_list() == [2]


def test_projection_is_pushed_down_to_the_scan(tmp_path: Path) -> None:
    write_partitions(frame([D1], [1]), tmp_path, "day", [D1])
    assert "PROJECT 1/2 COLUMNS" in scan_partitions(tmp_path, [D1]).select("value").explain()


def test_a_missing_partition_is_an_error_naming_it(tmp_path: Path) -> None:
    write_partitions(frame([D1], [1]), tmp_path, "day", [D1])
    with pytest.raises(MissingPartitionError, match=r"1 partition\(s\) .* \(2013-01-02\)"):
        scan_partitions(tmp_path, [D1, D2])


DAYS = dg.DailyPartitionsDefinition(start_date="2013-01-01", end_date="2013-01-04")


@dg.asset(key=["raw", "numbers"], partitions_def=DAYS, metadata={"partition_expr": "day"})
def numbers(context: dg.AssetExecutionContext) -> pl.LazyFrame:
    day = date.fromisoformat(context.partition_key)
    return frame([day, day], [day.day, day.day * 10])


@dg.asset(key=["staged", "eager"], partitions_def=DAYS, ins={"n": dg.AssetIn(["raw", "numbers"])})
def eager(n: pl.DataFrame) -> None:
    assert isinstance(n, pl.DataFrame)


@dg.asset(key=["staged", "lazy"], partitions_def=DAYS, ins={"n": dg.AssetIn(["raw", "numbers"])})
def lazy(context: dg.AssetExecutionContext, n: pl.LazyFrame) -> None:
    assert isinstance(n, pl.LazyFrame)
    day = date.fromisoformat(context.partition_key).day
    assert n.collect()["value"].to_list() == [day, day * 10]


@dg.asset(key=["ref", "table"])
def reference() -> pl.DataFrame:
    return pl.DataFrame({"a": [1]})


def test_io_manager_stores_partitions_and_loads_the_annotated_frame_type(tmp_path: Path) -> None:
    io = ParquetIOManager(base_dir=str(tmp_path))
    assets = [numbers, eager, lazy, reference]
    for key in ("2013-01-01", "2013-01-02"):
        assert dg.materialize(assets, resources={"io_manager": io}, partition_key=key).success
    assert partition_file(tmp_path / "raw" / "numbers", D2).exists()
    assert_frame_equal(
        pl.read_parquet(tmp_path / "ref" / "table" / "data.parquet"), pl.DataFrame({"a": [1]})
    )


def test_the_first_write_creates_a_fresh_lake_root_and_a_read_never_does(tmp_path: Path) -> None:
    lake = tmp_path / "data" / "lake"  # `make clean`: no data folder at all
    io = ParquetIOManager(base_dir=str(lake))
    day = dg.PartitionKeyRange("2013-01-01", "2013-01-01")
    lazy = dg.PythonObjectDagsterType(pl.LazyFrame)
    daily = dg.build_input_context(
        asset_key=["raw", "numbers"],
        dagster_type=lazy,
        asset_partitions_def=DAYS,
        asset_partition_key_range=day,
    )
    whole = dg.build_input_context(asset_key=["ref", "table"], dagster_type=lazy)
    with pytest.raises(MissingPartitionError, match=r"numbers has no data for 1 partition"):
        io.load_input(daily)
    with pytest.raises(MissingPartitionError, match=r"ref/table has no data at .*materialize"):
        io.load_input(whole)
    assert not lake.parent.exists()

    assets = [numbers, reference]
    assert dg.materialize(assets, resources={"io_manager": io}, partition_key=day.start).success
    assert partition_file(lake / "raw" / "numbers", D1).exists()
    assert (lake / "ref" / "table" / "data.parquet").exists()


def test_io_manager_requires_a_partition_column(tmp_path: Path) -> None:
    @dg.asset(key=["raw", "unnamed"], partitions_def=DAYS)
    def unnamed() -> pl.DataFrame:
        return pl.DataFrame({"a": [1]})

    io = ParquetIOManager(base_dir=str(tmp_path))
    with pytest.raises(dg.DagsterInvariantViolationError, match="partition_expr"):
        dg.materialize([unnamed], resources={"io_manager": io}, partition_key="2013-01-01")


def test_a_null_partition_value_publishes_nothing(tmp_path: Path) -> None:
    with pytest.raises(PartitionMismatchError, match="rows with no day"):
        write_partitions(frame([D1, None], [1, 2]), tmp_path, "day", [D1])  # type: ignore[list-item]
    assert list(tmp_path.iterdir()) == []


def test_a_range_spanning_a_schema_change_reads_as_the_newest_schema(tmp_path: Path) -> None:
    write_partitions(frame([D1], [1]), tmp_path, "day", [D1])
    wider = frame([D2], [2]).with_columns(pl.col("value").cast(pl.Int64), note=pl.lit("new"))
    write_partitions(wider, tmp_path, "day", [D2])
    assert read(tmp_path, [D1, D2]).to_dict(as_series=False) == {
        "day": [D1, D2],
        "value": [1, 2],
        "note": [None, "new"],
    }


def daily_scan_input(start: date, end: date) -> dg.InputContext:
    return dg.build_input_context(
        asset_key=["raw", "numbers"],
        dagster_type=dg.PythonObjectDagsterType(DailyScan),
        asset_partitions_def=DAYS,
        asset_partition_key_range=dg.PartitionKeyRange(start.isoformat(), end.isoformat()),
    )


def test_a_daily_scan_reads_a_chunk_of_days_from_only_their_files(tmp_path: Path) -> None:
    table = tmp_path / "raw" / "numbers"
    write_partitions(frame([D1, D2, D3], [1, 2, 3]), table, "day", [D1, D2, D3])
    scan = ParquetIOManager(base_dir=str(tmp_path)).load_input(daily_scan_input(D1, D3))
    assert isinstance(scan, DailyScan)
    assert scan.days == (D1, D2, D3)
    partition_file(table, D1).write_bytes(b"not parquet")  # reading it would fail
    chunk = scan.scan([D2, D3])
    assert "date=2013-01-01" not in chunk.explain()
    assert chunk.collect()["value"].to_list() == [2, 3]
    with pytest.raises(ValueError, match=r"outside the run's partitions: 2013-01-04"):
        scan.scan([date(2013, 1, 4)])


def test_every_chunk_of_a_daily_scan_has_the_runs_newest_schema(tmp_path: Path) -> None:
    table = tmp_path / "raw" / "numbers"
    write_partitions(frame([D1], [1]), table, "day", [D1])
    write_partitions(frame([D2], [2]).with_columns(note=pl.lit("new")), table, "day", [D2])
    scan = ParquetIOManager(base_dir=str(tmp_path)).load_input(daily_scan_input(D1, D2))
    assert isinstance(scan, DailyScan)
    assert scan.scan([D1]).collect().to_dict(as_series=False) == {
        "day": [D1],
        "value": [1],
        "note": [None],
    }


def test_a_daily_scan_reports_a_missing_day_when_it_is_loaded(tmp_path: Path) -> None:
    write_partitions(frame([D1], [1]), tmp_path / "raw" / "numbers", "day", [D1])
    io = ParquetIOManager(base_dir=str(tmp_path))
    with pytest.raises(MissingPartitionError, match=r"\(2013-01-02\)"):
        io.load_input(daily_scan_input(D1, D2))
