"""Staging of flights: typed columns, real timestamps, the cancelled flag."""

from collections.abc import Sequence

import polars as pl

from lakehouse.declarations import declared
from lakehouse.transforms.parsing import (
    ROW_ERRORS,
    Problem,
    calendar_date,
    daily_problems,
    dedupe_latest,
    describe,
    parse_fields,
    parse_text,
    parse_utc_instant,
    quick_casts,
    with_staging_errors,
)

NEW_YORK = "America/New_York"
MINUTES_PER_DAY = 24 * 60
# No nonstop from New York gains more than 6 hours of time zones (Honolulu in summer), so an
# arrival clock more than 6 hours behind the departure clock means the flight crossed midnight.
MAX_CLOCK_SETBACK_MINUTES = 6 * 60

LOCAL_NY = pl.Datetime("us", NEW_YORK)
UTC = pl.Datetime("us", "UTC")
NAIVE = pl.Datetime("us")

_TEXT_TYPES: dict[str, pl.DataType] = {
    "year": pl.Int16(), "month": pl.Int8(), "day": pl.Int8(),
    "dep_time": pl.Int16(), "sched_dep_time": pl.Int16(), "dep_delay": pl.Int16(),
    "arr_time": pl.Int16(), "sched_arr_time": pl.Int16(), "arr_delay": pl.Int16(),
    "carrier": pl.String(), "flight": pl.Int32(), "tailnum": pl.String(),
    "origin": pl.String(), "dest": pl.String(), "air_time": pl.Int16(),
    "distance": pl.Int16(), "hour": pl.Int8(), "minute": pl.Int8(),
}  # fmt: skip

# The staged columns are declared with the source (defs/sources/flights/defs.yaml): typed while
# staging, then the arrival zone columns `prepare_flights` adds.
FLIGHTS = declared("flights")
TYPED_FLIGHTS = FLIGHTS.typed_spec
STAGED_FLIGHTS = FLIGHTS.staged_spec
ARRIVAL_ZONE = tuple(c.column for c in FLIGHTS.columns_added_by("prepare"))


def invalid_clock(column: str) -> Problem:
    """An hhmm value that is not a clock time (0000-2400, minutes below 60)."""
    hhmm = pl.col(column)
    return Problem(
        found=(hhmm < 0) | (hhmm > 2400) | (hhmm % 100 >= 60),
        text=describe(f"{column}=", hhmm, " is not an hhmm time"),
    )


