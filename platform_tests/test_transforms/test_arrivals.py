from datetime import datetime
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from lakehouse.transforms.flights import add_arrival_utc, dedupe_flights, stage_flights
from platform_tests.factories import raw_flights

UTC = ZoneInfo("UTC")
AIRPORTS = pl.LazyFrame(
    {
        "faa": ["LAX", "ORD", "IAH", "XXX"],
        "tzone": ["America/Los_Angeles", "America/Chicago", "America/Chicago", None],
    }
)
ZONES = ["America/Chicago", "America/Los_Angeles"]


def arrive(**override: str) -> dict[str, object]:
    staged = dedupe_flights(stage_flights(raw_flights(override)))
    return add_arrival_utc(staged, AIRPORTS, ZONES).collect().row(0, named=True)


def test_arrival_in_the_destination_zone_and_utc() -> None:
    row = arrive()  # EWR -> IAH, scheduled 08:19 CST, 11 minutes late
    assert row["dest_tzone"] == "America/Chicago"
    assert row["sched_arr_utc"] == datetime(2013, 1, 1, 14, 19, tzinfo=UTC)
    assert row["arr_utc"] == datetime(2013, 1, 1, 14, 30, tzinfo=UTC)


def test_overnight_westbound_arrival_is_next_day_in_utc() -> None:
    row = arrive(dest="LAX", sched_dep_time="2300", dep_time="2310", dep_delay="10",
                 sched_arr_time="159", arr_time="205", arr_delay="6")  # fmt: skip
    assert row["sched_arr_local"] == datetime(2013, 1, 2, 1, 59)
    assert row["arr_utc"] == datetime(2013, 1, 2, 10, 5, tzinfo=UTC)


def test_a_diverted_arrival_without_delay_never_precedes_its_departure() -> None:
    # Left 16:23 EST, no arrival delay recorded, clock 11:48 Central: that is the next morning.
    row = arrive(dest="ORD", sched_dep_time="1600", dep_time="1623", dep_delay="23",
                 sched_arr_time="1745", arr_time="1148", arr_delay="NA")  # fmt: skip
    assert row["arr_local"] == datetime(2013, 1, 2, 11, 48)
    assert row["arr_utc"] == datetime(2013, 1, 2, 17, 48, tzinfo=UTC)
    assert row["arr_utc"] > row["dep_utc"]


@pytest.mark.parametrize("dest", ["XXX", "ZZZ"])
def test_unknown_destination_zone_keeps_null_utc_arrivals(dest: str) -> None:
    row = arrive(dest=dest)
    assert row["dest_tzone"] is None
    assert row["sched_arr_utc"] is None
    assert row["arr_utc"] is None
    assert row["arr_local"] == datetime(2013, 1, 1, 8, 30)
