"""The flights fact: one row per flight, keyed to every dimension, never dropped by a join."""

import polars as pl

from lakehouse.transforms.dimensions import UNKNOWN_SK, date_key
from lakehouse.transforms.flights import STAGED_FLIGHTS
from lakehouse.transforms.spec import Column, TableSpec

_SK = pl.Int64()

FCT_FLIGHTS = TableSpec(
    columns=(
        Column("flight_date", pl.Date(), "scheduled departure date (New York)"),
        Column("date_sk", pl.Int32(), "key of dim_date"),
        Column("airline_sk", _SK, "key of dim_airline; -1 when the carrier is unknown"),
        Column("origin_sk", _SK, "key of dim_airport for the origin; -1 when unknown"),
        Column("dest_sk", _SK, "key of dim_airport for the destination; -1 when unknown"),
        Column("plane_sk", _SK, "dim_plane version valid on the flight date; -1 if none"),
        *STAGED_FLIGHTS.pick(
            "carrier",
            "flight",
            "tailnum",
            "origin",
            "dest",
            "sched_dep_time",
            "time_hour",
            "sched_dep_utc",
            "dep_utc",
            "arr_utc",
            "dep_delay",
            "arr_delay",
            "air_time",
            "distance",
            "cancelled",
        ),
    ),
    key=("flight_date", "carrier", "flight", "origin", "sched_dep_time"),
)
UNKNOWN_COLUMNS = ("airline_sk", "origin_sk", "dest_sk", "plane_sk")


def fct_flights(
    flights: pl.LazyFrame,
    dim_airline: pl.LazyFrame,
    dim_airport: pl.LazyFrame,
    dim_plane: pl.LazyFrame,
) -> pl.LazyFrame:
    """Staged flights keyed to the dimensions.

    Every join is a left join: a carrier, airport or tail number the dimension does not know
    points to its unknown member (-1) instead of dropping the flight. The plane is the version
    whose [valid_from, valid_to) holds the flight date.
    """
    airlines = dim_airline.filter(pl.col("airline_sk") != UNKNOWN_SK).select(
        "carrier", "airline_sk"
    )
    airports = dim_airport.filter(pl.col("airport_sk") != UNKNOWN_SK)
    planes = (
        dim_plane.filter(pl.col("plane_sk") != UNKNOWN_SK)
        .select("tailnum", "plane_sk", "valid_from", "valid_to")
        .sort("valid_from")
    )
    keyed = (
        flights.join(airlines, on="carrier", how="left")
        .join(airports.select(origin="faa", origin_sk="airport_sk"), on="origin", how="left")
        .join(airports.select(dest="faa", dest_sk="airport_sk"), on="dest", how="left")
        # An as-of join needs its input sorted on the join key; the joins above may reorder.
        .sort("flight_date")
        .join_asof(
            planes,
            left_on="flight_date",
            right_on="valid_from",
            by="tailnum",
            check_sortedness=False,  # sorted just above; Polars cannot verify it with `by`
        )
        .with_columns(
            plane_sk=pl.when(pl.col("flight_date") < pl.col("valid_to")).then(pl.col("plane_sk")),
            date_sk=date_key(pl.col("flight_date")),
        )
        .with_columns(pl.col(c).fill_null(UNKNOWN_SK) for c in UNKNOWN_COLUMNS)
    )
    return keyed.select(FCT_FLIGHTS.exprs())
