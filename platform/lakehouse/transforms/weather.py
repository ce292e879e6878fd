"""Staging of weather: hourly observations per New York airport."""

import polars as pl

from lakehouse.declarations import declared
from lakehouse.transforms.flights import NEW_YORK
from lakehouse.transforms.parsing import (
    ROW_ERRORS,
    calendar_date,
    daily_problems,
    dedupe_latest,
    parse_fields,
    parse_text,
    parse_utc_instant,
    quick_casts,
    with_staging_errors,
)

# Declared with the source (defs/sources/weather/defs.yaml); `repeated_local_hour` is added
# after deduplication.
WEATHER = declared("weather")
STAGED_WEATHER = WEATHER.staged_spec
TYPED_WEATHER = WEATHER.typed_spec

_TYPES: dict[str, pl.DataType] = {
    "origin": pl.String(), "year": pl.Int16(), "month": pl.Int8(), "day": pl.Int8(),
    "hour": pl.Int8(), "temp": pl.Float64(), "dewp": pl.Float64(), "humid": pl.Float64(),
    "wind_dir": pl.Int16(), "wind_speed": pl.Float64(), "wind_gust": pl.Float64(),
    "precip": pl.Float64(), "pressure": pl.Float64(), "visib": pl.Float64(),
}  # fmt: skip


def stage_weather(raw: pl.LazyFrame) -> pl.LazyFrame:
    """Raw weather lines to typed hourly observations, one row per delivered line.

    The delivered local (date, hour) is ambiguous for the hour repeated when daylight saving
    ends; the UTC `time_hour` is not, so it is the key and the local time is derived from it.
    Rows carry `_row_errors` like staged flights; deduplication is `dedupe_weather`.
    """
    parsers = {name: parse_text(name, dtype) for name, dtype in _TYPES.items()}
    parsers["time_hour"] = parse_utc_instant("time_hour")
    typed = parse_fields(raw, parsers, quick=quick_casts(_TYPES))
    staged = typed.with_columns(
        weather_date=calendar_date("year", "month", "day"),
        obs_local=pl.col("time_hour").dt.convert_time_zone(NEW_YORK),
    )
    problems = daily_problems("weather_date", ["origin", "time_hour", "year", "month", "day"])
    return with_staging_errors(staged, problems).select(*TYPED_WEATHER.exprs(), ROW_ERRORS)


def summarize_weather(valid: pl.LazyFrame) -> dict[str, object]:
    """What a staged weather run's materialization shows besides its rows."""
    repeated = valid.select(pl.col("repeated_local_hour").sum()).collect().item()
    return {"repeated_local_hours": int(repeated or 0)}


def dedupe_weather(staged: pl.LazyFrame) -> pl.LazyFrame:
    """One observation per (origin, UTC hour), the last delivered; observations sharing a local
    date and hour (the repeated fall-back hour) are kept and marked `repeated_local_hour`.
    """
    deduped = dedupe_latest(staged, list(STAGED_WEATHER.key))
    repeated = pl.len().over("origin", "weather_date", "hour") > 1
    return deduped.with_columns(repeated_local_hour=repeated).select(STAGED_WEATHER.exprs())
