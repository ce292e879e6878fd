"""Staged layer: typed, deduplicated tables; rows that cannot be staged fail the run by name."""

import functools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final, cast

import dagster as dg
import pandera.polars as pa
import polars as pl

from lakehouse.assets.automation import PROPAGATE
from lakehouse.assets.metadata import (
    column_schema,
    daily_metadata,
    definition_metadata,
    markdown_preview,
    output_metadata,
)
from lakehouse.checks.logic import (
    DuplicateKeys,
    Reconciliation,
    duplicate_keys,
    reconcile,
    row_count_anomalies,
)
from lakehouse.checks.monitors import freshness_policy
from lakehouse.chunks import day_chunks, rows_per_day, spilled
from lakehouse.contracts.base import FAILED_CHECKS, split_by_contract
from lakehouse.contracts.declared import contract_of
from lakehouse.contracts.quarantine import QUARANTINE, quarantine_records
from lakehouse.dates import keys_to_dates
from lakehouse.declarations import SourceSpec, source_inputs
from lakehouse.landing import PARTITION_COLUMN, PARTITION_KEY, day_of
from lakehouse.partitions import PERIOD, daily_partitions, source_partitions
from lakehouse.resources.lake_io import (
    PARTITION_EXPR,
    DailyScan,
    Lake,
    PartitionStaging,
    StagedPartitions,
)
from lakehouse.runner import partitions_failure
from lakehouse.settings import Settings
from lakehouse.sources import Source, landing_source
from lakehouse.transforms.declared import keep_latest, stage_declared
from lakehouse.transforms.parsing import ROW_ERRORS
from lakehouse.transforms.spec import TableSpec

STAGED: dict[str, Any] = {
    "group_name": "staged",
    "kinds": {"polars", "delta"},
    "io_manager_key": "lake_io_manager",
}


LINE_KEY = ["_source_file", "_line_number"]
ANOMALY_WEEKS = 4
ANOMALY_TOLERANCE = 0.3
# Typing joins the few rows with a problem back to all rows by row number, which Polars'
# in-memory engine does far cheaper than the default streaming one (typing a 1M-row chunk of
# flights: 0.97 -> 0.72 s CPU); a chunk is held in memory anyway.
TYPING_ENGINE: Final = "in-memory"


