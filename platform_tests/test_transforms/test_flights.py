from datetime import date, datetime
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from lakehouse.transforms.flights import TYPED_FLIGHTS, dedupe_flights, stage_flights
from lakehouse.transforms.parsing import ROW_ERRORS
from platform_tests.factories import raw_flights

NY = ZoneInfo("America/New_York")


def stage(*overrides: dict[str, str], day: date = date(2013, 1, 1)) -> pl.DataFrame:
    return stage_flights(raw_flights(*overrides, day=day)).collect()


def test_ordinary_flight_is_typed_with_new_york_and_utc_departures() -> None:
    row = stage({}).row(0, named=True)
    assert row["flight_date"] == date(2013, 1, 1)
    assert row["sched_dep_local"] == datetime(2013, 1, 1, 5, 15, tzinfo=NY)
    assert row["sched_dep_utc"] == datetime(2013, 1, 1, 10, 15, tzinfo=ZoneInfo("UTC"))
    assert row["dep_local"] == datetime(2013, 1, 1, 5, 17, tzinfo=NY)
    assert row["sched_arr_local"] == datetime(2013, 1, 1, 8, 19)
    assert row["arr_local"] == datetime(2013, 1, 1, 8, 30)
    assert row["cancelled"] is False
    assert row[ROW_ERRORS] is None


def test_schema_is_the_spec_plus_row_errors() -> None:
    assert stage({}).schema == pl.Schema({**TYPED_FLIGHTS.schema, ROW_ERRORS: pl.String})


def test_na_becomes_null_and_marks_cancelled() -> None:
    na = dict.fromkeys(["dep_time", "dep_delay", "arr_time", "arr_delay", "air_time"], "NA")
    row = stage({**na, "tailnum": "NA"}).row(0, named=True)
    assert row["dep_time"] is None
    assert row["tailnum"] is None
    assert row["dep_local"] is None
    assert row["arr_local"] is None
    assert row["cancelled"] is True
    assert row[ROW_ERRORS] is None


def test_2400_is_midnight_ending_the_day() -> None:
    row = stage({"sched_dep_time": "2359", "dep_time": "2400", "dep_delay": "1"}).row(0, named=True)
    assert row["dep_local"] == datetime(2013, 1, 2, 0, 0, tzinfo=NY)


def test_late_departure_after_midnight_rolls_to_next_day() -> None:
    row = stage({"sched_dep_time": "2359", "dep_time": "10", "dep_delay": "11"}).row(0, named=True)
    assert row["dep_local"] == datetime(2013, 1, 2, 0, 10, tzinfo=NY)


def test_early_departure_before_midnight_rolls_to_previous_day() -> None:
    row = stage({"sched_dep_time": "5", "dep_time": "2358", "dep_delay": "-7"}).row(0, named=True)
    assert row["dep_local"] == datetime(2012, 12, 31, 23, 58, tzinfo=NY)


def test_a_departure_without_a_delay_is_placed_by_its_clock() -> None:
    # Another flight with a delay shares the frame: each row takes its own rule.
    rows = stage({"dep_time": "517", "dep_delay": "NA"}, {"dep_time": "530", "dep_delay": "15"})
    assert rows["dep_local"].to_list() == [
        datetime(2013, 1, 1, 5, 17, tzinfo=NY),
        datetime(2013, 1, 1, 5, 30, tzinfo=NY),
    ]
    assert rows["dep_utc"].to_list() == [
        datetime(2013, 1, 1, 10, 17, tzinfo=ZoneInfo("UTC")),
        datetime(2013, 1, 1, 10, 30, tzinfo=ZoneInfo("UTC")),
    ]


def test_overnight_arrival_is_on_the_next_day() -> None:
    row = stage(
        {"sched_dep_time": "2245", "dep_time": "2250", "dep_delay": "5",
         "sched_arr_time": "210", "arr_time": "220", "arr_delay": "10"}
    ).row(0, named=True)  # fmt: skip
    assert row["sched_arr_local"] == datetime(2013, 1, 2, 2, 10)
    assert row["arr_local"] == datetime(2013, 1, 2, 2, 20)


def test_westbound_arrival_clock_behind_departure_stays_on_the_same_day() -> None:
    # 07:00 New York to Chicago lands 07:55 Central: the clock went back, the day did not change.
    row = stage(
        {"sched_dep_time": "800", "dep_time": "800", "dep_delay": "0",
         "sched_arr_time": "755", "arr_time": "755", "arr_delay": "0"}
    ).row(0, named=True)  # fmt: skip
    assert row["arr_local"] == datetime(2013, 1, 1, 7, 55)


def test_fall_back_hour_takes_the_earlier_instant() -> None:
    row = stage(
        {"year": "2013", "month": "11", "day": "3", "sched_dep_time": "130", "dep_time": "130",
         "dep_delay": "0"},
        day=date(2013, 11, 3),
    ).row(0, named=True)  # fmt: skip
    assert row["sched_dep_utc"] == datetime(2013, 11, 3, 5, 30, tzinfo=ZoneInfo("UTC"))


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"dep_time": "12x"}, "dep_time='12x'"),
        ({"distance": "far", "flight": "1.5"}, "flight='1.5'; distance='far'; flight is missing"),
        ({"time_hour": "yesterday"}, "time_hour='yesterday'"),
    ],
)
def test_unparseable_fields_are_named_not_nulled_silently(
    override: dict[str, str], expected: str
) -> None:
    assert stage(override)[ROW_ERRORS].to_list() == [expected]


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"month": "2", "day": "30"}, "no such date 2013-2-30"),
        ({"month": "13"}, "no such date 2013-13-1"),
        ({"year": "NA"}, "year is missing"),
        ({"carrier": ""}, "carrier is missing"),
        ({"dep_time": "1275"}, "dep_time=1275 is not an hhmm time"),
        ({"arr_time": "2460"}, "arr_time=2460 is not an hhmm time"),
    ],
)
def test_impossible_values_are_row_errors_not_crashes(
    override: dict[str, str], expected: str
) -> None:
    [errors] = stage(override)[ROW_ERRORS].to_list()
    assert expected in errors


def test_departure_in_the_repeated_fall_back_hour_is_placed_by_its_delay() -> None:
    # 00:30 EDT on 2013-11-03, 90 minutes late: 01:00 EST, the second 1 a.m. of that night.
    row = stage(
        {"month": "11", "day": "3", "sched_dep_time": "30", "dep_time": "100", "dep_delay": "90"},
        day=date(2013, 11, 3),
    ).row(0, named=True)
    assert row["sched_dep_utc"] == datetime(2013, 11, 3, 4, 30, tzinfo=ZoneInfo("UTC"))
    assert row["dep_utc"] == datetime(2013, 11, 3, 6, 0, tzinfo=ZoneInfo("UTC"))


def test_row_dated_another_day_than_its_file_is_flagged() -> None:
    errors = stage({"day": "2"}, day=date(2013, 1, 1))[ROW_ERRORS].to_list()
    assert errors == ["row is dated 2013-01-02 but was delivered in the file for 2013-01-01"]


def test_dedupe_keeps_the_last_delivered_row_per_business_key() -> None:
    staged = stage_flights(raw_flights({"dep_delay": "2"}, {"dep_delay": "9"}, {"flight": "7"}))
    deduped = dedupe_flights(staged).collect()
    assert deduped.height == 2
    assert deduped.filter(pl.col("flight") == 1545)["dep_delay"].to_list() == [9]
