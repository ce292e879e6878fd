"""Quarantine: every rejected row, with where it came from, why, and the line as delivered."""

import polars as pl

from lakehouse.landing import PARSE_ERROR, PARTITION_COLUMN, PARTITION_KEY, RAW_LINE
from lakehouse.transforms.spec import Column, TableSpec

QUARANTINE = TableSpec(
    columns=(
        Column(PARTITION_COLUMN, pl.Date(), "day (period) of the file the row was delivered in"),
        Column(
            PARTITION_KEY, pl.String(), "key of the file the row was delivered in (keyed sources)"
        ),
        Column("_source_file", pl.String(), "landing file the row was delivered in"),
        Column("_line_number", pl.Int32(), "line of the row in that file"),
        Column("stage", pl.String(), "where it was rejected: parse, staging or contract"),
        Column("reason", pl.String(), "every rule it broke, with the offending values"),
        Column("record", pl.String(), "the line as delivered (fields joined by commas)"),
        Column("run_id", pl.String(), "the Dagster run that rejected it"),
        Column("_ingested_at", pl.Datetime("us", "UTC"), "when the raw layer read the file"),
    ),
    key=("_source_file", "_line_number"),
)
_KEY = ["_source_file", "_line_number"]


def csv_field(column: str) -> pl.Expr:
    """A field as CSV writes it: quoted (quotes doubled) when it holds a comma, quote or newline,
    so a rebuilt line splits into the same fields it was delivered with.
    """
    value = pl.col(column)
    quoted = pl.concat_str(pl.lit('"'), value.str.replace_all('"', '""', literal=True), pl.lit('"'))
    return pl.when(value.str.contains(r'[,"\n\r]')).then(quoted).otherwise(value)


def quarantine_records(
    raw: pl.DataFrame, rejected: pl.DataFrame, *, source_columns: tuple[str, ...], run_id: str
) -> pl.DataFrame:
    """Quarantine rows for `rejected` (`_source_file`, `_line_number`, `stage`, `reason`), with
    the line as delivered looked up in `raw` by file and line; a line that could not even be
    split into fields is stage `parse`.
    """
    # Only the rejected lines are rebuilt as text: a semi join first, not a string per row.
    if PARTITION_KEY not in raw.columns:
        raw = raw.with_columns(pl.lit(None, dtype=pl.String).alias(PARTITION_KEY))
    delivered = raw.join(rejected.select(_KEY), on=_KEY, how="semi").select(
        *_KEY,
        PARTITION_COLUMN,
        PARTITION_KEY,
        PARSE_ERROR,
        "_ingested_at",
        record=pl.coalesce(
            pl.col(RAW_LINE), pl.concat_str([csv_field(c) for c in source_columns], separator=",")
        ),
    )
    return (
        rejected.select(*_KEY, "stage", "reason")
        .join(delivered, on=_KEY, how="left", maintain_order="left")
        .with_columns(
            stage=pl.when(pl.col(PARSE_ERROR).is_not_null())
            .then(pl.lit("parse"))
            .otherwise(pl.col("stage")),
            run_id=pl.lit(run_id),
        )
        .select(QUARANTINE.exprs())
    )
