"""The staged weather contract (version 1)."""

import polars as pl

from lakehouse.contracts.base import contract, in_range, row_check, value_check
from lakehouse.contracts.flights import NEW_YORK_AIRPORTS
from lakehouse.transforms.weather import TYPED_WEATHER

CONTRACT_VERSION = 1


# Validated before deduplication, so over the typed columns (`repeated_local_hour` comes later).
WEATHER_CONTRACT = contract(
    TYPED_WEATHER,
    name=f"staged_weather_v{CONTRACT_VERSION}",
    nullable={
        "temp", "dewp", "humid", "wind_dir", "wind_speed", "wind_gust", "precip", "pressure",
        "visib",
    },
    column_checks={
        "origin": [value_check("new_york_airport", lambda v: v.is_in(NEW_YORK_AIRPORTS))],
        "hour": [in_range(0, 23)],
        "temp": [in_range(-40, 130)],
        "dewp": [in_range(-60, 100)],
        "humid": [in_range(0, 100)],
        "wind_dir": [in_range(0, 360)],
        # The strongest gust ever recorded at a New York airport is far below 150 mph.
        "wind_speed": [in_range(0, 150)],
        "wind_gust": [in_range(0, 200)],
        "precip": [in_range(0, 10)],
        "pressure": [in_range(900, 1100)],
        "visib": [in_range(0, 10)],
    },
    row_checks=[
        # The UTC hour is the key: it must be the delivered local date and hour, or a row filed
        # under one day could replace another day's observation.
        row_check(
            "utc_hour_matches_local_hour",
            (pl.col("obs_local").dt.date() == pl.col("weather_date"))
            & (pl.col("obs_local").dt.hour() == pl.col("hour")),
        ),
    ],
)  # fmt: skip
