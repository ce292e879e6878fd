"""Mart transforms: aggregates a reader can trust, computed from the star schema."""

from collections.abc import Sequence

import polars as pl

from lakehouse.transforms.dimensions import UNKNOWN_SK
from lakehouse.transforms.spec import Column, TableSpec

DELAYED_AFTER_MINUTES = 15
_COUNT = pl.UInt32()


def is_late(delay: pl.Expr) -> pl.Expr:
    """More than `DELAYED_AFTER_MINUTES` late (null when no delay was recorded)."""
    return delay > DELAYED_AFTER_MINUTES


def _delayed_share(delay: str) -> pl.Expr:
    # The mean of a comparison skips nulls: the share is over flights with a recorded delay,
    # and null when there is none.
    return is_late(pl.col(delay)).mean()


ONTIME_DAILY = TableSpec(
    columns=(
        Column("flight_date", pl.Date(), "scheduled departure date (New York)"),
        Column("carrier", pl.String(), "two-letter IATA carrier code"),
        Column("carrier_name", pl.String(), "airline name; null if the carrier is not in airlines"),
        Column("origin", pl.String(), "New York departure airport"),
        Column("flights", _COUNT, "scheduled flights"),
        Column("cancelled", _COUNT, "flights that never departed"),
        Column("arrived", _COUNT, "flights with a recorded arrival delay"),
        Column("mean_arr_delay", pl.Float64(), "mean arrival delay in minutes over `arrived`"),
        Column(
            "delayed_share",
            pl.Float64(),
            f"share of `arrived` flights more than {DELAYED_AFTER_MINUTES} minutes late",
        ),
    ),
    key=("flight_date", "carrier", "origin"),
)
# The only columns of each warehouse input a mart reads: the warehouse loads just these.
ONTIME_DAILY_READS: dict[str, tuple[str, ...]] = {
    "flights": ("flight_date", "carrier", "origin", "cancelled", "arr_delay"),
    "airlines": ("carrier", "name"),
}
# Which upstream columns each mart column is computed from (the UI's column lineage).
ONTIME_DAILY_LINEAGE: dict[str, dict[str, list[str]]] = {
    "flight_date": {"flights": ["flight_date"]},
    "carrier": {"flights": ["carrier"]},
    "carrier_name": {"airlines": ["name"]},
    "origin": {"flights": ["origin"]},
    "flights": {"flights": ["flight_date", "carrier", "origin"]},
    "cancelled": {"flights": ["cancelled"]},
    "arrived": {"flights": ["arr_delay"]},
    "mean_arr_delay": {"flights": ["arr_delay"]},
    "delayed_share": {"flights": ["arr_delay"]},
}


def ontime_daily(flights: pl.LazyFrame, airlines: pl.LazyFrame) -> pl.LazyFrame:
    """On-time performance per day, carrier and New York airport.

    `delayed_share` is over flights with an arrival delay (cancelled and diverted flights have
    none); it is null when no such flight arrived.
    """
    daily = flights.group_by("flight_date", "carrier", "origin").agg(
        flights=pl.len(),
        cancelled=pl.col("cancelled").sum(),
        arrived=pl.col("arr_delay").count(),
        mean_arr_delay=pl.col("arr_delay").mean(),
        delayed_share=_delayed_share("arr_delay"),
    )
    names = airlines.select("carrier", carrier_name="name")
    return (
        daily.join(names, on="carrier", how="left")
        .select(ONTIME_DAILY.exprs())
        .sort("flight_date", "carrier", "origin")
    )


ROUTES_DAILY = TableSpec(
    columns=(
        Column("flight_date", pl.Date(), "scheduled departure date (New York)"),
        Column("origin", pl.String(), "New York departure airport"),
        Column("dest", pl.String(), "destination FAA code"),
        Column("flights", _COUNT, "scheduled flights"),
        Column("cancelled", _COUNT, "flights that never departed"),
        Column("dep_delay_sum", pl.Int64(), "sum of departure delays, minutes"),
        Column("dep_delay_count", _COUNT, "flights with a departure delay"),
        Column("arr_delay_sum", pl.Int64(), "sum of arrival delays, minutes"),
        Column("arr_delay_count", _COUNT, "flights with an arrival delay"),
        Column("distance_sum", pl.Int64(), "sum of distances, miles"),
        Column("distance_count", _COUNT, "flights with a distance"),
    ),
    key=("flight_date", "origin", "dest"),
)
ROUTES_DAILY_READS: dict[str, tuple[str, ...]] = {
    "flights": ("flight_date", "origin", "dest", "cancelled", "dep_delay", "arr_delay", "distance"),
}
ROUTES_DAILY_LINEAGE: dict[str, dict[str, list[str]]] = {
    "flight_date": {"flights": ["flight_date"]},
    "origin": {"flights": ["origin"]},
    "dest": {"flights": ["dest"]},
    "flights": {"flights": ["flight_date", "origin", "dest"]},
    "cancelled": {"flights": ["cancelled"]},
    "dep_delay_sum": {"flights": ["dep_delay"]},
    "dep_delay_count": {"flights": ["dep_delay"]},
    "arr_delay_sum": {"flights": ["arr_delay"]},
    "arr_delay_count": {"flights": ["arr_delay"]},
    "distance_sum": {"flights": ["distance"]},
    "distance_count": {"flights": ["distance"]},
}
# Summed per route over days; a mean is only ever total / count, never a mean of daily means.
_SUMMED = ("dep_delay", "arr_delay", "distance")


