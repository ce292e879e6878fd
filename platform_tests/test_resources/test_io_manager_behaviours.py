"""The behaviours Dagster's own IO-manager suites test (dagster-duckdb, dagster-duckdb-polars,
dagster-polars, dagster-deltalake), run against both of ours: the lake (Delta tables) and the
warehouse (DuckDB). Every Dagster partitioning, odd outputs, and the defects found in review.
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pandas as pd
import polars as pl
import pytest
from dagster_duckdb import DuckDBResource

from lakehouse.resources.lake_io import LakeIOManager
from lakehouse.resources.warehouse_io import DuckDBWarehouseIOManager


@dataclass(frozen=True)
class Store:
    """One IO manager under test and a way to read its tables without it."""

    name: str
    io_manager: dg.ConfigurableIOManager
    read: Callable[[Sequence[str]], pl.DataFrame]


def lake_store(tmp_path: Path) -> Store:
    root = tmp_path / "lake"

    def read(key: Sequence[str]) -> pl.DataFrame:
        return pl.read_delta(str(root.joinpath(*key)))

    return Store("lake", LakeIOManager(base_dir=str(root)), read)


def warehouse_store(tmp_path: Path) -> Store:
    db = tmp_path / "warehouse.duckdb"

    def read(key: Sequence[str]) -> pl.DataFrame:
        manager = DuckDBWarehouseIOManager(duckdb=DuckDBResource(database=str(db)))
        schema, table = manager.table_of(dg.AssetKey(list(key)))
        with duckdb.connect(str(db), read_only=True) as con:
            return con.sql(f'SELECT * FROM "{schema}"."{table}"').pl()

    return Store(
        "warehouse", DuckDBWarehouseIOManager(duckdb=DuckDBResource(database=str(db))), read
    )


@pytest.fixture(params=["lake", "warehouse"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return lake_store(tmp_path) if request.param == "lake" else warehouse_store(tmp_path)


def materialize(
    store: Store, assets: Sequence[dg.AssetsDefinition], partition_key: str | None = None, **kw: Any
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        assets, resources={"io_manager": store.io_manager}, partition_key=partition_key, **kw
    )


def failure(result: dg.ExecuteInProcessResult) -> str:
    """The message of the run's failed step."""
    [event] = [e for e in result.all_events if e.is_step_failure]
    error, messages = event.step_failure_data.error, []
    while error is not None:
        messages.append(error.message)
        error = error.cause
    return "\n".join(messages)


def sorted_rows(frame: pl.DataFrame) -> list[tuple[Any, ...]]:
    return sorted(frame.iter_rows(), key=str)


# --- every partitioning ---------------------------------------------------------------------

DAILY = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-05")


def test_daily_partitions_replace_only_their_day(store: Store) -> None:
    values = {"2024-01-01": [1, 2], "2024-01-02": [3]}

    @dg.asset(key=["s", "daily"], partitions_def=DAILY, metadata={"partition_expr": "day"})
    def daily(context: dg.AssetExecutionContext) -> pl.DataFrame:
        key = context.partition_key
        rows = values[key]
        return pl.DataFrame({"day": [date.fromisoformat(key)] * len(rows), "v": rows})

    assert materialize(store, [daily], "2024-01-01").success
    assert materialize(store, [daily], "2024-01-02").success
    values["2024-01-01"] = [10]
    assert materialize(store, [daily], "2024-01-01").success
    assert sorted_rows(store.read(["s", "daily"])) == [
        (date(2024, 1, 1), 10),
        (date(2024, 1, 2), 3),
    ]


