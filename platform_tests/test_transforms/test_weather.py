from datetime import date

import polars as pl

from lakehouse.contracts.base import FAILED_CHECKS, split_by_contract
from lakehouse.contracts.declared import contract_of
from lakehouse.simulator.sample import WEATHER
from lakehouse.transforms.parsing import ROW_ERRORS
from lakehouse.transforms.weather import dedupe_weather, stage_weather
from platform_tests.factories import raw_rows

WEATHER_CONTRACT = contract_of("weather")

LINE = "EWR,2013,11,3,1,39.02,26.06,59.37,270,10.35702,NA,0,1012,10,2013-11-03T05:00:00Z"


def raw(*lines: str, day: date = date(2013, 11, 3)) -> pl.LazyFrame:
    rows = [dict(zip(WEATHER.columns, line.split(","), strict=True)) for line in lines]
    return raw_rows(WEATHER, rows, day)


def test_the_repeated_fall_back_hour_is_two_observations_marked_not_a_duplicate() -> None:
    second = LINE.replace("2013-11-03T05:00:00Z", "2013-11-03T06:00:00Z")
    staged = dedupe_weather(stage_weather(raw(LINE, second)).drop(ROW_ERRORS)).collect()
    assert staged.height == 2
    assert staged["repeated_local_hour"].to_list() == [True, True]
    assert staged["obs_local"].dt.hour().to_list() == [1, 1]  # 01:00 EDT, then 01:00 EST


def test_a_redelivered_hour_keeps_the_last_line() -> None:
    corrected = LINE.replace(",39.02,", ",41.0,")
    staged = dedupe_weather(stage_weather(raw(LINE, corrected)).drop(ROW_ERRORS)).collect()
    assert staged["temp"].to_list() == [41.0]
    assert staged["repeated_local_hour"].to_list() == [False]


def test_an_impossible_date_is_a_named_row_error() -> None:
    staged = stage_weather(raw(LINE.replace(",11,3,", ",2,30,"))).collect()
    assert "no such date 2013-2-30" in staged[ROW_ERRORS][0]


def test_the_contract_rejects_an_impossible_wind_speed() -> None:
    wild = LINE.replace(",10.35702,", ",1048.36058,")
    midnight = LINE.replace("2013,11,3,1,", "2013,11,3,0,").replace("T05", "T04")
    staged = stage_weather(raw(midnight, wild)).drop(ROW_ERRORS)
    split = split_by_contract(staged.collect(), WEATHER_CONTRACT)
    assert split.valid.height == 1
    assert split.rejected[FAILED_CHECKS].to_list() == ["wind_speed: in_range(0, 150) = 1048.36058"]


def test_the_contract_rejects_a_utc_hour_that_is_not_the_delivered_local_hour() -> None:
    # Filed under 2013-11-03 01:00 local, but its UTC hour is a day earlier.
    misfiled = LINE.replace("2013-11-03T05:00:00Z", "2013-11-02T05:00:00Z")
    staged = stage_weather(raw(misfiled)).drop(ROW_ERRORS).collect()
    rejected = split_by_contract(staged, WEATHER_CONTRACT).rejected
    assert rejected[FAILED_CHECKS].to_list() == ["utc_hour_matches_local_hour"]