def routes_daily(flights: pl.LazyFrame) -> pl.LazyFrame:
    """Per day and origin-destination pair: counts, and each measure's sum and count, which
    add up exactly over any set of days.
    """
    measures = [
        agg
        for m in _SUMMED
        for agg in (pl.col(m).sum().alias(f"{m}_sum"), pl.col(m).count().alias(f"{m}_count"))
    ]
    return (
        flights.group_by(*ROUTES_DAILY.key)
        .agg(pl.len().alias("flights"), pl.col("cancelled").sum(), *measures)
        .select(ROUTES_DAILY.exprs())
        .sort(*ROUTES_DAILY.key)
    )


ROUTES = TableSpec(
    columns=(
        Column("origin", pl.String(), "New York departure airport"),
        Column("dest", pl.String(), "destination FAA code"),
        Column("dest_name", pl.String(), "destination airport; null if not in airports"),
        Column("first_date", pl.Date(), "first day with a flight on the route"),
        Column("last_date", pl.Date(), "last day with a flight on the route"),
        Column("flights", _COUNT, "scheduled flights"),
        Column("cancelled", _COUNT, "flights that never departed"),
        Column("mean_dep_delay", pl.Float64(), "mean departure delay, minutes"),
        Column("mean_arr_delay", pl.Float64(), "mean arrival delay, minutes"),
        Column("distance", pl.Float64(), "mean great-circle distance, miles"),
    ),
    key=("origin", "dest"),
)
ROUTES_READS: dict[str, tuple[str, ...]] = {"airports": ("airport_sk", "faa", "name")}
ROUTES_LINEAGE: dict[str, dict[str, list[str]]] = {
    "origin": {"daily": ["origin"]},
    "dest": {"daily": ["dest"]},
    "dest_name": {"airports": ["name"]},
    "first_date": {"daily": ["flight_date"]},
    "last_date": {"daily": ["flight_date"]},
    "flights": {"daily": ["flights"]},
    "cancelled": {"daily": ["cancelled"]},
    "mean_dep_delay": {"daily": ["dep_delay_sum", "dep_delay_count"]},
    "mean_arr_delay": {"daily": ["arr_delay_sum", "arr_delay_count"]},
    "distance": {"daily": ["distance_sum", "distance_count"]},
}


def _mean_over_days(measure: str) -> pl.Expr:
    # Null when no flight recorded the measure, as the mean of an all-null column is.
    count = pl.col(f"{measure}_count").sum()
    return pl.when(count > 0).then(pl.col(f"{measure}_sum").sum() / count)


def routes(daily: pl.LazyFrame, airports: pl.LazyFrame) -> pl.LazyFrame:
    """Every origin-destination pair over all the days of `daily` (from `routes_daily`)."""
    per_route = daily.group_by("origin", "dest").agg(
        first_date=pl.col("flight_date").min(),
        last_date=pl.col("flight_date").max(),
        flights=pl.col("flights").sum(),
        cancelled=pl.col("cancelled").sum(),
        mean_dep_delay=_mean_over_days("dep_delay"),
        mean_arr_delay=_mean_over_days("arr_delay"),
        distance=_mean_over_days("distance"),
    )
    names = airports.filter(pl.col("airport_sk") != UNKNOWN_SK).select(dest="faa", dest_name="name")
    return (
        per_route.join(names, on="dest", how="left").select(ROUTES.exprs()).sort("origin", "dest")
    )


VISIBILITY_MILES = ([1.0, 3.0, 5.0, 10.0], ["<1 mi", "1-3 mi", "3-5 mi", "5-10 mi", "10+ mi"])
PRECIP_INCHES = ([0.0, 0.1], ["none", "light (<0.1 in)", "heavy (>=0.1 in)"])
WIND_MPH = ([10.0, 20.0], ["<10 mph", "10-20 mph", "20+ mph"])
NO_OBSERVATION = "no observation"