def test_hourly_partitions_in_a_utc_datetime_column(store: Store) -> None:
    hourly = dg.HourlyPartitionsDefinition(start_date="2024-01-01-00:00")

    @dg.asset(key=["s", "hourly"], partitions_def=hourly, metadata={"partition_expr": "at"})
    def readings(context: dg.AssetExecutionContext) -> pl.DataFrame:
        start = context.partition_time_window.start.astimezone(UTC)
        minutes = [0, 30] if start.hour == 1 else [15]
        stamps = [start.replace(minute=m) for m in minutes]
        return pl.DataFrame(
            {"at": stamps, "v": [start.hour] * len(stamps)},
            schema={"at": pl.Datetime("us", "UTC"), "v": pl.Int64},
        )

    for key in ("2024-01-01-01:00", "2024-01-01-02:00", "2024-01-01-01:00"):
        assert materialize(store, [readings], key).success
    got = store.read(["s", "hourly"]).sort("at")
    assert got["v"].to_list() == [1, 1, 2]
    assert got["at"].dt.hour().to_list() == [1, 1, 2]


def test_monthly_partitions_over_a_date_column_of_days(store: Store) -> None:
    monthly = dg.MonthlyPartitionsDefinition(start_date="2024-01-01")
    version = {"n": 1}

    @dg.asset(key=["s", "monthly"], partitions_def=monthly, metadata={"partition_expr": "day"})
    def by_month(context: dg.AssetExecutionContext) -> pl.DataFrame:
        first = context.partition_time_window.start.date()
        days = [first.replace(day=d) for d in (1, 15, 28)]
        return pl.DataFrame({"day": days, "v": [version["n"]] * 3})

    assert materialize(store, [by_month], "2024-01-01").success
    assert materialize(store, [by_month], "2024-02-01").success
    version["n"] = 2
    assert materialize(store, [by_month], "2024-01-01").success
    got = store.read(["s", "monthly"])
    assert got.group_by(pl.col("day").dt.month()).agg(pl.col("v").unique()).sort("day").rows() == [
        (1, [2]),
        (2, [1]),
    ]
    assert got.height == 6


def test_static_partitions(store: Store) -> None:
    colors = dg.StaticPartitionsDefinition(["red", "blue"])
    sizes = {"red": 2, "blue": 1}

    @dg.asset(key=["s", "colors"], partitions_def=colors, metadata={"partition_expr": "color"})
    def painted(context: dg.AssetExecutionContext) -> pl.DataFrame:
        n = sizes[context.partition_key]
        return pl.DataFrame({"color": [context.partition_key] * n, "v": list(range(n))})

    assert materialize(store, [painted], "red").success
    assert materialize(store, [painted], "blue").success
    sizes["red"] = 3
    assert materialize(store, [painted], "red").success
    got = store.read(["s", "colors"])
    assert dict(got.group_by("color").len().iter_rows()) == {"red": 3, "blue": 1}


def test_dynamic_partitions(store: Store) -> None:
    fruits = dg.DynamicPartitionsDefinition(name="fruits")

    @dg.asset(key=["s", "fruit"], partitions_def=fruits, metadata={"partition_expr": "fruit"})
    def fruit(context: dg.AssetExecutionContext) -> pl.DataFrame:
        return pl.DataFrame({"fruit": [context.partition_key], "v": [len(context.partition_key)]})

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("fruits", ["apple", "kiwi"])
        for key in ("apple", "kiwi"):
            assert materialize(store, [fruit], key, instance=instance).success
    assert sorted_rows(store.read(["s", "fruit"])) == [("apple", 5), ("kiwi", 4)]


