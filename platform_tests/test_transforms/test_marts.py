import random
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from lakehouse.transforms.marts import (
    DELAY_WEATHER,
    DELAY_WEATHER_READS,
    NO_OBSERVATION,
    ONTIME_DAILY,
    ONTIME_DAILY_READS,
    ROUTES,
    ROUTES_DAILY_READS,
    delay_weather,
    is_late,
    ontime_daily,
    routes,
    routes_daily,
    weather_bands,
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
    rows = routes(routes_daily(flights), airports).collect().rows(named=True)
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


def whole_fact_routes(flights: pl.LazyFrame, airports: pl.LazyFrame) -> pl.LazyFrame:
    """mart_routes as it was computed before the daily table: straight from every flight."""
    per_route = flights.group_by("origin", "dest").agg(
        first_date=pl.col("flight_date").min(),
        last_date=pl.col("flight_date").max(),
        flights=pl.len(),
        cancelled=pl.col("cancelled").sum(),
        mean_dep_delay=pl.col("dep_delay").mean(),
        mean_arr_delay=pl.col("arr_delay").mean(),
        distance=pl.col("distance").mean(),
    )
    names = airports.filter(pl.col("airport_sk") != -1).select(dest="faa", dest_name="name")
    return per_route.join(names, on="dest", how="left").select(ROUTES.exprs()).sort(*ROUTES.key)


def random_flights(rows: int, days: int, seed: int = 7) -> pl.DataFrame:
    """Flights over `days` days with cancellations, missing delays and a route whose delays are
    never recorded (its means must be null, not 0 or NaN).
    """
    rng = random.Random(seed)

    def maybe(value: int) -> int | None:
        return None if rng.random() < 0.1 else value

    frame = pl.DataFrame(
        {
            "flight_date": [D1 + timedelta(days=rng.randrange(days)) for _ in range(rows)],
            "origin": [rng.choice(["EWR", "JFK", "LGA"]) for _ in range(rows)],
            "dest": [rng.choice(["IAH", "ORD", "ATL", "BQN", "XXX"]) for _ in range(rows)],
            "cancelled": [rng.random() < 0.05 for _ in range(rows)],
            "dep_delay": [maybe(rng.randint(-20, 300)) for _ in range(rows)],
            "arr_delay": [maybe(rng.randint(-60, 400)) for _ in range(rows)],
            "distance": [rng.randint(80, 4983) for _ in range(rows)],
        },
        schema_overrides={"dep_delay": pl.Int16, "arr_delay": pl.Int16, "distance": pl.Int16},
    )
    never = (pl.col("origin") == "LGA") & (pl.col("dest") == "BQN")
    return frame.with_columns(
        pl.when(~never).then(pl.col(c)).alias(c) for c in ("dep_delay", "arr_delay")
    )


def test_routes_rolled_up_from_days_equal_the_whole_fact_computation() -> None:
    flights = random_flights(rows=5_000, days=40)
    airports = pl.LazyFrame(
        {"airport_sk": [-1, 1, 2, 3, 4], "faa": ["?", "IAH", "ORD", "ATL", "BQN"],
         "name": ["?", "Houston", "Chicago", "Atlanta", "Borinquen"]},
    )  # fmt: skip
    # Each day's rows built on their own, as one-day runs write them to the warehouse.
    daily = pl.concat(
        routes_daily(day.lazy()).collect()
        for _, day in flights.group_by("flight_date", maintain_order=True)
    )
    rolled_up = routes(daily.lazy(), airports).collect()
    expected = whole_fact_routes(flights.lazy(), airports).collect()
    assert expected.filter(origin="LGA", dest="BQN")["mean_dep_delay"].to_list() == [None]
    assert_frame_equal(rolled_up, expected, check_exact=True)


def per_flight_delay_weather(flights: pl.LazyFrame, weather: pl.LazyFrame) -> pl.LazyFrame:
    """mart_delay_weather as it was computed before hours were added up first: every flight
    meets its weather and is banded on its own.
    """
    observed = weather.select(
        "origin", "time_hour", visibility="visib", precipitation="precip", wind="wind_speed"
    )
    return (
        flights.filter(~pl.col("cancelled"))
        .join(observed, on=["origin", "time_hour"], how="left")
        .with_columns(weather_bands())
        .group_by(*DELAY_WEATHER.key)
        .agg(
            flights=pl.len(),
            mean_dep_delay=pl.col("dep_delay").mean(),
            delayed_share=is_late(pl.col("dep_delay")).mean(),
        )
        .select(DELAY_WEATHER.exprs())
        .sort(*DELAY_WEATHER.key)
    )


def test_delay_weather_added_up_by_hour_equals_the_per_flight_computation() -> None:
    rng = random.Random(11)
    hour = pl.Series([rng.randrange(5, 28) for _ in range(5_000)])
    flights = random_flights(rows=5_000, days=10).with_columns(
        time_hour=pl.col("flight_date").cast(pl.Datetime("us", "UTC"))
        + pl.duration(hours=pl.lit(hour))
    )
    hours = flights.select("origin", "time_hour").unique().sort("origin", "time_hour")
    # Some hours have no observation; measures are missing now and then and sit on the bands'
    # edges, so every band, and `no observation`, is used.
    observed = hours.sample(fraction=0.8, seed=3)
    n = observed.height

    def measure(values: list[float]) -> pl.Series:
        return pl.Series([None if rng.random() < 0.05 else rng.choice(values) for _ in range(n)])

    weather = observed.with_columns(
        visib=measure([0.5, 1.0, 2.0, 3.0, 5.0, 9.9, 10.0]),
        precip=measure([0.0, 0.01, 0.1, 0.5]),
        wind_speed=measure([0.0, 9.9, 10.0, 20.0, 35.0]),
    )
    assert flights.filter(pl.col("dep_delay").is_null() & ~pl.col("cancelled")).height > 0
    expected = per_flight_delay_weather(flights.lazy(), weather.lazy()).collect()
    assert NO_OBSERVATION in expected["visibility"].to_list()
    assert expected.filter(pl.col("mean_dep_delay").is_null()).height > 0
    assert_frame_equal(delay_weather(flights.lazy(), weather.lazy()).collect(), expected)


WEATHER = pl.LazyFrame(
    {"origin": ["EWR"], "time_hour": [datetime(2013, 1, 1, 5, tzinfo=UTC)], "visib": [10.0],
     "precip": [0.0], "wind_speed": [3.0]},
)  # fmt: skip
MARTS_OF_THE_FACT: dict[str, tuple[dict[str, tuple[str, ...]], Callable[[pl.LazyFrame], Any]]] = {
    "ontime_daily": (ONTIME_DAILY_READS, lambda f: ontime_daily(f, AIRLINES)),
    "routes_daily": (ROUTES_DAILY_READS, routes_daily),
    "delay_weather": (DELAY_WEATHER_READS, lambda f: delay_weather(f, WEATHER)),
}


@pytest.mark.parametrize("name", MARTS_OF_THE_FACT)
def test_a_mart_needs_only_the_fact_columns_it_declares(name: str) -> None:
    reads, mart = MARTS_OF_THE_FACT[name]
    fact = random_flights(rows=200, days=3).with_columns(
        carrier=pl.lit("UA"),
        tailnum=pl.lit("N1"),
        time_hour=pl.col("flight_date").cast(pl.Datetime("us", "UTC")) + pl.duration(hours=5),
    )
    everything = mart(fact.lazy()).collect()
    declared = mart(fact.lazy().select(reads["flights"])).collect()
    assert_frame_equal(declared, everything)
