from datetime import date

import polars as pl
from polars.testing import assert_frame_equal

from lakehouse.transforms.marts import ONTIME_DAILY, ontime_daily

D1, D2 = date(2013, 1, 1), date(2013, 1, 2)


def test_ontime_daily_counts_cancelled_and_late_arrivals_per_day_and_carrier() -> None:
    flights = pl.LazyFrame(
        {
            "flight_date": [D1, D1, D1, D1, D2],
            "carrier": ["UA", "UA", "UA", "ZZ", "UA"],
            "cancelled": [False, False, True, False, False],
            "arr_delay": [10, 30, None, 16, -5],
        },
        schema_overrides={"arr_delay": pl.Int16},
    )
    airlines = pl.LazyFrame({"carrier": ["UA"], "name": ["United Air Lines Inc."]})
    expected = pl.DataFrame(
        {
            "flight_date": [D1, D1, D2],
            "carrier": ["UA", "ZZ", "UA"],
            "carrier_name": ["United Air Lines Inc.", None, "United Air Lines Inc."],
            "flights": [3, 1, 1],
            "cancelled": [1, 0, 0],
            "arrived": [2, 1, 1],
            "mean_arr_delay": [20.0, 16.0, -5.0],
            "delayed_share": [0.5, 1.0, 0.0],
        },
        schema=ONTIME_DAILY.schema,
    )
    assert_frame_equal(ontime_daily(flights, airlines).collect(), expected)


def test_delayed_share_is_null_when_nothing_arrived() -> None:
    flights = pl.LazyFrame(
        {"flight_date": [D1], "carrier": ["UA"], "cancelled": [True], "arr_delay": [None]},
        schema_overrides={"arr_delay": pl.Int16},
    )
    airlines = pl.LazyFrame({"carrier": ["UA"], "name": ["United"]})
    row = ontime_daily(flights, airlines).collect().row(0, named=True)
    assert row["arrived"] == 0
    assert row["delayed_share"] is None
    assert row["mean_arr_delay"] is None