def test_multi_partitions_time_by_static(store: Store) -> None:
    multi = dg.MultiPartitionsDefinition(
        {"date": DAILY, "symbol": dg.StaticPartitionsDefinition(["AAPL", "MSFT"])}
    )
    price = {"n": 1.0}

    @dg.asset(
        key=["s", "prices"],
        partitions_def=multi,
        metadata={"partition_expr": {"date": "day", "symbol": "symbol"}},
    )
    def prices(context: dg.AssetExecutionContext) -> pl.DataFrame:
        keys = context.partition_key.keys_by_dimension  # type: ignore[attr-defined]
        return pl.DataFrame(
            {
                "day": [date.fromisoformat(keys["date"])],
                "symbol": [keys["symbol"]],
                "p": [price["n"]],
            }
        )

    for key in ("2024-01-01|AAPL", "2024-01-01|MSFT", "2024-01-02|AAPL"):
        assert materialize(store, [prices], key).success
    price["n"] = 9.0
    assert materialize(store, [prices], "2024-01-01|MSFT").success
    assert sorted_rows(store.read(["s", "prices"])) == [
        (date(2024, 1, 1), "AAPL", 1.0),
        (date(2024, 1, 1), "MSFT", 9.0),
        (date(2024, 1, 2), "AAPL", 1.0),
    ]


def test_a_datetime_column_holds_daily_partitions(store: Store) -> None:
    @dg.asset(key=["s", "events"], partitions_def=DAILY, metadata={"partition_expr": "at"})
    def events(context: dg.AssetExecutionContext) -> pl.DataFrame:
        start = context.partition_time_window.start.astimezone(UTC)
        stamps = [start.replace(hour=h) for h in (0, 23)]
        return pl.DataFrame({"at": stamps}, schema={"at": pl.Datetime("us", "UTC")})

    for key in ("2024-01-01", "2024-01-02", "2024-01-01"):
        assert materialize(store, [events], key).success
    assert store.read(["s", "events"]).height == 4


# --- what an output may be --------------------------------------------------------------------


def test_a_missing_partition_expr_is_a_clear_error(store: Store) -> None:
    @dg.asset(key=["s", "bare"], partitions_def=DAILY)
    def bare() -> pl.DataFrame:
        return pl.DataFrame({"day": [date(2024, 1, 1)]})

    result = materialize(store, [bare], "2024-01-01", raise_on_error=False)
    message = failure(result)
    assert "s/bare" in message
    assert "partition_expr" in message
    assert "Daily" in message or "time windows" in message


def test_an_unsupported_output_type_names_the_asset(store: Store) -> None:
    @dg.asset(key=["s", "number"])
    def number() -> int:
        return 3

    message = failure(materialize(store, [number], raise_on_error=False))
    assert "s/number returned a int" in message
    assert "polars DataFrame" in message


def test_a_pandas_output_is_stored(store: Store) -> None:
    @dg.asset(key=["s", "from_pandas"])
    def from_pandas() -> pd.DataFrame:
        return pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})

    assert materialize(store, [from_pandas]).success
    assert sorted_rows(store.read(["s", "from_pandas"])) == [(1, "x"), (2, "y")]


def test_a_none_output_clears_its_partition_so_nothing_stale_is_read(store: Store) -> None:
    deliver = {"rows": True}

    @dg.asset(key=["s", "maybe"], partitions_def=DAILY, metadata={"partition_expr": "day"})
    def maybe(context: dg.AssetExecutionContext) -> pl.DataFrame | None:
        if not deliver["rows"]:
            return None
        return pl.DataFrame({"day": [date.fromisoformat(context.partition_key)], "v": [1]})

    @dg.asset(
        key=["s", "after"],
        partitions_def=DAILY,
        metadata={"partition_expr": "day"},
        ins={"maybe": dg.AssetIn(["s", "maybe"])},
    )
    def after(context: dg.AssetExecutionContext, maybe: pl.DataFrame | None) -> pl.DataFrame:
        day = date.fromisoformat(context.partition_key)
        return pl.DataFrame({"day": [day], "rows": [0 if maybe is None else maybe.height]})

    assert materialize(store, [maybe], "2024-01-01").success
    assert materialize(store, [maybe], "2024-01-02").success
    deliver["rows"] = False
    result = materialize(store, [maybe, after], "2024-01-01")
    assert result.success
    assert result.output_for_node("s__after")["rows"].to_list() == [0]
    assert store.read(["s", "maybe"])["day"].to_list() == [date(2024, 1, 2)]


