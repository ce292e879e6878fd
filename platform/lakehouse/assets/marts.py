"""Marts: aggregates in the DuckDB warehouse, read from the star schema.

Each mart loads only the columns it reads from the warehouse. `mart_routes` spans every day:
it adds up the small daily `mart_routes_daily`, so a one-day run reads one day of the fact,
not the year.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
import polars as pl

from lakehouse.assets.automation import PROPAGATE_OVER_DAYS_PRESENT
from lakehouse.assets.metadata import (
    column_schema,
    daily_metadata,
    definition_metadata,
    lineage_metadata,
    markdown_preview,
    output_metadata,
)
from lakehouse.assets.warehouse import WAREHOUSE
from lakehouse.checks.monitors import DAILY_FRESHNESS
from lakehouse.chunks import rows_per_day
from lakehouse.partitions import DAILY
from lakehouse.resources.frames import COLUMNS
from lakehouse.resources.lake_io import ALLOW_MISSING
from lakehouse.resources.partitioning import PARTITION_EXPR
from lakehouse.transforms.marts import (
    DELAY_WEATHER,
    DELAY_WEATHER_LINEAGE,
    DELAY_WEATHER_READS,
    ONTIME_DAILY,
    ONTIME_DAILY_LINEAGE,
    ONTIME_DAILY_READS,
    ROUTES,
    ROUTES_DAILY,
    ROUTES_DAILY_LINEAGE,
    ROUTES_DAILY_READS,
    ROUTES_LINEAGE,
    ROUTES_READS,
    delay_weather,
    ontime_daily,
    routes,
    routes_daily,
)
from lakehouse.transforms.spec import TableSpec

FACT = dg.AssetKey(["marts", "fct_flights"])
DAILY_RANGE: dict[str, Any] = {
    "partitions_def": DAILY,
    "backfill_policy": dg.BackfillPolicy.single_run(),
    "freshness_policy": DAILY_FRESHNESS,
}


def mart_metadata(
    spec: TableSpec, lineage: dict[str, dict[str, list[str]]], inputs: dict[str, dg.AssetKey]
) -> dict[str, Any]:
    """Column schema and column lineage of a mart (also as a table the UI shows)."""
    return definition_metadata(column_schema(spec), **lineage_metadata(lineage, inputs))


def reading(
    inputs: Mapping[str, dg.AssetKey],
    reads: Mapping[str, Sequence[str]],
    **mappings: dg.PartitionMapping,
) -> dict[str, dg.AssetIn]:
    """The asset's inputs, each warehouse input loading only the columns the mart reads; an
    input mapped to every partition reads the days present (days arrive one by one).
    """
    return {
        name: dg.AssetIn(
            key,
            metadata={
                **({COLUMNS: list(reads[name])} if name in reads else {}),
                **({ALLOW_MISSING: True} if name in mappings else {}),
            }
            or None,
            partition_mapping=mappings.get(name),
        )
        for name, key in inputs.items()
    }


def _mart_output(
    mart: pl.DataFrame, spec: TableSpec, context: dg.AssetExecutionContext | None = None
) -> dg.Output[pl.DataFrame]:
    """The mart with its metadata; a daily mart (given its `context`) also gets each day's
    row count.
    """
    metadata = output_metadata(mart, column_schema(spec), preview=markdown_preview(mart))
    if context is not None:
        per_day = rows_per_day(mart, "flight_date")
        metadata = daily_metadata(context, context.asset_key, per_day, metadata)
    return dg.Output(mart, metadata=metadata)


ONTIME_INPUTS = {"flights": FACT, "airlines": dg.AssetKey(["marts", "dim_airline"])}


@dg.asset(
    key=["marts", "mart_ontime_daily"],
    ins=reading(ONTIME_INPUTS, ONTIME_DAILY_READS),
    metadata={
        **mart_metadata(ONTIME_DAILY, ONTIME_DAILY_LINEAGE, ONTIME_INPUTS),
        PARTITION_EXPR: "flight_date",
    },
    **DAILY_RANGE,
    **WAREHOUSE,
)
def mart_ontime_daily(
    context: dg.AssetExecutionContext, flights: pl.DataFrame, airlines: pl.DataFrame
) -> dg.Output[pl.DataFrame]:
    """On-time performance per day, carrier and New York airport: flights, cancelled, mean
    arrival delay and the share of arrivals more than 15 minutes late.
    """
    mart = ontime_daily(flights.lazy(), airlines.lazy()).collect()
    return _mart_output(mart, ONTIME_DAILY, context)


ROUTES_DAILY_KEY = dg.AssetKey(["marts", "mart_routes_daily"])
ROUTES_DAILY_INPUTS = {"flights": FACT}


@dg.asset(
    key=ROUTES_DAILY_KEY,
    ins=reading(ROUTES_DAILY_INPUTS, ROUTES_DAILY_READS),
    metadata={
        **mart_metadata(ROUTES_DAILY, ROUTES_DAILY_LINEAGE, ROUTES_DAILY_INPUTS),
        PARTITION_EXPR: "flight_date",
    },
    **DAILY_RANGE,
    **WAREHOUSE,
)
def mart_routes_daily(
    context: dg.AssetExecutionContext, flights: pl.DataFrame
) -> dg.Output[pl.DataFrame]:
    """Per day and route from New York: flights, cancellations, and the sums and counts of
    delays and distance that mart_routes adds up.
    """
    return _mart_output(routes_daily(flights.lazy()).collect(), ROUTES_DAILY, context)


ROUTES_INPUTS = {"daily": ROUTES_DAILY_KEY, "airports": dg.AssetKey(["marts", "dim_airport"])}


@dg.asset(
    key=["marts", "mart_routes"],
    # Every day of the daily route table (days x routes, small) feeds this unpartitioned mart.
    ins=reading(ROUTES_INPUTS, ROUTES_READS, daily=dg.AllPartitionMapping()),
    metadata=mart_metadata(ROUTES, ROUTES_LINEAGE, ROUTES_INPUTS),
    **{**WAREHOUSE, "automation_condition": PROPAGATE_OVER_DAYS_PRESENT},
)
def mart_routes(daily: pl.DataFrame, airports: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    """Every route from New York over the whole partition range: flights, cancellations, mean
    delays and distance.
    """
    return _mart_output(routes(daily.lazy(), airports.lazy()).collect(), ROUTES)


DELAY_WEATHER_INPUTS = {"flights": FACT, "weather": dg.AssetKey(["staged", "weather"])}


@dg.asset(
    key=["marts", "mart_delay_weather"],
    ins=reading(DELAY_WEATHER_INPUTS, DELAY_WEATHER_READS),
    metadata={
        **mart_metadata(DELAY_WEATHER, DELAY_WEATHER_LINEAGE, DELAY_WEATHER_INPUTS),
        PARTITION_EXPR: "flight_date",
    },
    **DAILY_RANGE,
    **WAREHOUSE,
)
def mart_delay_weather(
    context: dg.AssetExecutionContext, flights: pl.DataFrame, weather: pl.LazyFrame
) -> dg.Output[pl.DataFrame]:
    """Departure delays per day and origin against the weather in the scheduled hour, in bands
    of visibility, precipitation and wind.
    """
    mart = delay_weather(flights.lazy(), weather).collect()
    return _mart_output(mart, DELAY_WEATHER, context)
