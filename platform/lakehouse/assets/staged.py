"""Staged layer: typed, deduplicated tables; rows that cannot be staged fail the run by name."""

from collections.abc import Iterator
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
from lakehouse.transforms.flights import STAGED_FLIGHTS, dedupe_flights, stage_flights
from lakehouse.transforms.parsing import ROW_ERRORS

STAGED: dict[str, Any] = {
    "group_name": "staged",
    "kinds": {"polars", "parquet"},
    "owners": OWNERS,
    "io_manager_key": "lake_io_manager",
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
        msg = (
            f"{bad.height} row(s) cannot be staged: {listed}. Fix the files and deliver them again"
        )
        raise StagingError(msg)
    return staged.drop(ROW_ERRORS)


@dg.asset(
    key=FLIGHTS_KEY,
    ins={"raw": dg.AssetIn(["raw", "flights"])},
    partitions_def=DAILY,
    backfill_policy=dg.BackfillPolicy.single_run(),
    metadata=definition_metadata(column_schema(STAGED_FLIGHTS), **{PARTITION_EXPR: "flight_date"}),
    check_specs=[
        dg.AssetCheckSpec(
            "business_key_unique",
            asset=FLIGHTS_KEY,
            blocking=True,
            description="One row per (" + ", ".join(STAGED_FLIGHTS.key) + ") in each partition.",
        )
    ],
    code_version="1",
    **STAGED,
)
def staged_flights(raw: pl.LazyFrame) -> Iterator[dg.Output[pl.DataFrame] | dg.AssetCheckResult]:
    """Typed flights with New York and UTC departure times, one row per business key."""
    staged = reject_row_errors(stage_flights(raw).collect())
    deduped = dedupe_flights(staged.lazy()).collect()
    duplicates = duplicate_keys(deduped, STAGED_FLIGHTS.key)
    yield dg.Output(
        deduped,
        metadata=output_metadata(deduped, duplicates_removed=staged.height - deduped.height),
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
    key=["staged", "airlines"],
    ins={"raw": dg.AssetIn(["raw", "airlines"])},
    metadata=definition_metadata(column_schema(STAGED_AIRLINES)),
    code_version="1",
    **STAGED,
)
def staged_airlines(raw: pl.LazyFrame) -> dg.Output[pl.DataFrame]:
    """One row per airline carrier code, from the newest snapshot."""
    staged = reject_row_errors(stage_airlines(raw).collect())
    return dg.Output(staged, metadata=output_metadata(staged))
