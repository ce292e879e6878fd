"""Dimensions of the star schema: calendar, airline, airport, and plane as SCD type 2.

Surrogate keys are stable hashes of the natural key (and, for planes, the version start), so a
rebuilt dimension keeps the keys that facts already point to. Each dimension has an explicit
unknown member (`UNKNOWN_SK`) for facts whose natural key it does not know.
"""

import hashlib
from datetime import date

import holidays
import polars as pl

from lakehouse.dates import days_between
from lakehouse.transforms.airlines import STAGED_AIRLINES
from lakehouse.transforms.reference import STAGED_AIRPORTS, STAGED_PLANES
from lakehouse.transforms.spec import Column, TableSpec

UNKNOWN_SK = -1
OPEN_END = date(9999, 12, 31)
_SK = pl.Int64()


def stable_key(values: pl.Series) -> pl.Series:
    """A 63-bit key from text that is the same in every process and version (Polars' own
    hash is not guaranteed to be).
    """
    return pl.Series(
        [int.from_bytes(hashlib.blake2b(v.encode(), digest_size=8).digest()) >> 1 for v in values],
        dtype=_SK,
    )


def surrogate_key(*columns: str) -> pl.Expr:
    """The stable surrogate key of a row's natural key columns."""
    text = pl.concat_str([pl.col(c).cast(pl.String) for c in columns], separator="|")
    return text.map_batches(stable_key, return_dtype=_SK)


DIM_DATE = TableSpec(
    columns=(
        Column("date_sk", pl.Int32(), "yyyymmdd"),
        Column("date", pl.Date(), "calendar day"),
        Column("year", pl.Int16(), "year"),
        Column("quarter", pl.Int8(), "quarter (1-4)"),
        Column("month", pl.Int8(), "month (1-12)"),
        Column("month_name", pl.String(), "month name"),
        Column("day", pl.Int8(), "day of month"),
        Column("iso_weekday", pl.Int8(), "1 = Monday ... 7 = Sunday"),
        Column("day_name", pl.String(), "weekday name"),
        Column("is_weekend", pl.Boolean(), "Saturday or Sunday"),
        Column("is_holiday", pl.Boolean(), "a US federal holiday"),
        Column("holiday_name", pl.String(), "name of the federal holiday, if any"),
    ),
    key=("date_sk",),
)


def date_key(day: pl.Expr) -> pl.Expr:
    """The dim_date key of a date: yyyymmdd as an integer."""
    year, month, dom = (p.cast(pl.Int32) for p in (day.dt.year(), day.dt.month(), day.dt.day()))
    return year * 10000 + month * 100 + dom


def dim_date(start: date, end: date) -> pl.LazyFrame:
    """One row per calendar day from start to end, with US federal holidays flagged."""
    federal = holidays.country_holidays("US", years=range(start.year, end.year + 1))
    days = days_between(start, end)
    frame = pl.LazyFrame(
        {"date": days, "holiday_name": [federal.get(d) for d in days]},
        schema={"date": pl.Date, "holiday_name": pl.String},
    )
    day = pl.col("date").dt
    return frame.with_columns(
        date_sk=date_key(pl.col("date")),
        year=day.year(),
        quarter=day.quarter(),
        month=day.month(),
        month_name=day.strftime("%B"),
        day=day.day(),
        iso_weekday=day.weekday(),
        day_name=day.strftime("%A"),
        is_weekend=day.weekday() >= 6,
        is_holiday=pl.col("holiday_name").is_not_null(),
    ).select(DIM_DATE.exprs())


DIM_AIRLINE = TableSpec(
    columns=(
        Column("airline_sk", _SK, "surrogate key; -1 is the unknown airline"),
        *STAGED_AIRLINES.pick("carrier", "name"),
    ),
    key=("airline_sk",),
)

DIM_AIRPORT = TableSpec(
    columns=(
        Column("airport_sk", _SK, "surrogate key; -1 is the unknown airport"),
        *STAGED_AIRPORTS.pick("faa", "name", "lat", "lon", "alt", "tzone"),
    ),
    key=("airport_sk",),
)

