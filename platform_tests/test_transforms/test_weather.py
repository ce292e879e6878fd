from datetime import UTC, date, datetime

import polars as pl

from lakehouse.contracts.base import FAILED_CHECKS, split_by_contract
from lakehouse.contracts.weather import WEATHER_CONTRACT
from lakehouse.landing import LINEAGE_COLUMNS, PARSE_ERROR, PARTITION_COLUMN, RAW_LINE
from lakehouse.sources import WEATHER
from lakehouse.transforms.parsing import ROW_ERRORS
from lakehouse.transforms.weather import dedupe_weather, stage_weather

LINE = "EWR,2013,11,3,1,39.02,26.06,59.37,270,10.35702,NA,0,1012,10,2013-11-03T05:00:00Z"


def raw(*lines: str, day: date = date(2013, 11, 3)) -> pl.LazyFrame:
    rows = [dict(zip(WEATHER.columns, line.split(","), strict=True)) for line in lines]
    frame = pl.DataFrame(rows, schema=dict.fromkeys(WEATHER.columns, pl.String))
    return (
        frame.with_columns(
            pl.lit(f"weather/{day}.csv").alias("_source_file"),
            pl.int_range(2, frame.height + 2, dtype=pl.Int32).alias("_line_number"),
            pl.lit(datetime(2026, 1, 1, tzinfo=UTC)).alias("_ingested_at"),
            pl.lit("0" * 64).alias("_content_hash"),
            pl.lit(None, dtype=pl.String).alias(RAW_LINE),
            pl.lit(None, dtype=pl.String).alias(PARSE_ERROR),
            pl.lit(day).alias(PARTITION_COLUMN),
        )
        .select(*WEATHER.columns, *LINEAGE_COLUMNS, RAW_LINE, PARSE_ERROR, PARTITION_COLUMN)
        .lazy()
    )


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
    staged = dedupe_weather(stage_weather(raw(LINE.replace("T05", "T04"), wild)).drop(ROW_ERRORS))
    split = split_by_contract(staged.collect(), WEATHER_CONTRACT)
    assert split.valid.height == 1
    assert split.rejected[FAILED_CHECKS].to_list() == ["wind_speed: in_range(0, 150) = 1048.36058"]