def hhmm_to_minutes(column: str) -> pl.Expr:
    """Minutes after midnight of an hhmm clock value; 2400 is 1440, midnight ending the day."""
    hhmm = pl.col(column).cast(pl.Int32)
    return (hhmm // 100) * 60 + hhmm % 100


def wall_clock(day: pl.Expr, minutes_after_midnight: pl.Expr) -> pl.Expr:
    """A naive wall-clock datetime `minutes_after_midnight` after the start of `day`
    (values past 1440 fall on the following days).
    """
    return day.cast(NAIVE) + pl.duration(minutes=minutes_after_midnight)


def day_offset_from_delay(
    scheduled_minutes: pl.Expr, delay: pl.Expr, clock_minutes: pl.Expr
) -> pl.Expr:
    """Whole days between the scheduled day and the day an actual clock time falls on.

    The delay says when the event happened (scheduled + delay); the clock says what time of day
    it was. Their difference is a whole number of days: e.g. a 23:59 departure 11 minutes late
    left at 00:10 on the next day (+1), a 00:05 departure 7 minutes early left at 23:58 on the
    previous day (-1). Without a delay the clock is taken on the scheduled day.
    """
    days = ((scheduled_minutes + delay - clock_minutes) / MINUTES_PER_DAY).round()
    return days.cast(pl.Int32).fill_null(0)


def arrival_minutes(departure_minutes: pl.Expr, arrival_clock_minutes: pl.Expr) -> pl.Expr:
    """Minutes after the departure day's midnight of an arrival known only by its clock time.

    The arrival is on the next day when its clock is more than `MAX_CLOCK_SETBACK_MINUTES`
    behind the departure clock (the clock runs backwards at most that much flying west).
    """
    crossed_midnight = arrival_clock_minutes < departure_minutes - MAX_CLOCK_SETBACK_MINUTES
    return arrival_clock_minutes + pl.when(crossed_midnight).then(MINUTES_PER_DAY).otherwise(0)


def as_new_york(naive: pl.Expr) -> pl.Expr:
    """A New York wall-clock time as a zoned datetime.

    At the November fall-back hour the earlier instant is taken; a time inside the skipped
    spring-forward hour does not exist and becomes null for the contract to report.
    """
    return naive.dt.replace_time_zone(NEW_YORK, ambiguous="earliest", non_existent="null")


def type_flights(raw: pl.LazyFrame) -> pl.LazyFrame:
    """Raw flight text to typed columns; fields that did not parse are named in `_type_errors`."""
    parsers = {name: parse_text(name, dtype) for name, dtype in _TEXT_TYPES.items()}
    parsers["time_hour"] = parse_utc_instant("time_hour")
    return parse_fields(raw, parsers, quick=quick_casts(_TEXT_TYPES))


def add_timestamps(typed: pl.LazyFrame) -> pl.LazyFrame:
    """Departures as New York and UTC instants; arrivals as destination wall clocks with the day
    resolved (their time zone belongs to `add_arrival_utc`); the cancelled flag.
    """
    # Shared pieces are computed once as columns: an expression used twice is evaluated twice.
    flight_date = pl.col("flight_date")
    sched_dep = pl.col("_sched_dep_minutes")
    dep_clock = hhmm_to_minutes("dep_time")
    dep = dep_clock + MINUTES_PER_DAY * day_offset_from_delay(
        sched_dep, pl.col("dep_delay"), dep_clock
    )
    sched_arr = arrival_minutes(sched_dep, hhmm_to_minutes("sched_arr_time"))
    arr_clock = hhmm_to_minutes("arr_time")
    arr_from_delay = arr_clock + MINUTES_PER_DAY * day_offset_from_delay(
        sched_arr, pl.col("arr_delay"), arr_clock
    )
    arr = (
        pl.when(pl.col("arr_delay").is_not_null())
        .then(arr_from_delay)
        .otherwise(arrival_minutes(dep, arr_clock))
    )
    # Scheduled departure plus the delay is exact, even when the departure falls in the hour
    # that repeats at the fall-back change; the wall clock is the fallback without a delay.
    # Only those rows' clocks are converted: a time zone conversion skips nulls, and converting
    # every row cost as much as the scheduled departures' own.
    by_clock = pl.col("dep_time").is_not_null() & pl.col("dep_delay").is_null()
    dep_utc = (
        pl.when(pl.col("dep_delay").is_not_null() & pl.col("dep_time").is_not_null())
        .then(pl.col("sched_dep_utc") + pl.duration(minutes=pl.col("dep_delay")))
        .otherwise(
            as_new_york(pl.when(by_clock).then(wall_clock(flight_date, dep))).dt.convert_time_zone(
                "UTC"
            )
        )
    )
    return (
        typed.with_columns(
            flight_date=calendar_date("year", "month", "day"),
            _sched_dep_minutes=hhmm_to_minutes("sched_dep_time"),
        )
        .with_columns(
            sched_dep_utc=as_new_york(wall_clock(flight_date, sched_dep)).dt.convert_time_zone(
                "UTC"
            ),
            sched_arr_local=wall_clock(flight_date, sched_arr),
            arr_local=wall_clock(flight_date, arr),
            cancelled=pl.col("dep_time").is_null(),
        )
        .with_columns(dep_utc=dep_utc)
        .with_columns(
            sched_dep_local=pl.col("sched_dep_utc").dt.convert_time_zone(NEW_YORK),
            dep_local=pl.col("dep_utc").dt.convert_time_zone(NEW_YORK),
        )
        .drop("_sched_dep_minutes")
    )


def stage_flights(raw: pl.LazyFrame) -> pl.LazyFrame:
    """Raw flight lines to staged flights, one row per delivered line (nothing is dropped).

    Rows carry `_row_errors`: null for a clean row, else what is wrong with it (a field that
    did not parse, a date that is not its file's day). Deduplication is `dedupe_flights`.
    """
    staged = add_timestamps(type_flights(raw))
    clocks = ("sched_dep_time", "dep_time", "sched_arr_time", "arr_time")
    problems = daily_problems(
        "flight_date", [*TYPED_FLIGHTS.key, "dest"], *(invalid_clock(c) for c in clocks)
    )
    return with_staging_errors(staged, problems).select(*TYPED_FLIGHTS.exprs(), ROW_ERRORS)


def prepare_flights(flights: pl.LazyFrame, airports: pl.DataFrame) -> pl.LazyFrame:
    """The `prepare` step of staging: arrivals in UTC from the destinations' zones (the
    declared input `airports`, staged).
    """
    zones = airports["tzone"].drop_nulls().unique().sort().to_list()
    return add_arrival_utc(flights, airports.lazy(), zones)


def summarize_flights(valid: pl.LazyFrame) -> dict[str, object]:
    """What a staged flights run's materialization shows besides its rows: cancellations and
    the arrivals whose destination has no time zone.
    """
    summary = valid.select(
        cancelled=pl.col("cancelled").sum(),
        no_zone=pl.col("dest_tzone").is_null().sum(),
        no_zone_dests=pl.col("dest")
        .filter(pl.col("dest_tzone").is_null())
        .unique()
        .sort()
        .str.join(", "),
    ).collect()
    return {
        "cancelled": summary["cancelled"].item() or 0,
        "arrivals_without_time_zone": summary["no_zone"].item() or 0,
        "destinations_without_time_zone": summary["no_zone_dests"].item() or "",
    }


def dedupe_flights(staged: pl.LazyFrame) -> pl.LazyFrame:
    """One row per business key, the last delivered."""
    return dedupe_latest(staged, list(TYPED_FLIGHTS.key))


def wall_clock_to_utc(naive: pl.Expr, zone_column: str, zones: Sequence[str]) -> pl.Expr:
    """Wall clocks to UTC in the zone named per row (Polars converts one zone at a time, so
    each known zone gets a branch). At a fall-back hour the earlier instant is taken; a time
    in a spring-forward gap, or in an unknown zone, is null. A null wall clock costs nothing
    to convert: mask the rows whose UTC time is not needed.
    """
    return pl.coalesce(
        pl.when(pl.col(zone_column) == zone).then(
            naive.dt.replace_time_zone(
                zone, ambiguous="earliest", non_existent="null"
            ).dt.convert_time_zone("UTC")
        )
        for zone in zones
    ).cast(UTC)


def day_shift(arrival_utc: pl.Expr, departure_utc: pl.Expr) -> pl.Expr:
    """Days to move an arrival so it falls within the 24 hours after its departure (the clock
    rule in `arrival_minutes` cannot see time zones; UTC can).
    """
    elapsed = arrival_utc - departure_utc
    return (
        pl.when(elapsed <= pl.duration(minutes=0))
        .then(1)
        .when(elapsed > pl.duration(days=1))
        .then(-1)
        .otherwise(0)
    )


def add_arrival_utc(
    flights: pl.LazyFrame, airports: pl.LazyFrame, zones: Sequence[str]
) -> pl.LazyFrame:
    """Arrivals in UTC from the destination's time zone (`airports.tzone`), and arrival days
    corrected so every arrival follows its departure within a day.

    The actual arrival is the scheduled arrival plus the arrival delay when there is one (exact
    across daylight-saving changes), else its wall clock. A destination missing from airports,
    or without a time zone, keeps null UTC arrivals: the caller counts them, nothing is guessed.

    Args:
        flights: Typed flights (`stage_flights`, deduplicated).
        airports: Staged airports (`faa`, `tzone`).
        zones: Every time zone `airports.tzone` holds.
    """
    dest_zone = airports.select(pl.col("faa").alias("dest"), pl.col("tzone").alias("dest_tzone"))
    in_zone = flights.join(dest_zone, on="dest", how="left", maintain_order="left")

    def to_utc(naive: str, where: pl.Expr | None = None) -> pl.Expr:
        """`naive` in UTC, only on the rows `where` says (null elsewhere)."""
        clock = pl.col(naive) if where is None else pl.when(where).then(pl.col(naive))
        return wall_clock_to_utc(clock, "dest_tzone", zones)

    # Each conversion is its own column, computed once: an expression used twice would be
    # evaluated twice (nine zone conversions of the whole column each time).
    one_day = pl.duration(days=1)
    by_delay = pl.col("arr_delay").is_not_null()
    sched_shift = in_zone.with_columns(_sched_arr_utc=to_utc("sched_arr_local")).with_columns(
        _sched_shift=day_shift(pl.col("_sched_arr_utc"), pl.col("sched_dep_utc"))
    )
    shifted = sched_shift.with_columns(
        sched_arr_local=pl.col("sched_arr_local") + pl.col("_sched_shift") * one_day,
        # An arrival placed by its delay moves with its scheduled arrival.
        arr_local=pl.col("arr_local")
        + pl.when(by_delay).then(pl.col("_sched_shift")).otherwise(0) * one_day,
    )
    # Only an arrival without a delay is placed by its clock: only those rows need its UTC time.
    by_clock = ~by_delay
    with_utc = shifted.with_columns(
        sched_arr_utc=to_utc("sched_arr_local"), _arr_utc_by_clock=to_utc("arr_local", by_clock)
    ).with_columns(
        arr_local=pl.col("arr_local")
        + pl.when(by_delay)
        .then(0)
        .otherwise(day_shift(pl.col("_arr_utc_by_clock"), pl.col("dep_utc")))
        * one_day,
    )
    return with_utc.with_columns(
        arr_utc=pl.when(pl.col("arr_time").is_null())
        .then(None)
        .when(by_delay)
        .then(pl.col("sched_arr_utc") + pl.duration(minutes=pl.col("arr_delay")))
        .otherwise(to_utc("arr_local", by_clock)),
    ).select(*STAGED_FLIGHTS.exprs())
