"""Staged layer: typed, deduplicated tables; rows that cannot be staged fail the run by name."""

from collections.abc import Callable, Iterator
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
from lakehouse.checks.logic import duplicate_keys, pass_rate, reconcile
from lakehouse.contracts.base import FAILED_CHECKS, split_by_contract
from lakehouse.contracts.flights import FLIGHTS_CONTRACT
from lakehouse.contracts.quarantine import QUARANTINE, quarantine_records
from lakehouse.landing import PARTITION_COLUMN
from lakehouse.partitions import DAILY
from lakehouse.resources.parquet_io import PARTITION_EXPR
from lakehouse.settings import Settings
from lakehouse.sources import FLIGHTS
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
from lakehouse.transforms.weather import STAGED_WEATHER, stage_weather

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
        msg = f"{bad.height} row(s) cannot be staged: {listed}. Fix the files and deliver again"
        raise StagingError(msg)
    return staged.drop(ROW_ERRORS)


QUARANTINE_KEY = dg.AssetKey(["staged", "flights_quarantine"])
LINE_KEY = ["_source_file", "_line_number"]
MIN_PASS_RATE = Settings.from_env().min_pass_rate


def _check(name: str, description: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(name, asset=FLIGHTS_KEY, blocking=True, description=description)


@dg.multi_asset(
    outs={
        "flights": dg.AssetOut(
            key=FLIGHTS_KEY,
            description="Typed flights: departures in New York time and UTC, arrivals in the "
            "destination's zone and UTC, the cancelled flag; one row per business key; only "
            "rows that keep the flights contract.",
            metadata=definition_metadata(
                column_schema(STAGED_FLIGHTS), **{PARTITION_EXPR: "flight_date"}
            ),
            **STAGED,
        ),
        "quarantine": dg.AssetOut(
            key=QUARANTINE_KEY,
            description="Every delivered flights line that did not reach staged/flights: "
            "unsplittable, unparseable, or breaking the contract, with the reason.",
            metadata=definition_metadata(
                column_schema(QUARANTINE), **{PARTITION_EXPR: PARTITION_COLUMN}
            ),
            **STAGED,
        ),
    },
    ins={"raw": dg.AssetIn(["raw", "flights"]), "airports": dg.AssetIn(["staged", "airports"])},
    check_specs=[
        _check("business_key_unique", "One row per (" + ", ".join(STAGED_FLIGHTS.key) + ")."),
        _check(
            "contract_pass_rate",
            f"At least {MIN_PASS_RATE:.0%} of the run's rows keep the contract "
            "(LAKEHOUSE_MIN_PASS_RATE).",
        ),
        _check(
            "reconciliation",
            "Per day: raw rows = staged + quarantined + duplicates removed, exactly.",
        ),
    ],
    partitions_def=DAILY,
    backfill_policy=dg.BackfillPolicy.single_run(),
    code_version="3",
)
def staged_flights(
    context: dg.AssetExecutionContext, raw: pl.LazyFrame, airports: pl.DataFrame
) -> Iterator[dg.Output[pl.DataFrame] | dg.AssetCheckResult]:
    """Stage flights; rows that cannot be staged or break the contract go to quarantine."""
    delivered = raw.collect()
    staged = stage_flights(delivered.lazy()).collect()
    unstageable = staged.filter(pl.col(ROW_ERRORS).is_not_null())
    clean = staged.filter(pl.col(ROW_ERRORS).is_null()).drop(ROW_ERRORS)
    deduped = dedupe_flights(clean.lazy()).collect()
    removed = clean.join(deduped.select(LINE_KEY), on=LINE_KEY, how="anti")
    zones = airports["tzone"].drop_nulls().unique().sort().to_list()
    with_zones = add_arrival_utc(deduped.lazy(), airports.lazy(), zones).collect()
    split = split_by_contract(with_zones, FLIGHTS_CONTRACT)
    rejected = pl.concat(
        [
            unstageable.select(*LINE_KEY, stage=pl.lit("staging"), reason=ROW_ERRORS),
            split.rejected.select(*LINE_KEY, stage=pl.lit("contract"), reason=FAILED_CHECKS),
        ]
    )
    quarantine = quarantine_records(
        delivered, rejected, source_columns=FLIGHTS.columns, run_id=context.run.run_id
    )
    yield from _flights_results(delivered, split.valid, split.rejected, quarantine, removed)


def _flights_results(
    delivered: pl.DataFrame,
    valid: pl.DataFrame,
    contract_rejects: pl.DataFrame,
    quarantine: pl.DataFrame,
    removed: pl.DataFrame,
) -> Iterator[dg.Output[pl.DataFrame] | dg.AssetCheckResult]:
    duplicates = duplicate_keys(valid, STAGED_FLIGHTS.key)
    balance = reconcile(
        delivered[PARTITION_COLUMN],
        valid["flight_date"],
        quarantine[PARTITION_COLUMN],
        removed["flight_date"],
    )
    rate = pass_rate(valid.height, contract_rejects.height)
    no_zone = valid.filter(pl.col("dest_tzone").is_null())
    yield dg.Output(
        valid,
        output_name="flights",
        metadata=output_metadata(
            valid,
            duplicates_removed=removed.height,
            quarantined=quarantine.height,
            arrivals_without_time_zone=no_zone.height,
            destinations_without_time_zone=", ".join(no_zone["dest"].unique().sort()),
        ),
    )
    by_reason = quarantine.group_by("stage", "reason").len().sort("len", descending=True)
    yield dg.Output(
        quarantine,
        output_name="quarantine",
        metadata=output_metadata(quarantine, by_reason=markdown_preview(by_reason, rows=20)),
    )
    where = f"staged/flights_quarantine ({quarantine.height} rows)"
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
    yield dg.AssetCheckResult(
        asset_key=FLIGHTS_KEY,
        check_name="contract_pass_rate",
        passed=rate >= MIN_PASS_RATE,
        metadata={
            "pass_rate": rate,
            "threshold": MIN_PASS_RATE,
            "rejected": contract_rejects.height,
            "sample": markdown_preview(
                contract_rejects.select("_source_file", "_line_number", FAILED_CHECKS), rows=20
            ),
            "where_to_look": where,
        },
    )
    yield dg.AssetCheckResult(
        asset_key=FLIGHTS_KEY,
        check_name="reconciliation",
        passed=balance.passed,
        metadata={
            **balance.totals,
            "unbalanced_days": markdown_preview(balance.by_day.filter(pl.col("difference") != 0)),
            "where_to_look": where,
        },
    )


@dg.asset(
    key=["staged", "weather"],
    ins={"raw": dg.AssetIn(["raw", "weather"])},
    metadata=definition_metadata(column_schema(STAGED_WEATHER), **{PARTITION_EXPR: "weather_date"}),
    code_version="1",
    **DAILY_STAGED,
)
def staged_weather(raw: pl.LazyFrame) -> dg.Output[pl.DataFrame]:
    """Hourly weather per New York airport, keyed by the UTC hour; hours that repeat on the
    local clock when daylight saving ends are kept and marked.
    """
    typed = raw.collect()
    weather = reject_row_errors(stage_weather(typed.lazy()).collect())
    return dg.Output(
        weather,
        metadata=output_metadata(
            weather,
            duplicates_removed=typed.height - weather.height,
            repeated_local_hours=int(weather["repeated_local_hour"].sum()),
        ),
    )


def build_staged_reference(
    table: str, spec: TableSpec, transform: Callable[[pl.LazyFrame], pl.LazyFrame], doc: str
) -> dg.AssetsDefinition:
    """A staged reference table: `transform` over every raw snapshot, nothing unexplained."""

    @dg.asset(
        key=["staged", table],
        ins={"raw": dg.AssetIn(["raw", table])},
        metadata=definition_metadata(column_schema(spec)),
        description=doc,
        code_version="1",
        **STAGED,
    )
    def _staged(raw: pl.LazyFrame) -> dg.Output[pl.DataFrame]:
        staged = reject_row_errors(transform(raw).collect())
        return dg.Output(staged, metadata=output_metadata(staged))

    return _staged


staged_airlines = build_staged_reference(
    "airlines", STAGED_AIRLINES, stage_airlines, "One row per carrier, from the newest snapshot."
)
staged_airports = build_staged_reference(
    "airports", STAGED_AIRPORTS, stage_airports, "One row per airport, from the newest snapshot."
)
staged_planes = build_staged_reference(
    "planes", STAGED_PLANES, stage_planes, "Every planes snapshot: one row per plane per day."
)
