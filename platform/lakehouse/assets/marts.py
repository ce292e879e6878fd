"""Marts: aggregates in the DuckDB warehouse."""

from typing import Any

import dagster as dg
import polars as pl

from lakehouse.assets.metadata import (
    OWNERS,
    column_lineage,
    column_schema,
    definition_metadata,
    markdown_preview,
    output_metadata,
)
from lakehouse.partitions import DAILY
from lakehouse.resources.parquet_io import PARTITION_EXPR
from lakehouse.transforms.marts import ONTIME_DAILY, ONTIME_DAILY_LINEAGE, ontime_daily

MARTS: dict[str, Any] = {
    "group_name": "marts",
    "kinds": {"polars", "duckdb"},
    "owners": OWNERS,
    "io_manager_key": "warehouse_io_manager",
    # DuckDB allows one writer per file: runs take turns on the warehouse.
    "pool": "warehouse",
}
ONTIME_INPUTS = {
    "flights": dg.AssetKey(["staged", "flights"]),
    "airlines": dg.AssetKey(["staged", "airlines"]),
}


@dg.asset(
    key=["marts", "mart_ontime_daily"],
    ins={name: dg.AssetIn(key) for name, key in ONTIME_INPUTS.items()},
    partitions_def=DAILY,
    backfill_policy=dg.BackfillPolicy.single_run(),
    metadata=definition_metadata(
        column_schema(ONTIME_DAILY),
        **{
            PARTITION_EXPR: "flight_date",
            "dagster/column_lineage": column_lineage(ONTIME_DAILY_LINEAGE, ONTIME_INPUTS),
        },
    ),
    code_version="1",
    **MARTS,
)
def mart_ontime_daily(flights: pl.LazyFrame, airlines: pl.LazyFrame) -> dg.Output[pl.DataFrame]:
    """On-time performance per day and carrier: flights, cancelled, mean arrival delay and the
    share of arrivals more than 15 minutes late.
    """
    mart = ontime_daily(flights, airlines).collect()
    return dg.Output(mart, metadata=output_metadata(mart, preview=markdown_preview(mart)))
