"""The staged flights contract (version 1)."""

import polars as pl

from lakehouse.contracts.base import contract, in_range, row_check, value_check
from lakehouse.transforms.flights import STAGED_FLIGHTS

CONTRACT_VERSION = 1
NEW_YORK_AIRPORTS = ("EWR", "JFK", "LGA")
# Delays beyond two days early or late are not plausible for a scheduled flight.
PLAUSIBLE_DELAY_MINUTES = (-2 * 24 * 60, 2 * 24 * 60)


def _hhmm(value: pl.Expr) -> pl.Expr:
    return (value >= 0) & (value <= 2400) & (value % 100 < 60)


HHMM = value_check("hhmm_clock_time", _hhmm)
DELAY = in_range(*PLAUSIBLE_DELAY_MINUTES)

FLIGHTS_CONTRACT = contract(
    STAGED_FLIGHTS,
    name=f"staged_flights_v{CONTRACT_VERSION}",
    nullable={
        "tailnum", "dep_time", "dep_delay", "arr_time", "arr_delay", "air_time", "dep_local",
        "dep_utc", "arr_local", "arr_utc", "dest_tzone", "sched_arr_utc",
    },
    column_checks={
        "month": [in_range(1, 12)],
        "day": [in_range(1, 31)],
        "carrier": [value_check("two_letter_code", lambda v: v.str.len_chars() == 2)],
        "origin": [value_check("new_york_airport", lambda v: v.is_in(NEW_YORK_AIRPORTS))],
        "dest": [value_check("three_letter_code", lambda v: v.str.len_chars() == 3)],
        "flight": [value_check("positive", lambda v: v > 0)],
        "sched_dep_time": [HHMM],
        "dep_time": [HHMM],
        "sched_arr_time": [HHMM],
        "arr_time": [HHMM],
        "dep_delay": [DELAY],
        "arr_delay": [DELAY],
        "air_time": [value_check("positive", lambda v: v > 0)],
        "distance": [value_check("positive", lambda v: v > 0)],
    },
    row_checks=[
        row_check(
            "cancelled_has_no_arrival",
            ~pl.col("cancelled") | (pl.col("arr_time").is_null() & pl.col("arr_delay").is_null()),
        ),
        row_check(
            "arrival_after_departure",
            pl.col("arr_utc").is_null()
            | pl.col("dep_utc").is_null()
            | (pl.col("arr_utc") > pl.col("dep_utc")),
        ),
    ],
)  # fmt: skip