@dataclass(frozen=True)
class Staging:
    """How a declared source is staged: its table, contract, and (for a daily source) the Date
    column its partitions are split on.
    """

    declared: SourceSpec

    @property
    def source(self) -> Source:
        """What its deliveries look like."""
        return landing_source(self.declared)

    @property
    def spec(self) -> TableSpec:
        """The staged table's columns and business key."""
        return self.declared.staged_spec

    @property
    def contract(self) -> pa.DataFrameSchema:
        """The rules its rows keep."""
        return contract_of(self.declared)

    @property
    def description(self) -> str:
        """What a row is."""
        return self.declared.description

    @property
    def date_column(self) -> str | None:
        """The Date column of a daily source's partitions; None for a reference table."""
        return self.declared.partitions.column if self.declared.daily else None

    @property
    def partition_exprs(self) -> tuple[object, object] | None:
        """The `partition_expr` of the staged table and of its quarantine (None: a reference
        table): the declared period column, and the key column of a keyed source.
        """
        partitions = self.declared.partitions
        if not partitions.periodic:
            return None
        if partitions.keys is None:
            return partitions.column, PARTITION_COLUMN
        name = partitions.keys.name
        return (
            {PERIOD: partitions.column, name: partitions.keys.column},
            {PERIOD: PARTITION_COLUMN, name: PARTITION_KEY},
        )

    @property
    def key_within_day(self) -> bool:
        """Every business key lies within one delivery day (its date is part of the key and a
        row must be dated its file's day), so a long range can be staged a chunk of days at a
        time.
        """
        return self.declared.key_within_day

    @property
    def min_pass_rate(self) -> float:
        """The share of each file's rows that must keep the contract."""
        return self.declared.min_pass_rate

    @property
    def key(self) -> dg.AssetKey:
        """The staged table."""
        return dg.AssetKey(["staged", self.source.name])

    @property
    def quarantine_key(self) -> dg.AssetKey:
        """Its quarantine table."""
        return dg.AssetKey(["staged", f"{self.source.name}_quarantine"])

    def outs(self) -> dict[str, dg.AssetOut]:
        """The staged table and its quarantine, both in the lake."""
        exprs = self.partition_exprs
        return {
            "staged": dg.AssetOut(
                key=self.key,
                description=self.description,
                metadata=definition_metadata(
                    column_schema(self.spec),
                    **({PARTITION_EXPR: exprs[0]} if exprs else {}),
                ),
                freshness_policy=freshness_policy(self.declared),
                automation_condition=PROPAGATE,
                owners=self.declared.owners,
                tags=self.declared.tags,
                **STAGED,
            ),
            "quarantine": dg.AssetOut(
                key=self.quarantine_key,
                description=f"Every delivered {self.source.name} line that did not reach "
                f"staged/{self.source.name}: unsplittable, unparseable or breaking the contract, "
                "with the reason.",
                metadata=definition_metadata(
                    column_schema(QUARANTINE),
                    **({PARTITION_EXPR: exprs[1]} if exprs else {}),
                ),
                automation_condition=PROPAGATE,
                owners=self.declared.owners,
                tags=self.declared.tags,
                **STAGED,
            ),
        }

    def checks(self) -> list[dg.AssetCheckSpec]:
        """The blocking checks every staged table carries, and a daily table's volume check."""
        superseded = "" if self.date_column else " (older snapshots included)"
        described = {
            "business_key_unique": "The rows written hold one row per ("
            + ", ".join(self.spec.key)
            + "): no join or deduplication defect doubled a row.",
            "contract_pass_rate": f"In every delivered file, at least {self.min_pass_rate:.0%} "
            "of the rows keep the contract (min_pass_rate); below it nothing of the run "
            "is published.",
            "reconciliation": "Per delivered file: raw rows = staged + quarantined + "
            f"duplicates removed{superseded}, exactly.",
        }
        specs = [
            dg.AssetCheckSpec(name, asset=self.key, blocking=True, description=text)
            for name, text in described.items()
        ]
        if self.date_column:
            specs.append(
                dg.AssetCheckSpec(
                    "row_count_anomaly",
                    asset=self.key,
                    description=f"Each day's rows are within {ANOMALY_TOLERANCE:.0%} of the "
                    f"median of the same weekday over the {ANOMALY_WEEKS} weeks before "
                    "(a warning: holidays and storms are real).",
                )
            )
        return specs


@dataclass(frozen=True)
class Settled:
    """Where every delivered row of a run went."""

    valid: pl.DataFrame
    contract_rejects: pl.DataFrame
    quarantine: pl.DataFrame
    removed: pl.DataFrame  # rows dropped as older deliveries of the same business key


def settle(
    staging: Staging,
    delivered: pl.DataFrame,
    staged: pl.DataFrame,
    *,
    prepare: Callable[[pl.LazyFrame], pl.LazyFrame],
    dedupe: Callable[[pl.LazyFrame], pl.LazyFrame],
    run_id: str,
) -> Settled:
    """Split staged rows (with `_row_errors`) into valid rows, quarantine and older duplicates.

    Rows are validated before duplicates are removed, so a bad newer delivery of a key goes to
    quarantine without displacing a good older one.

    Args:
        staging: The source being staged.
        delivered: Its raw rows for the run.
        staged: `delivered` typed, with `_row_errors`.
        prepare: Adds the columns the contract covers (never adds or drops rows).
        dedupe: Keeps the rows the table holds: the last delivered per business key (and for a
            reference table, only the newest snapshot); it may add columns.
        run_id: Recorded on every quarantined row.
    """
    clean = staged.filter(pl.col(ROW_ERRORS).is_null()).drop(ROW_ERRORS)
    split = split_by_contract(prepare(clean.lazy()).collect(), staging.contract)
    deduped = dedupe(split.valid.lazy()).collect()
    rejected = pl.concat(
        [
            staged.filter(pl.col(ROW_ERRORS).is_not_null()).select(
                *LINE_KEY, stage=pl.lit("staging"), reason=ROW_ERRORS
            ),
            split.rejected.select(*LINE_KEY, stage=pl.lit("contract"), reason=FAILED_CHECKS),
        ]
    )
    return Settled(
        valid=deduped,
        contract_rejects=split.rejected,
        quarantine=quarantine_records(
            delivered, rejected, source_columns=staging.source.columns, run_id=run_id
        ),
        # Deduplication only drops rows: if it dropped none, no row needs looking up.
        removed=split.valid.clear()
        if deduped.height == split.valid.height
        else split.valid.join(deduped.select(LINE_KEY), on=LINE_KEY, how="anti"),
    )


