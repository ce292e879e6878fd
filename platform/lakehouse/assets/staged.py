"""Staged layer: typed, deduplicated tables; rows that cannot be staged fail the run by name."""

from collections.abc import Callable, Iterator
from typing import Any

import dagster as dg
import polars as pl

from lakehouse.assets.metadata import (
    OWNERS,
    column_schema,
    definition_metadata,
    markdown_preview,
    output_metadata,
)
from lakehouse.checks.logic import duplicate_keys
from lakehouse.partitions import DAILY
from lakehouse.resources.parquet_io import PARTITION_EXPR
from lakehouse.transforms.airlines import STAGED_AIRLINES, stage_airlines
from lakehouse.transforms.flights import (
    STAGED_FLIGHTS,
    add_arrival_utc,
    dedupe_flights,
    stage_flights,
)
from lakehouse.transforms.parsing import ROW_ERRORS
from lakehouse.transforms.reference import (
    STAGED_AIRPORTS,
    STAGED_PLANES,
    stage_airports,
    stage_planes,
)
from lakehouse.transforms.spec import TableSpec
from lakehouse.transforms.weather import STAGED_WEATHER, stage_weather

STAGED: dict[str, Any] = {
    "group_name": "staged",
    "kinds": {"polars", "parquet"},
    "owners": OWNERS,
    "io_manager_key": "lake_io_manager",
}
DAILY_STAGED: dict[str, Any] = {
    **STAGED,
    "partitions_def": DAILY,
    "backfill_policy": dg.BackfillPolicy.single_run(),
}
FLIGHTS_KEY = dg.AssetKey(["staged", "flights"])


class StagingError(Exception):
    """Rows that could not be staged; the message lists them by file and line."""


def reject_row_errors(staged: pl.DataFrame) -> pl.DataFrame:
    """The staged rows without their `_row_errors` column, or a StagingError naming each bad row
    by file and line (at most 5, then a count).
    """
    bad = staged.filter(pl.col(ROW_ERRORS).is_not_null())
    if bad.height:
        listed = "; ".join(
            f"{file}:{line}: {problem}"
            for file, line, problem in bad.select("_source_file", "_line_number", ROW_ERRORS)
            .head(5)
            .iter_rows()
        )
        msg = f"{bad.height} row(s) cannot be staged: {listed}. Fix the files and deliver again"
        raise StagingError(msg)
    return staged.drop(ROW_ERRORS)


@dg.asset(
    key=FLIGHTS_KEY,
    ins={"raw": dg.AssetIn(["raw", "flights"]), "airports": dg.AssetIn(["staged", "airports"])},
    metadata=definition_metadata(column_schema(STAGED_FLIGHTS), **{PARTITION_EXPR: "flight_date"}),
    check_specs=[
        dg.AssetCheckSpec(
            "business_key_unique",
            asset=FLIGHTS_KEY,
            blocking=True,
            description="One row per (" + ", ".join(STAGED_FLIGHTS.key) + ") in each partition.",
        )
    ],
    code_version="2",
    **DAILY_STAGED,
)
def staged_flights(
    raw: pl.LazyFrame, airports: pl.DataFrame
) -> Iterator[dg.Output[pl.DataFrame] | dg.AssetCheckResult]:
    """Typed flights: departures in New York time and UTC, arrivals in the destination's time
    zone and UTC, the cancelled flag; one row per business key.
    """
    staged = reject_row_errors(stage_flights(raw).collect())
    deduped = dedupe_flights(staged.lazy())
    zones = airports["tzone"].drop_nulls().unique().sort().to_list()
    flights = add_arrival_utc(deduped, airports.lazy(), zones).collect()
    duplicates = duplicate_keys(flights, STAGED_FLIGHTS.key)
    no_zone = flights.filter(pl.col("dest_tzone").is_null())
    yield dg.Output(
        flights,
        metadata=output_metadata(
            flights,
            duplicates_removed=staged.height - flights.height,
            arrivals_without_time_zone=no_zone.height,
            destinations_without_time_zone=", ".join(no_zone["dest"].unique().sort()),
        ),
    )
    yield dg.AssetCheckResult(
        asset_key=FLIGHTS_KEY,
        check_name="business_key_unique",
        passed=duplicates.passed,
        metadata={
            "duplicate_keys": duplicates.keys,
            "excess_rows": duplicates.excess_rows,
            "sample": markdown_preview(duplicates.sample),
        },
    )


@dg.asset(
    key=["staged", "weather"],
    ins={"raw": dg.AssetIn(["raw", "weather"])},
    metadata=definition_metadata(column_schema(STAGED_WEATHER), **{PARTITION_EXPR: "weather_date"}),
    code_version="1",
    **DAILY_STAGED,
)
def staged_weather(raw: pl.LazyFrame) -> dg.Output[pl.DataFrame]:
    """Hourly weather per New York airport, keyed by the UTC hour; hours that repeat on the
    local clock when daylight saving ends are kept and marked.
    """
    typed = raw.collect()
    weather = reject_row_errors(stage_weather(typed.lazy()).collect())
    return dg.Output(
        weather,
        metadata=output_metadata(
            weather,
            duplicates_removed=typed.height - weather.height,
            repeated_local_hours=int(weather["repeated_local_hour"].sum()),
        ),
    )


def build_staged_reference(
    table: str, spec: TableSpec, transform: Callable[[pl.LazyFrame], pl.LazyFrame], doc: str
) -> dg.AssetsDefinition:
    """A staged reference table: `transform` over every raw snapshot, nothing unexplained."""

    @dg.asset(
        key=["staged", table],
        ins={"raw": dg.AssetIn(["raw", table])},
        metadata=definition_metadata(column_schema(spec)),
        description=doc,
        code_version="1",
        **STAGED,
    )
    def _staged(raw: pl.LazyFrame) -> dg.Output[pl.DataFrame]:
        staged = reject_row_errors(transform(raw).collect())
        return dg.Output(staged, metadata=output_metadata(staged))

    return _staged


staged_airlines = build_staged_reference(
    "airlines", STAGED_AIRLINES, stage_airlines, "One row per carrier, from the newest snapshot."
)
staged_airports = build_staged_reference(
    "airports", STAGED_AIRPORTS, stage_airports, "One row per airport, from the newest snapshot."
)
staged_planes = build_staged_reference(
    "planes", STAGED_PLANES, stage_planes, "Every planes snapshot: one row per plane per day."
)
