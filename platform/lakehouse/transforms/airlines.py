"""Staging of airlines: the carrier reference table."""

import polars as pl

from lakehouse.landing import PARTITION_COLUMN
from lakehouse.transforms.parsing import dedupe_latest, latest_snapshot, parse_text, staging_errors
from lakehouse.transforms.spec import LINEAGE, Column, TableSpec

STAGED_AIRLINES = TableSpec(
    columns=(
        Column("carrier", pl.String(), "two-letter IATA carrier code"),
        Column("name", pl.String(), "airline name"),
        *LINEAGE,
    ),
    key=("carrier",),
)


def stage_airlines(raw: pl.LazyFrame) -> pl.LazyFrame:
    """The newest airlines snapshot, one row per carrier (within it, the last line wins)."""
    typed = latest_snapshot(raw, PARTITION_COLUMN).with_columns(
        parse_text("carrier", pl.String()), parse_text("name", pl.String())
    )
    return dedupe_latest(typed, list(STAGED_AIRLINES.key)).select(
        *STAGED_AIRLINES.exprs(), staging_errors(pl.lit(None, dtype=pl.String))
    )
