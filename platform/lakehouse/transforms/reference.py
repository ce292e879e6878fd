"""Staging of the reference sources: airports (latest snapshot) and planes (every snapshot)."""

from zoneinfo import available_timezones

import polars as pl

from lakehouse.declarations import declared
from lakehouse.transforms.parsing import (
    ROW_ERRORS,
    Problem,
    current_snapshot,
    dedupe_latest,
    describe,
    parse_fields,
    parse_text,
    snapshot_date,
    type_error,
    with_staging_errors,
)

# Declared with the sources (defs/sources/airports|planes/defs.yaml).
STAGED_AIRPORTS = declared("airports").staged_spec
STAGED_PLANES = declared("planes").staged_spec

_AIRPORT_TYPES: dict[str, pl.DataType] = {
    "faa": pl.String(), "name": pl.String(), "lat": pl.Float64(), "lon": pl.Float64(),
    "alt": pl.Int32(), "tz": pl.Int8(), "dst": pl.String(), "tzone": pl.String(),
}  # fmt: skip
_PLANE_TYPES: dict[str, pl.DataType] = {
    "tailnum": pl.String(), "year": pl.Int16(), "type": pl.String(),
    "manufacturer": pl.String(), "model": pl.String(), "engines": pl.Int8(),
    "seats": pl.Int16(), "speed": pl.Int16(), "engine": pl.String(),
}  # fmt: skip


def unknown_zone(column: str) -> Problem:
    """A time zone name that is not in the IANA database."""
    zone = pl.col(column)
    return Problem(
        found=zone.is_not_null() & ~zone.is_in(sorted(available_timezones())),
        text=describe("unknown time zone ", zone),
    )


def stage_airports(raw: pl.LazyFrame) -> pl.LazyFrame:
    """Every airports snapshot's rows, typed, with their staging errors (`_row_errors`)."""
    parsers = {name: parse_text(name, dtype) for name, dtype in _AIRPORT_TYPES.items()}
    typed = parse_fields(raw, parsers).with_columns(snapshot_date())
    errors = with_staging_errors(typed, [type_error(), unknown_zone("tzone")])
    return errors.select(*STAGED_AIRPORTS.exprs(), ROW_ERRORS)


def current_airports(staged: pl.LazyFrame) -> pl.LazyFrame:
    """The newest snapshot, one row per FAA code."""
    return current_snapshot(staged, STAGED_AIRPORTS.key)


def stage_planes(raw: pl.LazyFrame) -> pl.LazyFrame:
    """Every planes snapshot's rows, typed, with their staging errors (`_row_errors`)."""
    parsers = {name: parse_text(name, dtype) for name, dtype in _PLANE_TYPES.items()}
    typed = parse_fields(raw, parsers).with_columns(snapshot_date())
    errors = with_staging_errors(typed, [type_error()])
    return errors.select(*STAGED_PLANES.exprs(), ROW_ERRORS)


def every_planes_snapshot(staged: pl.LazyFrame) -> pl.LazyFrame:
    """Every snapshot kept (the plane dimension is built from their history), one row per
    tail number per snapshot.
    """
    return dedupe_latest(staged, list(STAGED_PLANES.key))
