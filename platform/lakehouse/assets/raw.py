"""Raw layer: every delivered line kept as text, with the file and line it came from."""

from collections.abc import Iterator
from datetime import date
from typing import Any

import dagster as dg
import polars as pl

from lakehouse.assets.metadata import (
    daily_metadata,
    definition_metadata,
    output_metadata,
    text_schema,
)
from lakehouse.dates import keys_to_dates
from lakehouse.declarations import SourceSpec
from lakehouse.landing import (
    PARSE_ERROR,
    PARTITION_COLUMN,
    PARTITION_KEY,
    RAW_LINE,
    LandingFile,
    LandingFileError,
)
from lakehouse.partitions import PERIOD, daily_partitions, source_partitions
from lakehouse.periods import FilePartition
from lakehouse.resources.lake_io import PARTITION_EXPR, PartitionStaging, StagedPartitions
from lakehouse.resources.landing import LandingZone
from lakehouse.runner import bad_partitions_failure
from lakehouse.sources import landing_source
from lakehouse.transforms.spec import LINEAGE, Column, TableSpec

RAW_EXTRA = TableSpec(
    columns=(
        *LINEAGE,
        Column("_content_hash", pl.String(), "SHA-256 of the delivered file"),
        Column(RAW_LINE, pl.String(), "the line's text when it could not be split into fields"),
        Column(PARSE_ERROR, pl.String(), "why the line could not be split; null when it was"),
    )
)
RAW_PARTITION = Column(PARTITION_COLUMN, pl.Date(), "day of the file the row was delivered in")
# A raw day's file is text (and its lineage) read whole by staging: min/max prune nothing a
# reader asks of it (the day is in its path), and computing them cost ~20 % of writing it. Null
# counts stay. Staged tables keep every statistic: they are what users query.
RAW_FILE_STATISTICS = {"min": False, "max": False, "distinct_count": False, "null_count": True}


def build_raw_asset(spec: SourceSpec) -> dg.AssetsDefinition:
    """The raw asset of a declared source: daily-partitioned for daily sources, else every
    snapshot delivered.
    """
    source = landing_source(spec)
    common: dict[str, Any] = {
        "key": ["raw", source.name],
        "group_name": "raw",
        "kinds": {"polars", "delta"},
        "owners": spec.owners,
        "tags": spec.tags,
        "io_manager_key": "lake_io_manager",
        "code_version": "1",
        "description": f"Every delivered {source.name} line, as text, with its file and line.",
    }
    if spec.daily:
        extra = TableSpec(columns=(*RAW_EXTRA.columns, RAW_PARTITION))
        schema = text_schema(source.columns, extra)

        @dg.asset(
            **common,
            partitions_def=daily_partitions(spec),
            backfill_policy=dg.BackfillPolicy.single_run(),
            metadata=definition_metadata(schema, **{PARTITION_EXPR: PARTITION_COLUMN}),
        )
        def _daily(
            context: dg.AssetExecutionContext, landing: LandingZone
        ) -> Iterator[dg.Output[StagedPartitions]]:
            days = keys_to_dates(context.partition_keys)
            files, problems = landing.ready_daily_files(source, days)
            refused: dict[LandingFile, LandingFileError] = {}
            # Each day is written as soon as it is read, so the run holds a few days (those being
            # parsed and written), not the range; the IO manager then publishes them together.
            with PartitionStaging(PARTITION_COLUMN, statistics=RAW_FILE_STATISTICS) as staging:
                unsplit = 0
                per_day: dict[date, int] = {}
                # Every file is read, so a failure names each bad one, not only the first.
                for file, delivery in landing.deliveries(source, files, refused):
                    staging.write(file.day, delivery)
                    per_day[file.day] = delivery.height
                    unsplit += int(delivery[PARSE_ERROR].is_not_null().sum())
                problems |= {file.day: str(error) for file, error in refused.items()}
                if problems:
                    what = f"raw/{source.name}"
                    raise bad_partitions_failure(
                        what,
                        {day.isoformat(): problem for day, problem in problems.items()},
                        len(days),
                    )
                staged = staging.staged()
                # The rows were counted day by day; the files hold them.
                metadata = output_metadata(
                    staged.scan(),
                    schema,
                    rows=sum(per_day.values()),
                    files=len(files),
                    malformed_lines=unsplit,
                )
                yield dg.Output(
                    staged, metadata=daily_metadata(context, context.asset_key, per_day, metadata)
                )

        return _daily

    if spec.partitions.periodic:
        return _build_raw_periods(spec, common)
    snapshot_day = Column(
        PARTITION_COLUMN, pl.Date(), "day of the snapshot the row was delivered in"
    )
    schema = text_schema(source.columns, TableSpec(columns=(*RAW_EXTRA.columns, snapshot_day)))

    @dg.asset(**common, metadata=definition_metadata(schema))
    def _snapshots(
        context: dg.AssetExecutionContext, landing: LandingZone
    ) -> dg.Output[pl.DataFrame]:
        # The table is every readable snapshot: one the sensor rejected (say a wrong header)
        # must not stop the others from being ingested, so it is left out and reported.
        readable, refused = [], []
        for file in landing.snapshots(source):
            try:
                readable.append(landing.read(source, [file]))
            except LandingFileError as error:
                context.log.warning(f"left out {error}")
                refused.append(str(error))
        if not readable:
            msg = f"no readable {source.name} snapshot: " + "; ".join(refused)
            raise LandingFileError(source.name, msg)
        rows = pl.concat(readable, how="vertical")
        latest = rows[PARTITION_COLUMN].max()
        return dg.Output(
            rows,
            metadata=output_metadata(
                rows,
                schema,
                snapshots=len(readable),
                latest=str(latest),
                unreadable_snapshots=dg.MetadataValue.md(
                    "\n".join(f"- {r}" for r in refused) or "none"
                ),
            ),
        )

    return _snapshots


