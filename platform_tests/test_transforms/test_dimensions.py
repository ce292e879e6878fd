from datetime import date

import polars as pl
import pytest

from lakehouse.transforms.dimensions import (
    OPEN_END,
    UNKNOWN_SK,
    dim_airline,
    dim_date,
    dim_plane,
    surrogate_key,
)

S1, S2, S3, S4 = date(2013, 1, 1), date(2013, 4, 1), date(2013, 8, 1), date(2013, 11, 1)


def snapshot(day: date, *planes: tuple[str, int | None]) -> pl.DataFrame:
    """Planes of one snapshot as (tailnum, seats); speed is null as in the sample."""
    return pl.DataFrame(
        {
            "tailnum": [t for t, _ in planes],
            "snapshot_date": [day] * len(planes),
            "year": [2004] * len(planes),
            "type": ["Fixed wing multi engine"] * len(planes),
            "manufacturer": ["EMBRAER"] * len(planes),
            "model": ["EMB-145XR"] * len(planes),
            "engines": [2] * len(planes),
            "seats": [s for _, s in planes],
            "speed": [None] * len(planes),
            "engine": ["Turbo-fan"] * len(planes),
        },
        schema_overrides={
            "year": pl.Int16,
            "engines": pl.Int8,
            "seats": pl.Int16,
            "speed": pl.Int16,
        },
    )


def versions(*snapshots: pl.DataFrame) -> list[tuple[object, ...]]:
    dim = dim_plane(pl.concat(snapshots).lazy()).collect()
    real = dim.filter(pl.col("plane_sk") != UNKNOWN_SK)
    return real.select("tailnum", "seats", "valid_from", "valid_to", "is_current").rows()


def test_a_new_plane_opens_one_current_version() -> None:
    assert versions(snapshot(S1, ("N1", 55))) == [("N1", 55, S1, OPEN_END, True)]


def test_an_unchanged_plane_in_later_snapshots_adds_no_version() -> None:
    rows = versions(snapshot(S1, ("N1", 55)), snapshot(S2, ("N1", 55)), snapshot(S3, ("N1", 55)))
    assert rows == [("N1", 55, S1, OPEN_END, True)]


def test_redelivering_the_same_snapshot_adds_no_version() -> None:
    once = versions(snapshot(S1, ("N1", 55)), snapshot(S2, ("N1", 60)))
    twice = versions(snapshot(S1, ("N1", 55)), snapshot(S2, ("N1", 60)), snapshot(S2, ("N1", 60)))
    assert once == twice


def test_a_changed_attribute_closes_the_old_version_and_opens_a_new_one() -> None:
    rows = versions(snapshot(S1, ("N1", 55)), snapshot(S2, ("N1", 67)))
    assert rows == [("N1", 55, S1, S2, False), ("N1", 67, S2, OPEN_END, True)]


def test_a_plane_missing_from_a_snapshot_is_closed_and_reappears_as_a_new_version() -> None:
    rows = versions(
        snapshot(S1, ("N1", 55), ("N2", 10)),
        snapshot(S3, ("N2", 10)),
        snapshot(S4, ("N1", 55), ("N2", 10)),
    )
    assert rows == [
        ("N1", 55, S1, S3, False),
        ("N1", 55, S4, OPEN_END, True),
        ("N2", 10, S1, OPEN_END, True),
    ]


def test_surrogate_keys_are_stable_and_distinct_per_version() -> None:
    dim = dim_plane(pl.concat([snapshot(S1, ("N1", 55)), snapshot(S2, ("N1", 67))]).lazy())
    keys = dim.collect()["plane_sk"].to_list()
    assert len(set(keys)) == 3
    again = pl.DataFrame({"tailnum": ["N1"], "valid_from": [S1]}).select(
        surrogate_key("tailnum", "valid_from")
    )
    assert again.item() == keys[0]


def test_every_dimension_has_its_unknown_member() -> None:
    airlines = dim_airline(pl.LazyFrame({"carrier": ["UA"], "name": ["United"]})).collect()
    unknown = airlines.filter(pl.col("airline_sk") == UNKNOWN_SK).row(0, named=True)
    assert unknown == {"airline_sk": -1, "carrier": "?", "name": "Unknown airline"}


@pytest.mark.parametrize(
    ("day", "holiday", "weekend"),
    [
        (date(2013, 7, 4), "Independence Day", False),
        (date(2013, 11, 28), "Thanksgiving Day", False),
        (date(2013, 7, 6), None, True),
        (date(2013, 7, 8), None, False),
    ],
)
def test_dim_date_flags_federal_holidays_and_weekends(
    day: date, holiday: str | None, weekend: bool
) -> None:
    dates = dim_date(date(2013, 1, 1), date(2013, 12, 31)).collect()
    assert dates.height == 365
    assert int(dates["is_holiday"].sum()) == 10
    row = dates.filter(pl.col("date") == day).row(0, named=True)
    assert (row["holiday_name"], row["is_weekend"]) == (holiday, weekend)
    assert row["date_sk"] == day.year * 10000 + day.month * 100 + day.day