@dataclass(frozen=True)
class Tally:
    """What the checks of a staging run need from its rows, gathered chunk by chunk so the
    rows themselves need not stay in memory.
    """

    balance: Reconciliation
    duplicates: DuplicateKeys
    quarantine: pl.DataFrame
    day_rows: pl.DataFrame  # (day, rows) staged per day; empty for a reference table

    @property
    def staged_rows(self) -> int:
        """Rows published to the staged table."""
        return int(self.balance.by_delivery["staged"].sum())

    @property
    def removed_rows(self) -> int:
        """Rows removed as older deliveries of their business key."""
        return int(self.balance.by_delivery["deduplicated"].sum())

    @classmethod
    def of(cls, staging: Staging, delivered: pl.DataFrame, settled: Settled) -> "Tally":
        """The tally of one chunk."""
        valid, file = settled.valid, "_source_file"
        day_rows = (
            valid.group_by(day=staging.date_column).agg(rows=pl.len())
            if staging.date_column
            else pl.DataFrame(schema={"day": pl.Date, "rows": pl.UInt32})
        )
        return cls(
            balance=reconcile(
                delivered[file], valid[file], settled.quarantine[file], settled.removed[file]
            ),
            duplicates=duplicate_keys(valid, staging.spec.key),
            quarantine=settled.quarantine,
            day_rows=day_rows,
        )

    @classmethod
    def combine(cls, parts: list["Tally"]) -> "Tally":
        """The tally of a run from those of its chunks (no business key spans two chunks)."""
        return cls(
            balance=Reconciliation.combine([p.balance for p in parts]),
            duplicates=DuplicateKeys.combine([p.duplicates for p in parts]),
            quarantine=pl.concat([p.quarantine for p in parts]),
            day_rows=pl.concat([p.day_rows for p in parts]),
        )


def stage_rows(
    staging: Staging,
    raw: DailyScan | pl.LazyFrame,
    keep: Callable[[pl.DataFrame], None],
    settle_chunk: Callable[[pl.DataFrame], Settled],
    *,
    chunk_rows: int,
) -> Tally:
    """Stage a run's raw rows a chunk of days at a time (when the source's keys allow it),
    handing each chunk's valid rows to `keep`; memory holds one chunk, whatever the range.

    Args:
        staging: The source being staged.
        raw: Its raw rows for the run: a daily source's partitions, read a chunk of days at
            a time when its business key lies within a day, or a reference table's rows.
        keep: Takes the valid rows of a chunk, in delivery order, and stores them (on disk).
        settle_chunk: Settles one chunk's delivered rows (`settle` with the source's steps).
        chunk_rows: Rows per chunk at most (a bigger day is a chunk alone).
    """
    if not isinstance(raw, DailyScan):
        if staging.key_within_day:
            msg = f"{staging.key.to_user_string()} is staged by days: pass its DailyScan"
            raise TypeError(msg)
        parts = [raw]
    elif staging.key_within_day:
        per_day = rows_per_day(raw.scan(), PARTITION_COLUMN)
        chunks = day_chunks(list(per_day), per_day, chunk_rows)
        parts = [raw.scan(chunk) for chunk in chunks] or [raw.scan()]
    else:
        parts = [raw.scan()]
    tallies = []
    for part in parts:
        delivered = part.collect()
        settled = settle_chunk(delivered)
        keep(settled.valid)
        tallies.append(Tally.of(staging, delivered, settled))
    return Tally.combine(tallies)


def keep_days(partitions: PartitionStaging) -> Callable[[pl.DataFrame], None]:
    """Store valid rows as one complete partition file per day (a chunk holds whole days, so
    each day is written once), written while the next chunk is staged.
    """

    def keep(valid: pl.DataFrame) -> None:
        partitions.write_days(valid)

    return keep


class StagingRejectedError(Exception):
    """A run's rows failed a blocking check: the staged table keeps its previous version."""