RAW_KEY = Column(PARTITION_KEY, pl.String(), "key of the file the row was delivered in")


def file_partition(
    spec: SourceSpec, partitions_def: dg.PartitionsDefinition, key: str
) -> FilePartition:
    """The landing file partition a Dagster partition key names."""
    if isinstance(partitions_def, dg.MultiPartitionsDefinition):
        by_dimension = partitions_def.get_partition_key_from_str(key).keys_by_dimension
        period = by_dimension[PERIOD]
        static = by_dimension[spec.partitions.keys.name] if spec.partitions.keys else None
    else:
        period, static = key, None
    return FilePartition(date.fromisoformat(period[:10]), static)


def _build_raw_periods(spec: SourceSpec, common: dict[str, Any]) -> dg.AssetsDefinition:
    """The raw asset of a monthly or keyed source: the run's files, read whole (such files are
    small), one partition per period (and key).
    """
    source = landing_source(spec)
    partitions_def = source_partitions(spec)
    keyed = spec.partitions.keys is not None
    extra = TableSpec(columns=(*RAW_EXTRA.columns, RAW_PARTITION, *((RAW_KEY,) if keyed else ())))
    expr: object = (
        {PERIOD: PARTITION_COLUMN, spec.partitions.keys.name: PARTITION_KEY}
        if spec.partitions.keys
        else PARTITION_COLUMN
    )

    @dg.asset(
        **common,
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        metadata=definition_metadata(text_schema(source.columns, extra), **{PARTITION_EXPR: expr}),
    )
    def _periods(
        context: dg.AssetExecutionContext, landing: LandingZone
    ) -> dg.Output[pl.DataFrame]:
        assert partitions_def is not None  # noqa: S101  (periodic sources are partitioned)
        wanted = [file_partition(spec, partitions_def, k) for k in context.partition_keys]
        found = landing.partition_files(spec, wanted)
        files = list(found.values())
        parts = []
        for (_, rows), partition in zip(landing.deliveries(source, files), found, strict=True):
            if keyed:
                rows = rows.with_columns(
                    pl.lit(partition.key, dtype=pl.String).alias(PARTITION_KEY)
                )
            parts.append(rows)
        schema = text_schema(source.columns, extra)
        empty = pl.DataFrame(schema={c.name: pl.String() for c in schema.columns}).with_columns(
            pl.col(c.name).cast(c.dtype) for c in extra.columns
        )
        rows = pl.concat(parts, how="vertical") if parts else empty
        return dg.Output(
            rows,
            metadata=output_metadata(
                rows, schema, files=len(files), partitions_without_delivery=len(wanted) - len(files)
            ),
        )

    return _periods
