"""Staging of airlines: the carrier reference table."""

import polars as pl

from lakehouse.declarations import declared
from lakehouse.transforms.parsing import (
    ROW_ERRORS,
    current_snapshot,
    parse_text,
    snapshot_date,
    with_staging_errors,
)

STAGED_AIRLINES = declared("airlines").staged_spec  # defs/sources/airlines/defs.yaml


def stage_airlines(raw: pl.LazyFrame) -> pl.LazyFrame:
    """Every airlines snapshot's rows, typed, with their staging errors (`_row_errors`)."""
    typed = raw.with_columns(
        parse_text("carrier", pl.String()), parse_text("name", pl.String()), snapshot_date()
    )
    return with_staging_errors(typed, []).select(*STAGED_AIRLINES.exprs(), ROW_ERRORS)


def current_airlines(staged: pl.LazyFrame) -> pl.LazyFrame:
    """The newest snapshot, one row per carrier."""
    return current_snapshot(staged, STAGED_AIRLINES.key)
