"""Partition keys to the rows they are, for every Dagster partitioning (no store involved)."""

from datetime import UTC, date, datetime

import dagster as dg
import polars as pl
import pytest

from lakehouse.resources.partitioning import (
    PartitioningError,
    key_aligned_columns,
    numbered_placeholders,
    partition_slice,
    partition_values,
)

DAILY = dg.DailyPartitionsDefinition(start_date="2024-01-01")
HOURLY = dg.HourlyPartitionsDefinition(start_date="2024-01-01-00:00")
COLORS = dg.StaticPartitionsDefinition(["red", "blue", "green"])


def rows_in(frame: pl.DataFrame, slice_expr: pl.Expr) -> list[object]:
    return frame.filter(slice_expr).to_series(-1).to_list()


def test_a_daily_range_is_one_window_over_a_date_column() -> None:
    slice_ = partition_slice("t", DAILY, "day", ["2024-01-02", "2024-01-03"])
    frame = pl.DataFrame({"day": [date(2024, 1, d) for d in (1, 2, 3, 4)], "n": [1, 2, 3, 4]})
    assert rows_in(frame, slice_.filter(frame.schema)) == [2, 3]
    assert slice_.where(frame.schema) == (
        '(("day" >= ? AND "day" < ?))',
        [date(2024, 1, 2), date(2024, 1, 4)],
    )
    assert key_aligned_columns(slice_, frame.schema)
    assert partition_values(slice_) == [("2024-01-02",), ("2024-01-03",)]


def test_hourly_windows_compare_instants_in_the_columns_zone() -> None:
    slice_ = partition_slice("t", HOURLY, "at", ["2024-01-01-05:00"])
    frame = pl.DataFrame(
        {"at": [datetime(2024, 1, 1, 5, 30, tzinfo=UTC), datetime(2024, 1, 1, 6, tzinfo=UTC)]}
    ).with_columns(pl.col("at").dt.convert_time_zone("America/New_York"), n=pl.Series([1, 2]))
    assert rows_in(frame, slice_.filter(frame.schema)) == [1]
    assert not key_aligned_columns(slice_, frame.schema)


def test_an_hourly_partition_cannot_live_in_a_date_column() -> None:
    slice_ = partition_slice("t", HOURLY, "day", ["2024-01-01-05:00"])
    with pytest.raises(PartitioningError, match="shorter than a day; store .* Datetime"):
        slice_.check(pl.Schema({"day": pl.Date}))


def test_a_string_column_holds_time_partitions_as_their_keys() -> None:
    slice_ = partition_slice("t", DAILY, "key", ["2024-01-02"])
    frame = pl.DataFrame({"key": ["2024-01-01", "2024-01-02"], "n": [1, 2]})
    assert rows_in(frame, slice_.filter(frame.schema)) == [2]


def test_static_keys_compare_as_text() -> None:
    slice_ = partition_slice("t", COLORS, "color", ["red", "green"])
    frame = pl.DataFrame({"color": ["red", "blue", "green"], "n": [1, 2, 3]})
    assert rows_in(frame, slice_.filter(frame.schema)) == [1, 3]
    assert slice_.where(frame.schema) == ('("color" IN (?, ?))', ["red", "green"])


def test_a_multi_partition_rectangle_ands_its_dimensions() -> None:
    multi = dg.MultiPartitionsDefinition({"date": DAILY, "color": COLORS})
    slice_ = partition_slice(
        "t", multi, {"date": "day", "color": "color"}, ["red|2024-01-01", "blue|2024-01-01"]
    )
    assert not slice_.combinations
    assert partition_values(slice_) == [("blue", "2024-01-01"), ("red", "2024-01-01")]


def test_an_irregular_multi_partition_set_lists_its_combinations() -> None:
    multi = dg.MultiPartitionsDefinition({"date": DAILY, "color": COLORS})
    keys = ["red|2024-01-01", "blue|2024-01-02"]
    slice_ = partition_slice("t", multi, {"date": "day", "color": "color"}, keys)
    frame = pl.DataFrame(
        {
            "day": [date(2024, 1, 1), date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 2)],
            "color": ["red", "blue", "red", "blue"],
            "n": [1, 2, 3, 4],
        }
    )
    assert rows_in(frame, slice_.filter(frame.schema)) == [1, 4]
    where, params = slice_.where(frame.schema)
    assert where.count(" OR ") == 1
    assert len(params) == 6


@pytest.mark.parametrize(
    ("partitions_def", "expr", "message"),
    [
        (DAILY, None, r"t is partitioned \(time windows .*\) but has no 'partition_expr'"),
        (DAILY, {"day": "x"}, "must be one column name"),
        (
            dg.MultiPartitionsDefinition({"date": DAILY, "color": COLORS}),
            "day",
            "must map each dimension to its column",
        ),
    ],
    ids=["missing", "a dict for one dimension", "a name for a multi-partition"],
)
def test_a_bad_partition_expr_says_what_to_write(
    partitions_def: dg.PartitionsDefinition, expr: object, message: str
) -> None:
    with pytest.raises(PartitioningError, match=message):
        partition_slice("t", partitions_def, expr, [])


def test_a_column_the_table_lacks_is_named() -> None:
    slice_ = partition_slice("t", DAILY, "day", ["2024-01-01"])
    with pytest.raises(PartitioningError, match="names column 'day', which the table does not"):
        slice_.check(pl.Schema({"when": pl.Date}))


def test_no_keys_is_an_empty_slice_that_matches_nothing() -> None:
    slice_ = partition_slice("t", DAILY, "day", [])
    frame = pl.DataFrame({"day": [date(2024, 1, 1)], "n": [1]})
    assert slice_.is_empty
    assert rows_in(frame, slice_.filter(frame.schema)) == []
    assert slice_.where(frame.schema)[0] == "(FALSE)"


def test_postgres_placeholders_are_numbered() -> None:
    assert numbered_placeholders('"a" >= ? AND "a" < ?') == '"a" >= $1 AND "a" < $2'
