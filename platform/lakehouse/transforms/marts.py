"""Mart transforms: aggregates a reader can trust, computed from staged tables."""

import polars as pl

from lakehouse.transforms.spec import Column, TableSpec

DELAYED_AFTER_MINUTES = 15

ONTIME_DAILY = TableSpec(
    columns=(
        Column("flight_date", pl.Date(), "scheduled departure date (New York)"),
        Column("carrier", pl.String(), "two-letter IATA carrier code"),
        Column("carrier_name", pl.String(), "airline name; null if the carrier is not in airlines"),
        Column("flights", pl.UInt32(), "scheduled flights"),
        Column("cancelled", pl.UInt32(), "flights that never departed"),
        Column("arrived", pl.UInt32(), "flights with a recorded arrival delay"),
        Column("mean_arr_delay", pl.Float64(), "mean arrival delay in minutes over `arrived`"),
        Column(
            "delayed_share",
            pl.Float64(),
            f"share of `arrived` flights more than {DELAYED_AFTER_MINUTES} minutes late",
        ),
    ),
    key=("flight_date", "carrier"),
)

# Which staged columns each mart column is computed from (the UI's column lineage).
ONTIME_DAILY_LINEAGE: dict[str, dict[str, list[str]]] = {
    "flight_date": {"flights": ["flight_date"]},
    "carrier": {"flights": ["carrier"]},
    "carrier_name": {"airlines": ["name"]},
    "flights": {"flights": ["flight_date", "carrier"]},
    "cancelled": {"flights": ["cancelled"]},
    "arrived": {"flights": ["arr_delay"]},
    "mean_arr_delay": {"flights": ["arr_delay"]},
    "delayed_share": {"flights": ["arr_delay"]},
}


def ontime_daily(flights: pl.LazyFrame, airlines: pl.LazyFrame) -> pl.LazyFrame:
    """On-time performance per day and carrier.

    `delayed_share` is over flights with an arrival delay (cancelled and diverted flights have
    none); it is null when no flight of that carrier arrived that day.
    """
    arr_delay = pl.col("arr_delay")
    daily = flights.group_by("flight_date", "carrier").agg(
        flights=pl.len(),
        cancelled=pl.col("cancelled").sum(),
        arrived=arr_delay.count(),
        mean_arr_delay=arr_delay.mean(),
        # The mean of a comparison skips nulls, so the share is over arrived flights only.
        delayed_share=(arr_delay > DELAYED_AFTER_MINUTES).mean(),
    )
    names = airlines.select("carrier", carrier_name="name")
    return (
        daily.join(names, on="carrier", how="left")
        .select(ONTIME_DAILY.exprs())
        .sort("flight_date", "carrier")
    )
