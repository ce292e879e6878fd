from datetime import UTC, date, datetime

import polars as pl
from polars.testing import assert_frame_equal

from lakehouse.transforms.marts import (
    NO_OBSERVATION,
    ONTIME_DAILY,
    delay_weather,
    ontime_daily,
    routes,
)

D1, D2 = date(2013, 1, 1), date(2013, 1, 2)
AIRLINES = pl.LazyFrame({"carrier": ["UA"], "name": ["United Air Lines Inc."]})


def test_ontime_daily_counts_cancelled_and_late_arrivals_per_day_carrier_and_origin() -> None:
    flights = pl.LazyFrame(
        {
            "flight_date": [D1, D1, D1, D1, D1, D2],
            "carrier": ["UA", "UA", "UA", "ZZ", "UA", "UA"],
            "origin": ["EWR", "EWR", "EWR", "EWR", "JFK", "EWR"],
            "cancelled": [False, False, True, False, False, False],
            "arr_delay": [10, 30, None, 16, 0, -5],
        },
        schema_overrides={"arr_delay": pl.Int16},
    )
    united = "United Air Lines Inc."
    expected = pl.DataFrame(
        {
            "flight_date": [D1, D1, D1, D2],
            "carrier": ["UA", "UA", "ZZ", "UA"],
            "carrier_name": [united, united, None, united],
            "origin": ["EWR", "JFK", "EWR", "EWR"],
            "flights": [3, 1, 1, 1],
            "cancelled": [1, 0, 0, 0],
            "arrived": [2, 1, 1, 1],
            "mean_arr_delay": [20.0, 0.0, 16.0, -5.0],
            "delayed_share": [0.5, 0.0, 1.0, 0.0],
        },
        schema=ONTIME_DAILY.schema,
    )
    assert_frame_equal(ontime_daily(flights, AIRLINES).collect(), expected)


def test_delayed_share_is_null_when_nothing_arrived() -> None:
    flights = pl.LazyFrame(
        {"flight_date": [D1], "carrier": ["UA"], "origin": ["EWR"], "cancelled": [True],
         "arr_delay": [None]},
        schema_overrides={"arr_delay": pl.Int16},
    )  # fmt: skip
    row = ontime_daily(flights, AIRLINES).collect().row(0, named=True)
    assert (row["arrived"], row["delayed_share"], row["mean_arr_delay"]) == (0, None, None)


def test_routes_aggregate_every_origin_destination_pair() -> None:
    flights = pl.LazyFrame(
        {"flight_date": [D1, D2, D1], "origin": ["EWR", "EWR", "JFK"], "dest": ["IAH"] * 3,
         "cancelled": [False, True, False], "dep_delay": [10, None, 0],
         "arr_delay": [20, None, -4], "distance": [1400, 1400, 1417]},
    )  # fmt: skip
    airports = pl.LazyFrame({"airport_sk": [-1, 5], "faa": ["?", "IAH"], "name": ["?", "Houston"]})
    rows = routes(flights, airports).collect().rows(named=True)
    assert [(r["origin"], r["flights"], r["cancelled"], r["dest_name"]) for r in rows] == [
        ("EWR", 2, 1, "Houston"),
        ("JFK", 1, 0, "Houston"),
    ]
    assert (rows[0]["first_date"], rows[0]["last_date"], rows[0]["mean_arr_delay"]) == (D1, D2, 20)


def test_delays_meet_the_weather_of_their_utc_hour_in_bands() -> None:
    # Both flights leave in local hour 01 of the fall-back night, an hour apart in UTC.
    first, second = datetime(2013, 11, 3, 5, tzinfo=UTC), datetime(2013, 11, 3, 6, tzinfo=UTC)
    flights = pl.LazyFrame(
        {"flight_date": [date(2013, 11, 3)] * 4, "origin": ["EWR"] * 4,
         "time_hour": [first, second, second, datetime(2013, 11, 3, 9, tzinfo=UTC)],
         "cancelled": [False, False, True, False], "dep_delay": [30, 0, None, 5]},
    )  # fmt: skip
    weather = pl.LazyFrame(
        {"origin": ["EWR", "EWR"], "time_hour": [first, second], "visib": [0.5, 10.0],
         "precip": [0.2, 0.0], "wind_speed": [25.0, 3.0]},
    )  # fmt: skip
    rows = (
        delay_weather(flights, weather)
        .collect()
        .select("visibility", "precipitation", "wind", "flights", "mean_dep_delay")
    )
    assert sorted(rows.rows()) == sorted(
        [
            ("<1 mi", "heavy (>=0.1 in)", "20+ mph", 1, 30.0),
            ("10+ mi", "none", "<10 mph", 1, 0.0),
            (NO_OBSERVATION, NO_OBSERVATION, NO_OBSERVATION, 1, 5.0),
        ]
    )