def staged_results(
    context: dg.AssetExecutionContext,
    staging: Staging,
    tally: Tally,
    valid: pl.LazyFrame | StagedPartitions,
    **extra: Any,
) -> Iterator[dg.Output[Any] | dg.AssetCheckResult]:
    """The quarantine, the three blocking checks with their evidence, and, only when every one
    passes, the staged table (`valid`, every staged row of the run: a reference table's rows,
    or a daily table's partition files).

    A run whose rows fail a blocking check publishes nothing to the staged table (every day of
    it keeps its last good version, so nothing downstream can ever read the rejected rows, even
    when automation rebuilds it for another reason), records the quarantine and the verdicts,
    and fails naming the files.

    Raises:
        StagingRejectedError: a blocking check failed.
        dagster.Failure: only the contract pass rate failed, on files of known days (their
            days are its `bad_partitions`).
    """
    quarantine, duplicates, balance = tally.quarantine, tally.duplicates, tally.balance
    rates = balance.pass_rates()
    worst = rates.sort("pass_rate", "delivery").row(0, named=True) if rates.height else None
    threshold = staging.min_pass_rate
    below = rates.filter(pl.col("pass_rate") < threshold)
    where = f"{staging.quarantine_key.to_user_string()} ({quarantine.height} rows)"
    checks = [
        dg.AssetCheckResult(
            asset_key=staging.key,
            check_name="business_key_unique",
            passed=duplicates.passed,
            metadata={
                "duplicate_keys": duplicates.keys,
                "excess_rows": duplicates.excess_rows,
                "sample": markdown_preview(duplicates.sample),
            },
        ),
        dg.AssetCheckResult(
            asset_key=staging.key,
            check_name="contract_pass_rate",
            passed=below.height == 0,
            metadata={
                "lowest_pass_rate": worst["pass_rate"] if worst else 1.0,
                "lowest_file": str(worst["delivery"]) if worst else "",
                "files_below_threshold": below.height,
                "threshold": threshold,
                "quarantined": quarantine.height,
                "sample": markdown_preview(
                    quarantine.select(*LINE_KEY, "stage", "reason"), rows=20
                ),
                "where_to_look": where,
            },
        ),
        dg.AssetCheckResult(
            asset_key=staging.key,
            check_name="reconciliation",
            passed=balance.passed,
            metadata={
                **balance.totals,
                "unbalanced_files": markdown_preview(
                    balance.by_delivery.filter(pl.col("difference") != 0)
                ),
                "where_to_look": where,
            },
        ),
    ]
    by_reason = quarantine.group_by("stage", "reason").len().sort("len", descending=True)
    quarantined = output_metadata(
        quarantine, column_schema(QUARANTINE), by_reason=markdown_preview(by_reason, rows=20)
    )
    if staging.date_column:
        per_day = rows_per_day(quarantine, PARTITION_COLUMN)
        quarantined = daily_metadata(context, staging.quarantine_key, per_day, quarantined)
    yield dg.Output(quarantine, output_name="quarantine", metadata=quarantined)
    failed = [str(c.check_name) for c in checks if not c.passed]
    if not failed:
        metadata = output_metadata(
            valid.scan() if isinstance(valid, StagedPartitions) else valid,
            column_schema(staging.spec),
            rows=tally.staged_rows,
            duplicates_removed=tally.removed_rows,
            quarantined=quarantine.height,
            **extra,
        )
        if staging.date_column:
            per_day = dict(tally.day_rows.iter_rows())
            metadata = daily_metadata(context, staging.key, per_day, metadata)
        yield dg.Output(valid, output_name="staged", metadata=metadata)
    yield from checks
    if failed:
        files = ", ".join(
            f"{row['delivery']} ({row['pass_rate']:.0%})"
            for row in below.head(5).iter_rows(named=True)
        )
        msg = (
            f"{staging.key.to_user_string()} was not updated: blocking check(s) "
            f"{', '.join(failed)} failed"
            + (f"; below the {threshold:.0%} pass rate: {files}" if files else "")
            + f". Every day keeps its previous version. See {where}, fix the file(s) and "
            "deliver them again."
        )
        # Files below the pass rate are their days' own fault: name those days, so a range
        # runner can publish the other days without them (`run_isolating`).
        bad_days = {
            day.isoformat()
            for name in below["delivery"].cast(pl.String)
            if (day := day_of(name.rsplit("/", 1)[-1])) is not None
        }
        if failed == ["contract_pass_rate"] and staging.date_column and bad_days:
            raise partitions_failure(msg, bad_days)
        raise StagingRejectedError(msg)