def test_a_self_dependent_asset_starts_from_nothing(store: Store) -> None:
    @dg.asset(
        key=["s", "running"],
        partitions_def=DAILY,
        metadata={"partition_expr": "day"},
        ins={
            "previous": dg.AssetIn(
                ["s", "running"],
                partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=-1),
            )
        },
    )
    def running(context: dg.AssetExecutionContext, previous: pl.DataFrame) -> pl.DataFrame:
        total = int(previous["total"].sum()) if previous.height else 0
        day = date.fromisoformat(context.partition_key)
        return pl.DataFrame({"day": [day], "total": [total + 1]})

    assert materialize(store, [running], "2024-01-01").success
    assert materialize(store, [running], "2024-01-02").success
    assert sorted_rows(store.read(["s", "running"])) == [
        (date(2024, 1, 1), 1),
        (date(2024, 1, 2), 2),
    ]


def test_keys_that_share_a_last_part_are_different_tables(store: Store) -> None:
    @dg.asset(key=["lake", "x", "t"])
    def x_t() -> pl.DataFrame:
        return pl.DataFrame({"who": ["x"]})

    @dg.asset(key=["lake", "y", "t"])
    def y_t() -> pl.DataFrame:
        return pl.DataFrame({"who": ["y"]})

    assert materialize(store, [x_t, y_t]).success
    assert store.read(["lake", "x", "t"])["who"].to_list() == ["x"]
    assert store.read(["lake", "y", "t"])["who"].to_list() == ["y"]


def test_a_key_part_that_would_leave_the_store_is_refused(store: Store, tmp_path: Path) -> None:
    @dg.asset(key=["s", "..", "escape"])
    def escape() -> pl.DataFrame:
        return pl.DataFrame({"a": [1]})

    message = failure(materialize(store, [escape], raise_on_error=False))
    assert "'..'" in message
    assert not (tmp_path / "escape").exists()


# --- schemas ----------------------------------------------------------------------------------


def test_an_added_column_evolves_the_table_and_old_rows_read_null(store: Store) -> None:
    extra = {"on": False}

    @dg.asset(key=["s", "grow"], partitions_def=DAILY, metadata={"partition_expr": "day"})
    def grow(context: dg.AssetExecutionContext) -> pl.DataFrame:
        frame = pl.DataFrame({"day": [date.fromisoformat(context.partition_key)], "a": [1]})
        return frame.with_columns(b=pl.lit("new")) if extra["on"] else frame

    assert materialize(store, [grow], "2024-01-01").success
    extra["on"] = True
    assert materialize(store, [grow], "2024-01-02").success
    assert sorted_rows(store.read(["s", "grow"])) == [
        (date(2024, 1, 1), 1, None),
        (date(2024, 1, 2), 1, "new"),
    ]


@pytest.mark.parametrize(
    ("second", "expected"),
    [
        (pl.DataFrame({"day": [date(2024, 1, 2)]}), "is missing"),
        (pl.DataFrame({"day": [date(2024, 1, 2)], "a": ["one"]}), "changed"),
    ],
    ids=["removed", "retyped"],
)
def test_a_removed_or_retyped_column_is_refused_by_name(
    store: Store, second: pl.DataFrame, expected: str
) -> None:
    frames = iter([pl.DataFrame({"day": [date(2024, 1, 1)], "a": [1]}), second])

    @dg.asset(key=["s", "drift"], partitions_def=DAILY, metadata={"partition_expr": "day"})
    def drift() -> pl.DataFrame:
        return next(frames)

    assert materialize(store, [drift], "2024-01-01").success
    message = failure(materialize(store, [drift], "2024-01-02", raise_on_error=False))
    assert re.search(rf"[.']a'? {expected}", message)
    assert store.read(["s", "drift"]).height == 1