PLANE_ATTRIBUTES = ("year", "type", "manufacturer", "model", "engines", "seats", "speed", "engine")
DIM_PLANE = TableSpec(
    columns=(
        Column("plane_sk", _SK, "surrogate key of this version; -1 is the unknown plane"),
        *STAGED_PLANES.pick("tailnum", *PLANE_ATTRIBUTES),
        Column("valid_from", pl.Date(), "first day this version is valid"),
        Column("valid_to", pl.Date(), f"first day it no longer is ({OPEN_END} while open)"),
        Column("is_current", pl.Boolean(), "the version in the newest snapshot"),
    ),
    key=("plane_sk",),
)


def _with_unknown(frame: pl.LazyFrame, spec: TableSpec, **unknown: object) -> pl.LazyFrame:
    """Append the unknown member: key -1, the given values, nulls elsewhere."""
    row = {c.name: unknown.get(c.name) for c in spec.columns}
    row[spec.key[0]] = UNKNOWN_SK
    member = pl.LazyFrame([row], schema=spec.schema)
    return pl.concat([frame.select(spec.exprs()), member])


def dim_airline(airlines: pl.LazyFrame) -> pl.LazyFrame:
    """Airlines with surrogate keys, plus the unknown airline."""
    keyed = airlines.with_columns(airline_sk=surrogate_key("carrier"))
    return _with_unknown(keyed, DIM_AIRLINE, carrier="?", name="Unknown airline")


def dim_airport(airports: pl.LazyFrame) -> pl.LazyFrame:
    """Airports with surrogate keys, plus the unknown airport."""
    keyed = airports.with_columns(airport_sk=surrogate_key("faa"))
    return _with_unknown(keyed, DIM_AIRPORT, faa="?", name="Unknown airport")


def dim_plane(snapshots: pl.LazyFrame) -> pl.LazyFrame:
    """Planes as a slowly changing dimension (type 2), from every delivered snapshot.

    A version starts when a plane first appears, when any attribute differs from the previous
    snapshot, or when it reappears after missing from one; it ends (`valid_to`) on the first
    snapshot that changes or omits it. Delivering the same snapshot again, or an unchanged
    plane in a later one, adds no version. Rebuilt from the full history on every run, so the
    result depends only on the snapshots, not on the order runs happened in.
    """
    days = snapshots.select(pl.col("snapshot_date").unique().sort()).with_row_index("snap")
    rows = (
        snapshots.unique(["tailnum", "snapshot_date"], keep="last", maintain_order=True)
        .join(days, on="snapshot_date")
        .sort("tailnum", "snap")
        .with_columns(_attrs=pl.struct(*PLANE_ATTRIBUTES))
    )
    by_plane = pl.col("tailnum")
    starts = (pl.col("_attrs") != pl.col("_attrs").shift(1).over(by_plane)).fill_null(True) | (
        pl.col("snap") != pl.col("snap").shift(1).over(by_plane) + 1
    ).fill_null(True)
    versions = (
        rows.with_columns(_version=starts.cum_sum().over(by_plane))
        .group_by("tailnum", "_version")
        .agg(
            *(pl.col(a).first() for a in PLANE_ATTRIBUTES),
            valid_from=pl.col("snapshot_date").first(),
            _last_snap=pl.col("snap").last(),
        )
        .join(
            days.select(_last_snap=pl.col("snap") - 1, valid_to="snapshot_date"),
            on="_last_snap",
            how="left",
        )  # fmt: skip
        .with_columns(
            is_current=pl.col("valid_to").is_null(),
            valid_to=pl.col("valid_to").fill_null(OPEN_END),
            plane_sk=surrogate_key("tailnum", "valid_from"),
        )
        .sort("tailnum", "valid_from")
    )
    return _with_unknown(
        versions,
        DIM_PLANE,
        tailnum="?",
        valid_from=date(1900, 1, 1),
        valid_to=OPEN_END,
        is_current=True,
    )
