"""Staging a range a chunk of days at a time gives exactly what staging it at once gives."""

from pathlib import Path

import polars as pl
import pytest

from lakehouse.assets.staged import Settled, Staging, Tally, settle, stage_rows
from lakehouse.chunks import spilled
from lakehouse.declarations import declared
from lakehouse.landing import PARTITION_COLUMN
from lakehouse.resources.lake_io import DailyScan
from lakehouse.resources.landing import LandingZone
from lakehouse.simulator.sample import AIRPORTS, FLIGHTS
from lakehouse.transforms.flights import (
    STAGED_FLIGHTS,
    add_arrival_utc,
    dedupe_flights,
    stage_flights,
)
from lakehouse.transforms.reference import current_airports, stage_airports
from platform_tests.factories import daily_scan

FLIGHTS_STAGING = Staging(declared("flights"))


@pytest.fixture(scope="module")
def delivered(landed_sample: Path) -> tuple[DailyScan, pl.DataFrame]:
    """Three real days of flights, with a re-delivered line and a broken one on day two, and
    the airports they fly to. Day two's strings span two chunks, as a concatenation of
    deliveries does (Polars 2.1's `pl.format` panicked on such rows once filtered).
    """
    zone = LandingZone(root=str(landed_sample))
    flights = zone.read(FLIGHTS, zone.files(FLIGHTS))
    day_two = flights.filter(
        pl.col("_partition_date") == pl.col("_partition_date").min() + pl.duration(days=1)
    )
    copy = day_two.head(1).with_columns(pl.col("_line_number") + 100_000, dep_delay=pl.lit("7"))
    broken = day_two.tail(1).with_columns(pl.col("_line_number") + 200_000, month=pl.lit("13"))
    raw = pl.concat([flights, copy, broken]).sort("_partition_date", maintain_order=True)
    airports = current_airports(
        stage_airports(zone.read(AIRPORTS, zone.snapshots(AIRPORTS)).lazy())
    )
    return daily_scan(raw, PARTITION_COLUMN), airports.collect()


def stage_in_chunks(
    delivered: tuple[DailyScan, pl.DataFrame], chunk_rows: int
) -> tuple[pl.DataFrame, Tally, int]:
    raw, airports = delivered
    zones = airports["tzone"].drop_nulls().unique().sort().to_list()

    def settle_chunk(rows: pl.DataFrame) -> Settled:
        return settle(
            FLIGHTS_STAGING,
            rows,
            stage_flights(rows.lazy()).collect(),
            prepare=lambda clean: add_arrival_utc(clean, airports.lazy(), zones),
            dedupe=dedupe_flights,
            run_id="r",
        )

    with spilled() as spill:
        tally = stage_rows(FLIGHTS_STAGING, raw, spill.add, settle_chunk, chunk_rows=chunk_rows)
        return spill.scan(STAGED_FLIGHTS.schema).collect(), tally, len(spill.parts)


def test_one_chunk_per_day_stages_exactly_what_one_chunk_does(
    delivered: tuple[DailyScan, pl.DataFrame],
) -> None:
    whole, whole_tally, one = stage_in_chunks(delivered, chunk_rows=10**9)
    daily, daily_tally, three = stage_in_chunks(delivered, chunk_rows=1)

    assert (one, three) == (1, 3)
    assert whole.height > 2000
    assert daily.equals(whole)
    assert daily_tally.quarantine.equals(whole_tally.quarantine)
    assert daily_tally.balance.by_delivery.equals(whole_tally.balance.by_delivery)
    assert daily_tally.balance.passed
    assert daily_tally.staged_rows == whole.height
    assert daily_tally.removed_rows == 1  # the re-delivered line replaced its original
    assert daily_tally.quarantine["reason"].to_list() == ["no such date 2013-13-2"]
    assert daily_tally.day_rows.sort("day").equals(whole_tally.day_rows.sort("day"))
    assert daily_tally.duplicates.keys == whole_tally.duplicates.keys == 0
