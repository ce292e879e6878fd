"""The star schema in the DuckDB warehouse: dimensions and the flights fact."""

from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

import dagster as dg
import polars as pl

from lakehouse.assets.automation import BUILD_WHEN_MISSING, PROPAGATE
from lakehouse.assets.metadata import (
    AS_OF_DAY,
    OWNERS,
    column_schema,
    daily_metadata,
    definition_metadata,
    markdown_preview,
    output_metadata,
)
from lakehouse.checks.logic import Orphans, orphan_keys, summarize_orphans
from lakehouse.checks.monitors import DAILY_FRESHNESS
from lakehouse.chunks import Spill, day_chunks, rows_per_day, spilled
from lakehouse.dates import keys_to_dates
from lakehouse.partitions import DAILY
from lakehouse.resources.lake_io import PARTITION_EXPR, DailyScan
from lakehouse.settings import Settings
from lakehouse.transforms.dimensions import (
    DIM_AIRLINE,
    DIM_AIRPORT,
    DIM_DATE,
    DIM_PLANE,
    UNKNOWN_SK,
    dim_airline,
    dim_airport,
    dim_date,
    dim_plane,
)
from lakehouse.transforms.facts import FCT_FLIGHTS, fct_flights
from lakehouse.transforms.spec import TableSpec

WAREHOUSE: dict[str, Any] = {
    "group_name": "marts",
    "kinds": {"polars", "duckdb"},
    "owners": OWNERS,
    "io_manager_key": "warehouse_io_manager",
    # DuckDB allows one writer per file: runs take turns on the warehouse.
    "pool": "warehouse",
    "code_version": "1",
    "automation_condition": PROPAGATE,
}


def _dimension_output(frame: pl.DataFrame, spec: TableSpec) -> dg.Output[pl.DataFrame]:
    return dg.Output(
        frame,
        metadata=output_metadata(frame, column_schema(spec), preview=markdown_preview(frame)),
    )


@dg.asset(
    key=["marts", "dim_date"],
    metadata=definition_metadata(column_schema(DIM_DATE)),
    **{**WAREHOUSE, "automation_condition": BUILD_WHEN_MISSING},
)
def dim_date_asset() -> dg.Output[pl.DataFrame]:
    """One row per day of the partition range, with weekends and US federal holidays."""
    keys = DAILY.get_partition_keys()
    from datetime import date  # noqa: PLC0415

    frame = dim_date(date.fromisoformat(keys[0]), date.fromisoformat(keys[-1])).collect()
    return dg.Output(
        frame,
        metadata=output_metadata(
            frame, column_schema(DIM_DATE), holidays=int(frame["is_holiday"].sum())
        ),
    )


@dg.asset(
    key=["marts", "dim_airline"],
    ins={"airlines": dg.AssetIn(["staged", "airlines"])},
    metadata=definition_metadata(column_schema(DIM_AIRLINE)),
    **WAREHOUSE,
)
def dim_airline_asset(airlines: pl.LazyFrame) -> dg.Output[pl.DataFrame]:
    """One row per airline, plus the unknown airline (-1)."""
    return _dimension_output(dim_airline(airlines).collect(), DIM_AIRLINE)


@dg.asset(
    key=["marts", "dim_airport"],
    ins={"airports": dg.AssetIn(["staged", "airports"])},
    metadata=definition_metadata(column_schema(DIM_AIRPORT)),
    **WAREHOUSE,
)
def dim_airport_asset(airports: pl.LazyFrame) -> dg.Output[pl.DataFrame]:
    """One row per airport, plus the unknown airport (-1)."""
    return _dimension_output(dim_airport(airports).collect(), DIM_AIRPORT)


@dg.asset(
    key=["marts", "dim_plane"],
    ins={"planes": dg.AssetIn(["staged", "planes"])},
    metadata=definition_metadata(column_schema(DIM_PLANE)),
    **WAREHOUSE,
)
def dim_plane_asset(planes: pl.LazyFrame) -> dg.Output[pl.DataFrame]:
    """One row per version of each plane (SCD type 2), plus the unknown plane (-1)."""
    frame = dim_plane(planes).collect()
    return dg.Output(
        frame,
        metadata=output_metadata(
            frame,
            column_schema(DIM_PLANE),
            planes=frame["tailnum"].n_unique() - 1,
            changed_planes=int((frame.group_by("tailnum").len()["len"] > 1).sum()),
        ),
    )


