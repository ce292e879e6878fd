from datetime import date, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import polars as pl
from dagster_duckdb import DuckDBResource
from polars.testing import assert_frame_equal

from lakehouse.assets.marts import mart_routes, mart_routes_daily
from lakehouse.partitions import DAILY
from lakehouse.resources.warehouse_io import DuckDBWarehouseIOManager
from lakehouse.runner import range_tags
from platform_tests.test_transforms.test_marts import random_flights, whole_fact_routes

FIRST = date(2013, 1, 1)  # random_flights starts here
DAYS = 3
AIRPORTS = pl.DataFrame(
    {"airport_sk": [-1, 1, 2], "faa": ["?", "IAH", "ORD"], "name": ["?", "Houston", "Chicago"]}
)
LOADS: list[tuple[str, list[str]]] = []


class RecordingWarehouse(DuckDBWarehouseIOManager):
    """The warehouse IO manager, noting which asset and partitions each input loads."""

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        keys = sorted(context.asset_partition_keys) if context.has_asset_partitions else []
        LOADS.append((context.asset_key.to_user_string(), keys))
        return super().load_input(context)


def stand_ins(fact: pl.DataFrame) -> list[dg.AssetsDefinition]:
    """The fact and dim_airport as upstream assets writing the given rows."""

    @dg.asset(
        key=["marts", "fct_flights"],
        partitions_def=DAILY,
        backfill_policy=dg.BackfillPolicy.single_run(),
        metadata={"partition_expr": "flight_date"},
    )
    def fct(context: dg.AssetExecutionContext) -> pl.DataFrame:
        days = [date.fromisoformat(k) for k in context.partition_keys]
        return fact.filter(pl.col("flight_date").is_in(days))

    @dg.asset(key=["marts", "dim_airport"])
    def airports() -> pl.DataFrame:
        return AIRPORTS

    return [fct, airports]


def materialize(fact: pl.DataFrame, db: Path, first: date, last: date) -> None:
    warehouse = RecordingWarehouse(duckdb=DuckDBResource(database=str(db)))
    result = dg.materialize(
        [*stand_ins(fact), mart_routes_daily, mart_routes],
        resources={"io_manager": warehouse, "warehouse_io_manager": warehouse},
        tags=range_tags(first, last),
    )
    assert result.success


def mart(db: Path) -> pl.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.sql('SELECT * FROM "marts"."mart_routes" ORDER BY ALL').pl()


def test_a_one_day_run_reads_that_day_of_the_fact_and_rolls_up_every_day(
    tmp_path: Path,
) -> None:
    db = tmp_path / "w.duckdb"
    fact = random_flights(rows=600, days=DAYS).filter(pl.col("dest").is_in(["IAH", "ORD"]))
    materialize(fact, db, FIRST, FIRST + timedelta(days=DAYS - 1))
    # Day 2 is delivered again with one flight fewer.
    second = FIRST + timedelta(days=1)
    changed = fact.filter(pl.col("flight_date") != second).vstack(
        fact.filter(pl.col("flight_date") == second).slice(1)
    )
    LOADS.clear()
    materialize(changed, db, second, second)
    fact_loads = [keys for key, keys in LOADS if key == "marts/fct_flights"]
    assert fact_loads == [[second.isoformat()]]  # the fact: that day only, never the year
    expected = whole_fact_routes(changed.lazy(), AIRPORTS.lazy()).collect()
    assert_frame_equal(mart(db), expected, check_exact=True, check_dtypes=False)


def test_routes_daily_loads_only_the_fact_columns_it_needs(tmp_path: Path) -> None:
    read: dict[str, Any] = {}
    original = RecordingWarehouse.load_input

    def spy(self: RecordingWarehouse, context: dg.InputContext) -> pl.DataFrame:
        frame = original(self, context)
        read[context.asset_key.to_user_string()] = frame.columns
        return frame

    RecordingWarehouse.load_input = spy  # type: ignore[method-assign]
    try:
        fact = random_flights(rows=50, days=1).with_columns(carrier=pl.lit("UA"))
        materialize(fact, tmp_path / "w.duckdb", FIRST, FIRST)
    finally:
        RecordingWarehouse.load_input = original  # type: ignore[method-assign]
    assert "carrier" not in read["marts/fct_flights"]
    assert set(read["marts/fct_flights"]) == {
        "flight_date", "origin", "dest", "cancelled", "dep_delay", "arr_delay", "distance"
    }  # fmt: skip
