"""Daily partitions staged one day at a time and published by the IO manager in one step."""

from datetime import date
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from lakehouse.assets.raw import RAW_FILE_STATISTICS
from lakehouse.resources.parquet_io import (
    PartitionMismatchError,
    PartitionStaging,
    publish_staged,
    scan_partitions,
    split_days,
)

D1, D2, D3 = date(2013, 1, 1), date(2013, 1, 2), date(2013, 1, 3)
SCHEMA = {"day": pl.Date, "value": pl.Int64}


def rows(day: date, *values: int) -> pl.DataFrame:
    return pl.DataFrame({"day": [day] * len(values), "value": list(values)}, schema=SCHEMA)


def values(table: Path, day: date) -> list[int]:
    return scan_partitions(table, [day]).collect()["value"].to_list()


def test_staged_days_replace_exactly_the_partitions_of_the_run(
    tmp_path: Path, scratch: Path
) -> None:
    table = tmp_path / "lake" / "raw" / "numbers"
    with PartitionStaging() as staging:
        for day in (D1, D2, D3):
            staging.write(day, rows(day, 1))
        publish_staged(staging.staged(), table, [D1, D2, D3])
    with PartitionStaging() as staging:
        staging.write(D2, rows(D2, 20, 21))
        staging.write(D3, rows(D3))  # a day with no rows still replaces the old ones
        publish_staged(staging.staged(), table, [D2, D3])
    assert [values(table, d) for d in (D1, D2, D3)] == [[1], [20, 21], []]
    assert scan_partitions(table, [D3]).collect_schema() == pl.Schema(SCHEMA)
    assert sorted(p.name for p in table.iterdir()) == [f"date={d}" for d in (D1, D2, D3)]
    assert list(scratch.iterdir()) == []


@pytest.mark.parametrize(
    ("staged", "message"),
    [
        pytest.param([D1], r"1 day\(s\) \(2013-01-02\)", id="a day missing"),
        pytest.param([D1, D2, D3], r"1 day\(s\) \(2013-01-03\)", id="a day too many"),
    ],
)
def test_staged_days_that_are_not_the_runs_publish_nothing(
    tmp_path: Path, scratch: Path, staged: list[date], message: str
) -> None:
    table = tmp_path / "numbers"
    with PartitionStaging() as staging:
        staging.write(D1, rows(D1, 1))
        publish_staged(staging.staged(), table, [D1])
    with PartitionStaging() as staging:
        for day in staged:
            staging.write(day, rows(day, 9))
        with pytest.raises(PartitionMismatchError, match=message):
            publish_staged(staging.staged(), table, [D1, D2])
    assert values(table, D1) == [1]
    assert [p.name for p in table.iterdir()] == ["date=2013-01-01"]
    assert list(scratch.iterdir()) == []


def stage_two_days_then_fail() -> None:
    with PartitionStaging() as staging:
        staging.write(D1, rows(D1, 1))
        staging.write(D2, rows(D2, 2))
        msg = "the third day failed"
        raise RuntimeError(msg)


def test_a_failed_run_leaves_no_scratch_files(scratch: Path) -> None:
    with pytest.raises(RuntimeError, match="the third day failed"):
        stage_two_days_then_fail()
    assert list(scratch.iterdir()) == []


def test_a_failed_write_is_raised_not_lost(scratch: Path) -> None:
    with PartitionStaging() as staging:
        staging.folder.rmdir()  # the scratch folder is gone: the background write must fail
        staging.write(D1, rows(D1, 1))
        with pytest.raises(FileNotFoundError):
            staging.staged()


def test_days_without_rows_are_staged_as_empty_partitions_and_others_are_kept(
    tmp_path: Path, scratch: Path
) -> None:
    table = tmp_path / "table"
    with PartitionStaging() as staging:
        staging.write(D1, rows(D1, 1, 2))
        staging.write_missing([D1, D2, D3], pl.Schema(SCHEMA))
        publish_staged(staging.staged(), table, [D1, D2, D3])

    assert values(table, D1) == [1, 2]
    assert values(table, D2) == values(table, D3) == []
    assert scan_partitions(table, [D3]).collect_schema() == pl.Schema(SCHEMA)


def test_a_frame_of_several_days_is_staged_one_file_per_day_in_row_order(
    tmp_path: Path, scratch: Path
) -> None:
    table = tmp_path / "table"
    several = pl.concat([rows(D2, 3, 1), rows(D1, 2), rows(D2, 2)])
    with PartitionStaging() as staging:
        staging.write_days(several, "day")
        staging.write_missing([D1, D2, D3], pl.Schema(SCHEMA))
        publish_staged(staging.staged(), table, [D1, D2, D3])
    assert [values(table, d) for d in (D1, D2, D3)] == [[2], [3, 1, 2], []]
    assert list(scratch.iterdir()) == []


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(pl.concat([rows(D1, 2), rows(D2, 3, 1), rows(D3, 4)]), id="ordered by day"),
        pytest.param(pl.concat([rows(D2, 3, 1), rows(D1, 2), rows(D2, 2)]), id="days mixed"),
        pytest.param(rows(D1), id="no rows"),
    ],
)
def test_split_days_gives_each_days_rows_in_order(frame: pl.DataFrame) -> None:
    expected = frame.partition_by("day", as_dict=True, maintain_order=True)
    split = list(split_days(frame, "day"))
    assert [day for day, _ in split] == [day for (day,) in expected]
    assert all(part.equals(expected[(day,)]) for day, part in split)


@pytest.mark.parametrize(
    ("statistics", "min_max"),
    [pytest.param(True, True, id="default"), pytest.param(RAW_FILE_STATISTICS, False, id="raw")],
)
def test_day_files_are_written_with_the_statistics_asked_for(
    tmp_path: Path, scratch: Path, statistics: bool | dict[str, bool], min_max: bool
) -> None:
    with PartitionStaging(statistics=statistics) as staging:
        staging.write(D1, rows(D1, 1, 2))
        staging.write_days(pl.concat([rows(D2, 3), rows(D3, 4)]), "day")
        files = publish_staged(staging.staged(), tmp_path, [D1, D2, D3])
    for file in files.values():
        for column in pq.ParquetFile(file).metadata.row_group(0).to_dict()["columns"]:
            stats = column["statistics"]
            assert (stats["has_min_max"], stats["null_count"]) == (min_max, 0), file
