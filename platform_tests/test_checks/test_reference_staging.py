"""Reference tables: the newest snapshot is the table, older snapshots are counted as superseded,
and bad rows are quarantined without stopping the rest.
"""

from datetime import date

import polars as pl

from lakehouse.assets.staged import Staging, settle
from lakehouse.checks.logic import reconcile
from lakehouse.declarations import declared
from lakehouse.simulator.sample import AIRPORTS
from lakehouse.transforms.reference import current_airports, stage_airports
from platform_tests.factories import raw_rows

AIRPORTS_STAGING = Staging(declared("airports"))


JFK = {"faa": "JFK", "name": "John F Kennedy Intl", "lat": "40.639751", "lon": "-73.778925",
       "alt": "13", "tz": "-5", "dst": "A", "tzone": "America/New_York"}  # fmt: skip
LGA = {**JFK, "faa": "LGA", "name": "La Guardia", "lat": "40.777245", "lon": "-73.872608"}
OLD, NEW = date(2013, 1, 1), date(2013, 4, 1)


def test_older_snapshots_are_superseded_and_bad_rows_quarantined_exactly() -> None:
    delivered = pl.concat(
        [
            raw_rows(AIRPORTS, [JFK, LGA], OLD).collect(),
            raw_rows(AIRPORTS, [{**JFK, "name": "JFK"}, {**LGA, "lat": "100"}], NEW).collect(),
        ]
    )
    settled = settle(
        AIRPORTS_STAGING,
        delivered,
        stage_airports(delivered.lazy()).collect(),
        prepare=lambda f: f,
        dedupe=current_airports,
        run_id="r",
    )
    assert settled.valid.select("faa", "name", "snapshot_date").rows() == [("JFK", "JFK", NEW)]
    assert settled.quarantine.select("_source_file", "_line_number", "stage").rows() == [
        ("airports/2013-04-01.csv", 3, "contract")
    ]
    assert "lat: in_range(-90, 90) = 100.0" in settled.quarantine["reason"].item()
    # Both rows of the old snapshot are superseded: the table is the newest snapshot only.
    assert sorted(settled.removed["_source_file"].to_list()) == ["airports/2013-01-01.csv"] * 2
    balance = reconcile(
        delivered["_source_file"],
        settled.valid["_source_file"],
        settled.quarantine["_source_file"],
        settled.removed["_source_file"],
    )
    assert balance.passed
    assert balance.by_delivery.select("delivery", "raw", "staged", "quarantined").rows() == [
        ("airports/2013-01-01.csv", 2, 0, 0),
        ("airports/2013-04-01.csv", 2, 1, 1),
    ]


def test_a_superseded_snapshot_with_one_bad_row_keeps_a_high_pass_rate() -> None:
    old = "airports/2013-01-01.csv"
    balance = reconcile(
        raw=pl.Series([old] * 41),
        staged=pl.Series([], dtype=pl.String),
        quarantined=pl.Series([old]),
        deduplicated=pl.Series([old] * 40),  # superseded by a newer snapshot
    )
    assert balance.passed
    assert balance.pass_rates().rows() == [(old, 40 / 41)]