def row_count_result(
    staging: Staging, day_rows: pl.DataFrame, days: list[date], lake: Lake
) -> dg.AssetCheckResult:
    """The volume check of a daily table: this run's days (`day_rows`: day, rows staged)
    against the stored weeks before.
    """
    assert staging.date_column is not None  # noqa: S101  (only daily tables carry it)
    checked = (
        pl.DataFrame({"day": days}, schema={"day": pl.Date})
        .join(day_rows, on="day", how="left")
        .with_columns(pl.col("rows").fill_null(0))
    )
    first = min(days)
    earlier = [first - timedelta(days=n) for n in range(1, 7 * ANOMALY_WEEKS + 1)]
    history = lake.day_rows(staging.key, earlier)
    found = row_count_anomalies(history, checked, weeks=ANOMALY_WEEKS, tolerance=ANOMALY_TOLERANCE)
    return dg.AssetCheckResult(
        asset_key=staging.key,
        check_name="row_count_anomaly",
        passed=found.passed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "anomalous_days": found.anomalies.height,
            "days_without_baseline": found.unchecked,
            "tolerance": ANOMALY_TOLERANCE,
            "anomalies": markdown_preview(found.anomalies, rows=20),
            "where_to_look": f"the landing files of those days; {staging.key.to_user_string()}",
        },
    )


def stage_daily(
    context: dg.AssetExecutionContext,
    staging: Staging,
    raw: DailyScan,
    lake: Lake,
    settle_chunk: Callable[[pl.DataFrame], Settled],
    summarize: Callable[[pl.LazyFrame], dict[str, Any]],
) -> Iterator[dg.Output[Any] | dg.AssetCheckResult]:
    """The body of a daily staging asset: stage the run's rows a chunk at a time into one file
    per day, then yield the quarantine, the blocking checks, the staged table (only if they
    pass) and the volume check.

    Args:
        context: The run's context.
        staging: The daily source being staged.
        raw: Its raw partitions for the run.
        lake: The lake, for the stored weeks the volume check compares with.
        settle_chunk: Settles one chunk's delivered rows.
        summarize: Source-specific metadata of the staged table, from its rows.
    """
    assert staging.date_column is not None  # noqa: S101  (daily sources have one)
    days = keys_to_dates(context.partition_keys)
    with PartitionStaging(staging.date_column) as partitions:
        tally = stage_rows(
            staging,
            raw,
            keep_days(partitions),
            settle_chunk,
            chunk_rows=Settings.from_env().chunk_rows,
        )
        partitions.write_missing(days, staging.spec.schema)
        valid = partitions.staged(staging.spec.schema)
        yield from staged_results(context, staging, tally, valid, **summarize(valid.scan()))
    yield row_count_result(staging, tally.day_rows, days, lake)


def stage_step(staging: Staging) -> Callable[[pl.LazyFrame], pl.LazyFrame]:
    """The source's `stage` step, or typing from its declared columns."""
    declared_step = staging.declared.step("stage")
    if declared_step is not None:
        return cast("Callable[[pl.LazyFrame], pl.LazyFrame]", declared_step)
    return functools.partial(stage_declared, staging.declared)


def keep_step(staging: Staging) -> Callable[[pl.LazyFrame], pl.LazyFrame]:
    """The source's `keep` step, or the last delivery of each business key."""
    declared_step = staging.declared.step("keep")
    if declared_step is not None:
        return cast("Callable[[pl.LazyFrame], pl.LazyFrame]", declared_step)
    return functools.partial(keep_latest, staging.declared)


def settler(
    staging: Staging, inputs: Mapping[str, Any], run_id: str
) -> Callable[[pl.DataFrame], Settled]:
    """Settles a chunk of a source's delivered rows with its declared steps."""
    stage, keep = stage_step(staging), keep_step(staging)
    prepare_step = staging.declared.step("prepare")
    # Declared inputs are small reference tables: read once, handed to every chunk.
    inputs = {
        name: frame.collect() if isinstance(frame, pl.LazyFrame) else frame
        for name, frame in inputs.items()
    }

    def prepare(clean: pl.LazyFrame) -> pl.LazyFrame:
        return clean if prepare_step is None else prepare_step(clean, **inputs)

    def settle_chunk(delivered: pl.DataFrame) -> Settled:
        typed = stage(delivered.lazy()).collect(engine=TYPING_ENGINE)
        return settle(staging, delivered, typed, prepare=prepare, dedupe=keep, run_id=run_id)

    return settle_chunk


