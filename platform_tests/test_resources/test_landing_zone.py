"""The landing zone resource: a run's deliveries, parsed side by side and handed over in order."""

import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from lakehouse.landing import (
    LandingFile,
    LandingFileError,
    landing_path,
    read_delivery,
    write_atomic,
)
from lakehouse.resources import landing as landing_resource
from lakehouse.resources.landing import LandingZone
from lakehouse.simulator.sample import FLIGHTS
from lakehouse.sources import Source

DAYS = [date(2013, 1, 1) + timedelta(days=i) for i in range(7)]


@pytest.fixture
def zone(tmp_path: Path, landed_sample: Path) -> LandingZone:
    """Seven days of flights: the three sample days again and again, each file its own day."""
    samples = sorted((landed_sample / FLIGHTS.name).glob("*.csv"))
    for day, sample in zip(DAYS, samples * 3, strict=False):
        write_atomic(landing_path(tmp_path, FLIGHTS.name, day), sample.read_bytes())
    return LandingZone(root=str(tmp_path))


def test_deliveries_come_in_file_order_with_the_rows_of_each_file(
    zone: LandingZone, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = zone.daily_files(FLIGHTS, DAYS)
    assert len(files) > zone.PARSERS > 1  # files wait for a free parser, and parsers overlap

    def first_file_last(
        file: LandingFile, source: Source, *, ingested_at: datetime
    ) -> pl.DataFrame:
        if file.day == DAYS[0]:
            time.sleep(0.3)  # the files after it finish first
        return read_delivery(file, source, ingested_at=ingested_at)

    monkeypatch.setattr(landing_resource, "read_delivery", first_file_last)
    got = list(zone.deliveries(FLIGHTS, files))
    assert [file for file, _ in got] == files
    at = got[0][1]["_ingested_at"][0]
    assert all(rows["_ingested_at"].unique().to_list() == [at] for _, rows in got)
    for file, rows in got:
        alone = read_delivery(file, FLIGHTS, ingested_at=at.replace(tzinfo=UTC))
        assert_frame_equal(rows, alone)


def test_a_bad_file_fails_in_its_turn_after_the_files_before_it(zone: LandingZone) -> None:
    bad = landing_path(zone.path, FLIGHTS.name, DAYS[3])
    write_atomic(bad, b"not,the,header\n1,2,3\n", again=True)
    files = zone.daily_files(FLIGHTS, DAYS)
    deliveries = zone.deliveries(FLIGHTS, files)
    handed = [next(deliveries)[0].day for _ in range(3)]
    with pytest.raises(LandingFileError, match=bad.name):
        next(deliveries)
    assert handed == DAYS[:3]


def test_a_caller_that_stops_early_reads_no_more_files_and_leaves_no_parser_running(
    zone: LandingZone, monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[date] = []

    def counted(file: LandingFile, source: Source, *, ingested_at: datetime) -> pl.DataFrame:
        read.append(file.day)
        return read_delivery(file, source, ingested_at=ingested_at)

    monkeypatch.setattr(landing_resource, "read_delivery", counted)
    deliveries = zone.deliveries(FLIGHTS, zone.daily_files(FLIGHTS, DAYS))
    first, _ = next(deliveries)
    deliveries.close()
    assert first.day == DAYS[0]
    assert sorted(read) == DAYS[: zone.PARSERS]  # those already handed to a parser, no more
    assert not [t for t in threading.enumerate() if t.name.startswith("landing-parser")]
