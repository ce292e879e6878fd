"""Where every delivered row goes, tested on hand-made weather rows (no Dagster run needed)."""

from datetime import date

import polars as pl

from lakehouse.assets.staged import Staging, settle
from lakehouse.checks.logic import reconcile
from lakehouse.contracts.quarantine import csv_field
from lakehouse.dates import consecutive_spans
from lakehouse.declarations import declared
from lakehouse.landing import PARTITION_COLUMN
from lakehouse.transforms.weather import dedupe_weather, stage_weather
from platform_tests.test_transforms.test_weather import LINE, raw

WEATHER_STAGING = Staging(declared("weather"))


def run(*lines: str) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    delivered = raw(*lines).collect()
    staged = stage_weather(delivered.lazy()).collect()
    settled = settle(
        WEATHER_STAGING, delivered, staged, prepare=lambda f: f, dedupe=dedupe_weather, run_id="r"
    )
    return settled.valid, settled.quarantine, settled.removed


def test_a_bad_newer_delivery_does_not_displace_a_good_older_one() -> None:
    valid, quarantine, removed = run(LINE, LINE.replace(",10.35702,", ",999,"))
    assert valid["_line_number"].to_list() == [2]
    assert quarantine["_line_number"].to_list() == [3]
    assert removed.height == 0


def test_a_good_newer_delivery_replaces_the_older_one() -> None:
    valid, quarantine, removed = run(LINE, LINE.replace(",39.02,", ",41.0,"))
    assert valid["temp"].to_list() == [41.0]
    assert removed["_line_number"].to_list() == [2]
    assert quarantine.height == 0


def test_the_pass_rate_counts_every_rejected_row_per_delivery() -> None:
    d1, d2 = "weather/2013-01-01.csv", "weather/2013-01-02.csv"
    balance = reconcile(
        raw=pl.Series([d1] * 4 + [d2] * 2),
        staged=pl.Series([d1, d1, d1, d2]),
        quarantined=pl.Series([d2]),
        deduplicated=pl.Series([d1]),
    )
    assert balance.passed
    assert balance.pass_rates().rows() == [(d1, 1.0), (d2, 0.5)]
    all_bad = reconcile(pl.Series([d1] * 3), pl.Series([], dtype=pl.String), pl.Series([d1] * 3),
                        pl.Series([], dtype=pl.String))  # fmt: skip
    assert all_bad.pass_rates().rows() == [(d1, 0.0)]


def test_quarantined_records_keep_their_quoting() -> None:
    frame = pl.DataFrame({"a": ["plain", "N5,47JB", 'say "hi"', None]})
    assert frame.select(csv_field("a")).to_series().to_list() == [
        "plain",
        '"N5,47JB"',
        '"say ""hi"""',
        None,
    ]


def test_replay_spans_are_the_consecutive_quarantined_days() -> None:
    days = [date(2013, 1, 5), date(2013, 12, 20), date(2013, 1, 6), date(2013, 1, 5)]
    assert consecutive_spans(days) == [
        (date(2013, 1, 5), date(2013, 1, 6)),
        (date(2013, 12, 20), date(2013, 12, 20)),
    ]


def test_every_quarantined_row_keeps_its_partition_day() -> None:
    _, quarantine, _ = run(LINE.replace(",10.35702,", ",999,"))
    assert quarantine[PARTITION_COLUMN].to_list() == [date(2013, 11, 3)]