def summarizer(staging: Staging) -> Callable[[pl.LazyFrame], dict[str, Any]]:
    """The source's `summarize` step (extra materialization metadata), or nothing extra."""
    declared_step = staging.declared.step("summarize")
    return cast("Callable[[pl.LazyFrame], dict[str, Any]]", declared_step or (lambda _: {}))


def staged_ins(staging: Staging) -> dict[str, dg.AssetIn]:
    """The raw table and the declared inputs of the source's steps."""
    return {
        "raw": dg.AssetIn(["raw", staging.declared.name]),
        **{name: dg.AssetIn(key) for name, key in source_inputs(staging.declared).items()},
    }


def build_staged_daily(staging: Staging) -> dg.AssetsDefinition:
    """The staged table of a daily source and its quarantine, staged a chunk of days at a
    time, with the blocking checks and the volume check.
    """

    @dg.multi_asset(
        name=f"staged_{staging.declared.name}",
        outs=staging.outs(),
        ins=staged_ins(staging),
        check_specs=staging.checks(),
        partitions_def=daily_partitions(staging.declared),
        backfill_policy=dg.BackfillPolicy.single_run(),
        code_version="4",
    )
    def _staged(
        context: dg.AssetExecutionContext, raw: DailyScan, lake: Lake, **inputs: Any
    ) -> Iterator[dg.Output[Any] | dg.AssetCheckResult]:
        settle_chunk = settler(staging, inputs, context.run.run_id)
        yield from stage_daily(context, staging, raw, lake, settle_chunk, summarizer(staging))

    return _staged


def build_staged_reference(staging: Staging) -> dg.AssetsDefinition:
    """A staged reference table and its quarantine, from every raw snapshot: `keep` decides
    which valid rows the table holds (e.g. the newest snapshot); the others are superseded.
    """

    @dg.multi_asset(
        name=f"staged_{staging.declared.name}",
        outs=staging.outs(),
        ins=staged_ins(staging),
        check_specs=staging.checks(),
        code_version="4",
    )
    def _staged(
        context: dg.AssetExecutionContext, raw: pl.LazyFrame, **inputs: Any
    ) -> Iterator[dg.Output[Any] | dg.AssetCheckResult]:
        settle_all = settler(staging, inputs, context.run.run_id)
        with spilled() as spill:
            # One chunk: a reference table's keys span its snapshots.
            tally = stage_rows(staging, raw, spill.add, settle_all, chunk_rows=1)
            yield from staged_results(context, staging, tally, spill.scan(staging.spec.schema))

    return _staged


def build_staged_periods(staging: Staging) -> dg.AssetsDefinition:
    """The staged table of a monthly or keyed source (a stock symbol by month, say) and its
    quarantine: the run's partitions staged at once (such sources are small per partition).
    """

    @dg.multi_asset(
        name=f"staged_{staging.declared.name}",
        outs=staging.outs(),
        ins=staged_ins(staging),
        check_specs=staging.checks(),
        partitions_def=source_partitions(staging.declared),
        backfill_policy=dg.BackfillPolicy.single_run(),
        code_version="1",
    )
    def _staged(
        context: dg.AssetExecutionContext, raw: pl.LazyFrame, **inputs: Any
    ) -> Iterator[dg.Output[Any] | dg.AssetCheckResult]:
        settle_all = settler(staging, inputs, context.run.run_id)
        with spilled() as spill:
            tally = stage_rows(staging, raw, spill.add, settle_all, chunk_rows=1)
            valid = spill.scan(staging.spec.schema).collect()
            yield from staged_results(context, staging, tally, valid.lazy())

    return _staged


def build_staged(spec: SourceSpec) -> dg.AssetsDefinition:
    """The staged layer of a declared source."""
    staging = Staging(spec)
    if spec.daily:
        return build_staged_daily(staging)
    if spec.snapshot:
        return build_staged_reference(staging)
    return build_staged_periods(staging)