FACT_KEY = dg.AssetKey(["marts", "fct_flights"])
ORPHAN_KEYS = {
    "airline": ("airline_sk", "carrier"),
    "origin": ("origin_sk", "origin"),
    "dest": ("dest_sk", "dest"),
    "plane": ("plane_sk", "tailnum"),
}


@dg.asset(
    key=FACT_KEY,
    ins={
        "flights": dg.AssetIn(["staged", "flights"]),
        "airlines": dg.AssetIn(["marts", "dim_airline"]),
        "airports": dg.AssetIn(["marts", "dim_airport"]),
        "planes": dg.AssetIn(["marts", "dim_plane"]),
    },
    deps=[dg.AssetKey(["marts", "dim_date"])],
    check_specs=[
        dg.AssetCheckSpec(
            "referential_integrity",
            asset=FACT_KEY,
            description="Every flight's carrier, airports and tail number are in their "
            "dimensions; orphans point to the unknown member (a warning, not a block).",
        )
    ],
    partitions_def=DAILY,
    backfill_policy=dg.BackfillPolicy.single_run(),
    freshness_policy=DAILY_FRESHNESS,
    metadata=definition_metadata(
        column_schema(FCT_FLIGHTS),
        # A flight is keyed to the plane's version valid on its date (`fct_flights`).
        **{PARTITION_EXPR: "flight_date", AS_OF_DAY: "marts/dim_plane"},
    ),
    **WAREHOUSE,
)
def fct_flights_asset(
    context: dg.AssetExecutionContext,
    flights: DailyScan,
    airlines: pl.DataFrame,
    airports: pl.DataFrame,
    planes: pl.DataFrame,
) -> Iterator[dg.Output[pl.LazyFrame] | dg.AssetCheckResult]:
    """One row per flight with keys to every dimension; unknown carriers, airports and planes
    point to the unknown member (-1), so no flight is lost.
    """
    # A year at 50x does not fit in memory at once: build it a chunk of days at a time.
    days = keys_to_dates(context.partition_keys)
    per_day = rows_per_day(flights.scan(), "flight_date")
    chunks = day_chunks(days, per_day, Settings.from_env().chunk_rows)
    dimensions = (airlines.lazy(), airports.lazy(), planes.lazy())
    with spilled() as spill:
        rows, found = spill_fact(spill, flights, dimensions, chunks)
        fact = spill.scan(FCT_FLIGHTS.schema)
        unknown = {f"unknown_{name}": count for name, count in found.counts.items()}
        metadata = output_metadata(
            fact, column_schema(FCT_FLIGHTS), rows=rows, chunks=len(chunks), **unknown
        )
        # The fact keeps every staged flight, so each day's rows are its staged rows.
        metadata = daily_metadata(context, FACT_KEY, per_day, metadata)
        # Dagster stores a yielded output before resuming here, so the spill is still there.
        yield dg.Output(fact, metadata=metadata)
    yield dg.AssetCheckResult(
        asset_key=FACT_KEY,
        check_name="referential_integrity",
        passed=found.passed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            **{f"orphans_{name}": count for name, count in found.counts.items()},
            "top_orphan_keys": markdown_preview(found.top_keys, rows=20),
            "where_to_look": "marts.fct_flights rows with a -1 key; marts.dim_* for the keys",
        },
    )


def spill_fact(
    spill: Spill,
    flights: DailyScan,
    dimensions: tuple[pl.LazyFrame, pl.LazyFrame, pl.LazyFrame],
    chunks: Sequence[Sequence[date]],
) -> tuple[int, Orphans]:
    """Build the fact one chunk of days at a time into `spill`, in date order.

    Returns:
        The rows written, and the orphans of all chunks together (exact: per-key counts are
        summed, not sampled).
    """
    found, rows = [], 0
    for chunk in chunks:
        part = fct_flights(flights.scan(chunk), *dimensions).collect()
        found.append(orphan_keys(part, ORPHAN_KEYS, UNKNOWN_SK))
        rows += part.height
        spill.add(part)
    return rows, summarize_orphans(found, list(ORPHAN_KEYS))