def test_all_null_columns_of_an_empty_output_take_the_table_type(store: Store) -> None:
    outputs = iter(
        [
            pl.DataFrame({"day": [date(2024, 1, 1)], "v": ["x"]}),
            pl.DataFrame(schema={"day": pl.Date, "v": pl.Null}),
            pl.DataFrame({"day": [date(2024, 1, 3)], "v": ["z"]}),
            pl.DataFrame(schema={"day": pl.Date, "v": pl.Null}),
        ]
    )

    @dg.asset(key=["s", "nulls"], partitions_def=DAILY, metadata={"partition_expr": "day"})
    def nulls() -> pl.DataFrame:
        return next(outputs)

    @dg.asset(
        key=["s", "reader"],
        ins={"nulls": dg.AssetIn(["s", "nulls"], partition_mapping=dg.AllPartitionMapping())},
    )
    def reader(nulls: pl.DataFrame) -> pl.DataFrame:
        return nulls

    for key in ("2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"):
        assert materialize(store, [nulls], key).success
    result = materialize(store, [nulls, reader], selection=[reader.key])
    assert result.success
    assert sorted(result.output_for_node("s__reader")["v"].to_list()) == ["x", "z"]


def test_an_untyped_new_column_is_refused_with_the_fix(store: Store) -> None:
    @dg.asset(key=["s", "untyped"])
    def untyped() -> pl.DataFrame:
        return pl.DataFrame({"a": [1], "b": [None]})

    message = failure(materialize(store, [untyped], raise_on_error=False))
    assert re.search(r"[.']b'? has no type", message)
    assert "cast" in message


# --- reading ----------------------------------------------------------------------------------


def test_reading_a_lake_partition_never_written_names_it(tmp_path: Path) -> None:
    # The lake keeps a file for every partition written (an empty one too), so it can tell a
    # partition never written from an empty one; the warehouse only has rows.
    store = lake_store(tmp_path)

    @dg.asset(key=["s", "up"], partitions_def=DAILY, metadata={"partition_expr": "day"})
    def up(context: dg.AssetExecutionContext) -> pl.DataFrame:
        return pl.DataFrame({"day": [date.fromisoformat(context.partition_key)]})

    @dg.asset(
        key=["s", "down"],
        partitions_def=DAILY,
        metadata={"partition_expr": "day"},
        ins={"up": dg.AssetIn(["s", "up"])},
    )
    def down(up: pl.DataFrame) -> pl.DataFrame:
        return up

    assert materialize(store, [up], "2024-01-01").success
    result = materialize(
        store, [up, down], "2024-01-02", selection=[down.key], raise_on_error=False
    )
    message = failure(result)
    assert "s/up" in message
    assert "2024-01-02" in message


def test_a_range_run_reads_and_writes_every_partition_once(store: Store) -> None:
    @dg.asset(
        key=["s", "ranged"],
        partitions_def=DAILY,
        metadata={"partition_expr": "day"},
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def ranged(context: dg.AssetExecutionContext) -> pl.DataFrame:
        days = [date.fromisoformat(k) for k in context.partition_keys]
        return pl.DataFrame({"day": days, "v": list(range(len(days)))})

    tags = {
        "dagster/asset_partition_range_start": "2024-01-01",
        "dagster/asset_partition_range_end": "2024-01-03",
    }
    assert dg.materialize([ranged], resources={"io_manager": store.io_manager}, tags=tags).success
    assert store.read(["s", "ranged"]).height == 3


def test_rows_outside_the_run_are_refused_and_nothing_is_written(store: Store) -> None:
    @dg.asset(key=["s", "stray"], partitions_def=DAILY, metadata={"partition_expr": "day"})
    def stray() -> pl.DataFrame:
        return pl.DataFrame({"day": [date(2024, 1, 1), date(2024, 1, 3)]})

    message = failure(materialize(store, [stray], "2024-01-01", raise_on_error=False))
    assert "outside this run's partitions" in message
    assert "2024-01-03" in message
