"""Staging a source from its declaration alone: every delivered field parsed by its declared
type, the rows checked for what every source's rows are checked for. A source whose logic
cannot be declared names its own `stage` step instead.
"""

import polars as pl

from lakehouse.declarations import ColumnDecl, SourceSpec
from lakehouse.landing import PARTITION_COLUMN, PARTITION_KEY
from lakehouse.transforms.parsing import (
    ROW_ERRORS,
    dedupe_latest,
    misdated,
    misfiled,
    missing,
    parse_fields,
    parse_text,
    quick_casts,
    type_error,
    with_staging_errors,
)


def column_parser(column: ColumnDecl, null_values: tuple[str, ...]) -> pl.Expr:
    """The delivered text of a column as its declared type (null where it does not parse)."""
    if column.type == "date":
        text = parse_text(column.name, pl.String(), null_values)
        return text.str.to_date(column.format or "%Y-%m-%d", strict=False).alias(column.name)
    if column.type == "datetime":
        text = parse_text(column.name, pl.String(), null_values)
        parsed = text.str.to_datetime(column.format, time_unit="us", strict=False)
        if column.time_zone is not None:
            parsed = parsed.dt.replace_time_zone(column.time_zone, non_existent="null")
        return parsed.alias(column.name)
    return parse_text(column.name, column.dtype, null_values)


def stage_declared(spec: SourceSpec, raw: pl.LazyFrame) -> pl.LazyFrame:
    """Raw rows of a declared source to typed rows, one per delivered line, with
    `_row_errors`: a field that did not parse, a missing value where none may be missing, and
    (daily) a row dated another day than its file.
    """
    delivered = [c for c in spec.columns_added_by("stage") if c.name in spec.landing.header]
    nulls = tuple(spec.landing.null_values)
    parsers = {c.name: column_parser(c, nulls) for c in delivered}
    plain = {c.name: c.dtype for c in delivered if c.type not in {"date", "datetime", "string"}}
    typed = parse_fields(raw, parsers, quick=quick_casts(plain))
    problems = [type_error(), *missing(*(c.name for c in delivered if not c.nullable))]
    partitions = spec.partitions
    if partitions.periodic and partitions.column is not None:
        day = pl.col(partitions.column)
        period = day.dt.truncate("1mo") if partitions.kind == "monthly" else day
        problems.append(misdated(period, pl.col(PARTITION_COLUMN)))
    if partitions.keys is not None:
        problems.append(misfiled(pl.col(partitions.keys.column), pl.col(PARTITION_KEY)))
    staged = with_staging_errors(typed, problems)
    return staged.select(*spec.typed_spec.exprs(), ROW_ERRORS)


def keep_latest(spec: SourceSpec, staged: pl.LazyFrame) -> pl.LazyFrame:
    """One row per business key: the last delivered."""
    return dedupe_latest(staged, list(spec.key)).select(spec.staged_spec.exprs())
