"""Contracts of the reference tables (version 1): airlines, airports, planes."""

from lakehouse.contracts.base import contract, in_range, value_check
from lakehouse.transforms.airlines import STAGED_AIRLINES
from lakehouse.transforms.reference import STAGED_AIRPORTS, STAGED_PLANES

CONTRACT_VERSION = 1

AIRLINES_CONTRACT = contract(
    STAGED_AIRLINES,
    name=f"staged_airlines_v{CONTRACT_VERSION}",
    nullable=(),
    column_checks={
        "carrier": [value_check("two_characters", lambda v: v.str.len_chars() == 2)],
    },
)

AIRPORTS_CONTRACT = contract(
    STAGED_AIRPORTS,
    name=f"staged_airports_v{CONTRACT_VERSION}",
    nullable={"name", "alt", "tz", "dst", "tzone"},
    column_checks={
        "faa": [
            value_check("three_or_four_characters", lambda v: v.str.len_chars().is_between(3, 4))
        ],
        "lat": [in_range(-90, 90)],
        "lon": [in_range(-180, 180)],
        "alt": [in_range(-1500, 30000)],
        "tz": [in_range(-12, 14)],
        "dst": [value_check("dst_rule", lambda v: v.is_in(["A", "U", "N"]))],
    },
)

PLANES_CONTRACT = contract(
    STAGED_PLANES,
    name=f"staged_planes_v{CONTRACT_VERSION}",
    nullable={"year", "type", "manufacturer", "model", "engines", "seats", "speed", "engine"},
    column_checks={
        "year": [in_range(1900, 2013)],
        "engines": [in_range(1, 8)],
        "seats": [in_range(1, 1000)],
        "speed": [in_range(1, 1000)],
    },
)