DELAY_WEATHER = TableSpec(
    columns=(
        Column("flight_date", pl.Date(), "scheduled departure date (New York)"),
        Column("origin", pl.String(), "New York departure airport"),
        Column("visibility", pl.String(), "visibility at origin in the scheduled hour"),
        Column("precipitation", pl.String(), "precipitation at origin in the scheduled hour"),
        Column("wind", pl.String(), "wind speed at origin in the scheduled hour"),
        Column("flights", _COUNT, "flights that departed"),
        Column("mean_dep_delay", pl.Float64(), "mean departure delay, minutes"),
        Column(
            "delayed_share",
            pl.Float64(),
            f"share of departures more than {DELAYED_AFTER_MINUTES} minutes late",
        ),
    ),
    key=("flight_date", "origin", "visibility", "precipitation", "wind"),
)
DELAY_WEATHER_READS: dict[str, tuple[str, ...]] = {
    "flights": ("flight_date", "origin", "time_hour", "cancelled", "dep_delay"),
}
DELAY_WEATHER_LINEAGE: dict[str, dict[str, list[str]]] = {
    "flight_date": {"flights": ["flight_date"]},
    "origin": {"flights": ["origin"]},
    "visibility": {"weather": ["visib"]},
    "precipitation": {"weather": ["precip"]},
    "wind": {"weather": ["wind_speed"]},
    "flights": {"flights": ["cancelled"]},
    "mean_dep_delay": {"flights": ["dep_delay"]},
    "delayed_share": {"flights": ["dep_delay"]},
}


def band(column: str, edges: tuple[Sequence[float], Sequence[str]]) -> pl.Expr:
    """A labelled band of a measurement (left-closed; `no observation` when missing)."""
    breaks, labels = edges
    value = pl.col(column)
    banded: pl.Expr = pl.lit(labels[-1])
    for edge, label in reversed(list(zip(breaks, labels, strict=False))):
        banded = pl.when(value < edge).then(pl.lit(label)).otherwise(banded)
    return pl.when(value.is_null()).then(pl.lit(NO_OBSERVATION)).otherwise(banded).alias(column)


def precipitation_band(column: str) -> pl.Expr:
    """`band` of a precipitation, where exactly zero is "none" (the first break is closed on
    the right for it).
    """
    breaks, labels = PRECIP_INCHES
    return (
        pl.when(pl.col(column) == breaks[0])
        .then(pl.lit(labels[0]))
        .otherwise(band(column, (breaks[1:], labels[1:])))
        .alias(column)
    )


def weather_bands() -> list[pl.Expr]:
    """The bands of the weather columns `visibility`, `precipitation` and `wind`, in place."""
    return [
        band("visibility", VISIBILITY_MILES),
        precipitation_band("precipitation"),
        band("wind", WIND_MPH),
    ]


def delay_weather(flights: pl.LazyFrame, weather: pl.LazyFrame) -> pl.LazyFrame:
    """Departure delays against the weather at the origin in the scheduled departure hour.

    Flights meet weather on (origin, UTC hour), which is unambiguous even in the hour the local
    clock repeats. A departed flight with no observation for its hour is kept in the
    `no observation` band of every measure.

    Flights are first added up per day, origin and hour (their weather is the same), so the
    join and the bands work on hours, not flights; the means are then exact sums over counts.
    """
    observed = weather.select(
        "origin",
        "time_hour",
        visibility=pl.col("visib"),
        precipitation=pl.col("precip"),
        wind=pl.col("wind_speed"),
    )
    delay = pl.col("dep_delay")
    per_hour = (
        flights.filter(~pl.col("cancelled"))
        .group_by("flight_date", "origin", "time_hour")
        .agg(
            flights=pl.len(),
            delay_sum=delay.cast(pl.Int64).sum(),
            delays=delay.count(),
            late=is_late(delay).sum(),
        )
    )
    delays = pl.col("delays").sum()
    return (
        per_hour.join(observed, on=["origin", "time_hour"], how="left")
        .with_columns(weather_bands())
        .group_by(*DELAY_WEATHER.key)
        .agg(
            flights=pl.col("flights").sum(),
            # Null when no departure recorded a delay, as the mean of an all-null column is.
            mean_dep_delay=pl.when(delays > 0).then(pl.col("delay_sum").sum() / delays),
            delayed_share=pl.when(delays > 0).then(pl.col("late").sum() / delays),
        )
        .select(DELAY_WEATHER.exprs())
        .sort(*DELAY_WEATHER.key)
    )
