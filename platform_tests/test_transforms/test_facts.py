from datetime import date

import polars as pl

from lakehouse.checks.logic import orphans
from lakehouse.transforms.dimensions import UNKNOWN_SK, dim_airline, dim_airport, dim_plane
from lakehouse.transforms.facts import fct_flights
from platform_tests.test_transforms.test_dimensions import S1, S2, snapshot

AIRLINES = dim_airline(pl.LazyFrame({"carrier": ["UA"], "name": ["United"]}))
AIRPORTS = dim_airport(
    pl.LazyFrame(
        {"faa": ["EWR", "IAH"], "name": ["Newark", "Houston"], "lat": [0.0, 0.0],
         "lon": [0.0, 0.0], "alt": [1, 1], "tzone": ["America/New_York", "America/Chicago"]},
        schema_overrides={"alt": pl.Int32},
    )
)  # fmt: skip
PLANES = dim_plane(pl.concat([snapshot(S1, ("N1", 55)), snapshot(S2, ("N1", 67))]).lazy())


def flights(*rows: dict[str, object]) -> pl.LazyFrame:
    base = {"flight_date": date(2013, 1, 5), "carrier": "UA", "flight": 1, "tailnum": "N1",
            "origin": "EWR", "dest": "IAH", "sched_dep_time": 515}  # fmt: skip
    frame = pl.DataFrame([{**base, **r} for r in rows])
    return frame.with_columns(
        pl.col("flight").cast(pl.Int32), pl.col("sched_dep_time").cast(pl.Int16)
    ).lazy()


def build(*rows: dict[str, object]) -> pl.DataFrame:
    missing = ["time_hour", "sched_dep_utc", "dep_utc", "arr_utc", "dep_delay", "arr_delay",
               "air_time", "distance", "cancelled"]  # fmt: skip
    frame = flights(*rows).with_columns(pl.lit(None).alias(c) for c in missing)
    return fct_flights(frame, AIRLINES, AIRPORTS, PLANES).collect()


def test_known_keys_point_to_their_dimension_rows() -> None:
    [row] = build({}).rows(named=True)
    airline_sk = AIRLINES.collect().filter(pl.col("carrier") == "UA")["airline_sk"].item()
    assert row["airline_sk"] == airline_sk
    assert row["date_sk"] == 20130105
    assert UNKNOWN_SK not in (row["origin_sk"], row["dest_sk"], row["plane_sk"])


def test_the_plane_version_valid_on_the_flight_date_is_chosen() -> None:
    early, late = build({"flight_date": date(2013, 3, 31)}, {"flight_date": date(2013, 4, 1)}).rows(
        named=True
    )
    versions = PLANES.collect().filter(pl.col("tailnum") == "N1").sort("valid_from")
    assert early["plane_sk"] == versions["plane_sk"][0]
    assert late["plane_sk"] == versions["plane_sk"][1]


def test_unknown_keys_point_to_unknown_members_and_no_flight_is_dropped() -> None:
    fact = build(
        {"carrier": "ZZ"},
        {"dest": "BQN", "flight": 2},
        {"tailnum": None, "flight": 3},
        {"tailnum": "N999", "flight": 4},
        {"flight_date": date(2012, 12, 31), "flight": 5},  # before the plane's first snapshot
    )
    assert fact.height == 5
    keys = {
        "airline": ("airline_sk", "carrier"),
        "origin": ("origin_sk", "origin"),
        "dest": ("dest_sk", "dest"),
        "plane": ("plane_sk", "tailnum"),
    }
    found = orphans(fact, keys, UNKNOWN_SK)
    assert found.counts == {"airline": 1, "origin": 0, "dest": 1, "plane": 3}
    top = {(d, k): n for d, k, n in found.top_keys.rows()}
    assert top == {
        ("airline", "ZZ"): 1,
        ("dest", "BQN"): 1,
        ("plane", "(none)"): 1,
        ("plane", "N999"): 1,
        ("plane", "N1"): 1,  # flown before the plane's first snapshot
    }
