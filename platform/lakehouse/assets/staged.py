"""Staged layer: typed, deduplicated tables; rows that cannot be staged fail the run by name."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import dagster as dg
import pandera.polars as pa
import polars as pl

from lakehouse.assets.metadata import (
    OWNERS,
    column_schema,
    definition_metadata,
    markdown_preview,
    output_metadata,
)
from lakehouse.checks.logic import duplicate_keys, reconcile
from lakehouse.contracts.base import FAILED_CHECKS, split_by_contract
from lakehouse.contracts.flights import FLIGHTS_CONTRACT
from lakehouse.contracts.quarantine import QUARANTINE, quarantine_records
from lakehouse.contracts.reference import (
    AIRLINES_CONTRACT,
    AIRPORTS_CONTRACT,
    PLANES_CONTRACT,
)
from lakehouse.contracts.weather import WEATHER_CONTRACT
from lakehouse.landing import PARTITION_COLUMN
from lakehouse.partitions import DAILY
from lakehouse.resources.parquet_io import PARTITION_EXPR
from lakehouse.settings import Settings
from lakehouse.sources import FLIGHTS, WEATHER, Source
from lakehouse.transforms.airlines import STAGED_AIRLINES, stage_airlines
from lakehouse.transforms.flights import (
    STAGED_FLIGHTS,
    add_arrival_utc,
    dedupe_flights,
    stage_flights,
)
from lakehouse.transforms.parsing import ROW_ERRORS
from lakehouse.transforms.reference import (
    STAGED_AIRPORTS,
    STAGED_PLANES,
    stage_airports,
    stage_planes,
)
from lakehouse.transforms.spec import TableSpec
from lakehouse.transforms.weather import STAGED_WEATHER, dedupe_weather, stage_weather

STAGED: dict[str, Any] = {
    "group_name": "staged",
    "kinds": {"polars", "parquet"},
    "owners": OWNERS,
    "io_manager_key": "lake_io_manager",
}
DAILY_STAGED: dict[str, Any] = {
    **STAGED,
    "partitions_def": DAILY,
    "backfill_policy": dg.BackfillPolicy.single_run(),
}


class StagingError(Exception):
    """Rows that could not be staged; the message lists them by file and line."""


def fail_on_rejects(rejected: pl.DataFrame, reason: str) -> None:
    """Raise a StagingError naming each rejected row by file and line (at most 5, then a
    count); for tables that have no quarantine yet.
    """
    if rejected.height:
        listed = "; ".join(
            f"{file}:{line}: {problem}"
            for file, line, problem in rejected.select("_source_file", "_line_number", reason)
            .head(5)
            .iter_rows()
        )
        msg = f"{rejected.height} row(s) cannot be staged: {listed}. Fix and deliver again"
        raise StagingError(msg)


LINE_KEY = ["_source_file", "_line_number"]
MIN_PASS_RATE = Settings.from_env().min_pass_rate


@dataclass(frozen=True)
class DailyStaging:
    """How a daily source is staged: its table, contract and the Date column it is split on."""

    source: Source
    spec: TableSpec
    contract: pa.DataFrameSchema
    date_column: str
    description: str

    @property
    def key(self) -> dg.AssetKey:
        """The staged table."""
        return dg.AssetKey(["staged", self.source.name])

    @property
    def quarantine_key(self) -> dg.AssetKey:
        """Its quarantine table."""
        return dg.AssetKey(["staged", f"{self.source.name}_quarantine"])

    def outs(self) -> dict[str, dg.AssetOut]:
        """The staged table and its quarantine, both daily in the lake."""
        return {
            "staged": dg.AssetOut(
                key=self.key,
                description=self.description,
                metadata=definition_metadata(
                    column_schema(self.spec), **{PARTITION_EXPR: self.date_column}
                ),
                **STAGED,
            ),
            "quarantine": dg.AssetOut(
                key=self.quarantine_key,
                description=f"Every delivered {self.source.name} line that did not reach "
                f"staged/{self.source.name}: unsplittable, unparseable or breaking the contract, "
                "with the reason.",
                metadata=definition_metadata(
                    column_schema(QUARANTINE), **{PARTITION_EXPR: PARTITION_COLUMN}
                ),
                **STAGED,
            ),
        }

    def checks(self) -> list[dg.AssetCheckSpec]:
        """The blocking checks every staged daily table carries."""
        described = {
            "business_key_unique": "The rows written hold one row per ("
            + ", ".join(self.spec.key)
            + "): no join or deduplication defect doubled a row.",
            "contract_pass_rate": f"On every day, at least {MIN_PASS_RATE:.0%} of the rows "
            "offered reach the staged table (LAKEHOUSE_MIN_PASS_RATE).",
            "reconciliation": "Per day: raw rows = staged + quarantined + duplicates removed, "
            "exactly.",
        }
        return [
            dg.AssetCheckSpec(name, asset=self.key, blocking=True, description=text)
            for name, text in described.items()
        ]


@dataclass(frozen=True)
class Settled:
    """Where every delivered row of a run went."""

    valid: pl.DataFrame
    contract_rejects: pl.DataFrame
    quarantine: pl.DataFrame
    removed: pl.DataFrame  # rows dropped as older deliveries of the same business key


def settle(
    staging: DailyStaging,
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
        dedupe: Keeps the last delivered row per business key (may add columns).
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
        removed=split.valid.join(deduped.select(LINE_KEY), on=LINE_KEY, how="anti"),
    )


def staged_results(
    staging: DailyStaging, delivered: pl.DataFrame, settled: Settled, **extra: Any
) -> Iterator[dg.Output[pl.DataFrame] | dg.AssetCheckResult]:
    """The staged table, its quarantine, and the three blocking checks, with their evidence."""
    valid, quarantine = settled.valid, settled.quarantine
    duplicates = duplicate_keys(valid, staging.spec.key)
    balance = reconcile(
        delivered[PARTITION_COLUMN],
        valid[staging.date_column],
        quarantine[PARTITION_COLUMN],
        settled.removed[staging.date_column],
    )
    rates = balance.pass_rates()
    worst = rates.sort("pass_rate", "day").row(0, named=True) if rates.height else None
    where = f"{staging.quarantine_key.to_user_string()} ({quarantine.height} rows)"
    yield dg.Output(
        valid,
        output_name="staged",
        metadata=output_metadata(
            valid,
            duplicates_removed=settled.removed.height,
            quarantined=quarantine.height,
            **extra,
        ),
    )
    by_reason = quarantine.group_by("stage", "reason").len().sort("len", descending=True)
    yield dg.Output(
        quarantine,
        output_name="quarantine",
        metadata=output_metadata(quarantine, by_reason=markdown_preview(by_reason, rows=20)),
    )
    yield dg.AssetCheckResult(
        asset_key=staging.key,
        check_name="business_key_unique",
        passed=duplicates.passed,
        metadata={
            "duplicate_keys": duplicates.keys,
            "excess_rows": duplicates.excess_rows,
            "sample": markdown_preview(duplicates.sample),
        },
    )
    below = rates.filter(pl.col("pass_rate") < MIN_PASS_RATE)
    yield dg.AssetCheckResult(
        asset_key=staging.key,
        check_name="contract_pass_rate",
        passed=below.height == 0,
        metadata={
            "lowest_pass_rate": worst["pass_rate"] if worst else 1.0,
            "lowest_day": str(worst["day"]) if worst else "",
            "days_below_threshold": below.height,
            "threshold": MIN_PASS_RATE,
            "quarantined": quarantine.height,
            "sample": markdown_preview(quarantine.select(*LINE_KEY, "stage", "reason"), rows=20),
            "where_to_look": where,
        },
    )
    yield dg.AssetCheckResult(
        asset_key=staging.key,
        check_name="reconciliation",
        passed=balance.passed,
        metadata={
            **balance.totals,
            "unbalanced_days": markdown_preview(balance.by_day.filter(pl.col("difference") != 0)),
            "where_to_look": where,
        },
    )


FLIGHTS_STAGING = DailyStaging(
    source=FLIGHTS,
    spec=STAGED_FLIGHTS,
    contract=FLIGHTS_CONTRACT,
    date_column="flight_date",
    description="Typed flights: departures in New York time and UTC, arrivals in the "
    "destination's zone and UTC, the cancelled flag; one row per business key; only rows that "
    "keep the flights contract.",
)
FLIGHTS_KEY = FLIGHTS_STAGING.key


@dg.multi_asset(
    outs=FLIGHTS_STAGING.outs(),
    ins={"raw": dg.AssetIn(["raw", "flights"]), "airports": dg.AssetIn(["staged", "airports"])},
    check_specs=FLIGHTS_STAGING.checks(),
    partitions_def=DAILY,
    backfill_policy=dg.BackfillPolicy.single_run(),
    code_version="3",
)
def staged_flights(
    context: dg.AssetExecutionContext, raw: pl.LazyFrame, airports: pl.DataFrame
) -> Iterator[dg.Output[pl.DataFrame] | dg.AssetCheckResult]:
    """Stage flights; rows that cannot be staged or break the contract go to quarantine."""
    delivered = raw.collect()
    zones = airports["tzone"].drop_nulls().unique().sort().to_list()

    staged = stage_flights(delivered.lazy()).collect()
    settled = settle(
        FLIGHTS_STAGING,
        delivered,
        staged,
        prepare=lambda clean: add_arrival_utc(clean, airports.lazy(), zones),
        dedupe=dedupe_flights,
        run_id=context.run.run_id,
    )
    no_zone = settled.valid.filter(pl.col("dest_tzone").is_null())
    yield from staged_results(
        FLIGHTS_STAGING,
        delivered,
        settled,
        arrivals_without_time_zone=no_zone.height,
        destinations_without_time_zone=", ".join(no_zone["dest"].unique().sort()),
    )


WEATHER_STAGING = DailyStaging(
    source=WEATHER,
    spec=STAGED_WEATHER,
    contract=WEATHER_CONTRACT,
    date_column="weather_date",
    description="Hourly weather per New York airport, keyed by the UTC hour; hours that repeat "
    "on the local clock when daylight saving ends are kept and marked.",
)


@dg.multi_asset(
    outs=WEATHER_STAGING.outs(),
    ins={"raw": dg.AssetIn(["raw", "weather"])},
    check_specs=WEATHER_STAGING.checks(),
    partitions_def=DAILY,
    backfill_policy=dg.BackfillPolicy.single_run(),
    code_version="2",
)
def staged_weather(
    context: dg.AssetExecutionContext, raw: pl.LazyFrame
) -> Iterator[dg.Output[pl.DataFrame] | dg.AssetCheckResult]:
    """Stage weather; rows that cannot be staged or break the contract go to quarantine."""
    delivered = raw.collect()
    staged = stage_weather(delivered.lazy()).collect()
    settled = settle(
        WEATHER_STAGING,
        delivered,
        staged,
        prepare=lambda clean: clean,
        dedupe=dedupe_weather,
        run_id=context.run.run_id,
    )
    repeated = int(settled.valid["repeated_local_hour"].sum())
    yield from staged_results(WEATHER_STAGING, delivered, settled, repeated_local_hours=repeated)


def build_staged_reference(
    table: str,
    spec: TableSpec,
    transform: Callable[[pl.LazyFrame], pl.LazyFrame],
    contract: pa.DataFrameSchema,
    doc: str,
) -> dg.AssetsDefinition:
    """A staged reference table: `transform` over every raw snapshot, checked by `contract`;
    any row that cannot be staged or breaks the contract fails the run by file and line.
    """

    @dg.asset(
        key=["staged", table],
        ins={"raw": dg.AssetIn(["raw", table])},
        metadata=definition_metadata(column_schema(spec)),
        description=doc,
        code_version="2",
        **STAGED,
    )
    def _staged(raw: pl.LazyFrame) -> dg.Output[pl.DataFrame]:
        staged = transform(raw).collect()
        fail_on_rejects(staged.filter(pl.col(ROW_ERRORS).is_not_null()), ROW_ERRORS)
        split = split_by_contract(staged.drop(ROW_ERRORS), contract)
        fail_on_rejects(split.rejected, FAILED_CHECKS)
        return dg.Output(split.valid, metadata=output_metadata(split.valid))

    return _staged


staged_airlines = build_staged_reference(
    "airlines",
    STAGED_AIRLINES,
    stage_airlines,
    AIRLINES_CONTRACT,
    "One row per carrier, from the newest snapshot.",
)
staged_airports = build_staged_reference(
    "airports",
    STAGED_AIRPORTS,
    stage_airports,
    AIRPORTS_CONTRACT,
    "One row per airport, from the newest snapshot.",
)
staged_planes = build_staged_reference(
    "planes",
    STAGED_PLANES,
    stage_planes,
    PLANES_CONTRACT,
    "Every planes snapshot: one row per plane per day.",
)
