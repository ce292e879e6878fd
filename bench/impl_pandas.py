"""The pandas baseline: `python -m bench.impl_pandas --landing L --out O`.

The platform's transforms as a careful pandas user writes them: read each day's CSV (pandas
types the columns; a column with text that is not a number is coerced and its bad rows
rejected), vectorised NumPy/pandas arithmetic, `tz_localize` per time zone, boolean masks for
the contract, `drop_duplicates` for the business key, `groupby` for the marts. Single-threaded,
like pandas itself.
"""

import time

T0 = time.perf_counter()  # before pandas' import: time to result counts it

import argparse  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bench.marts import write_fingerprint  # noqa: E402
from bench.measure import emit  # noqa: E402

NEW_YORK = "America/New_York"
NY_AIRPORTS = ["EWR", "JFK", "LGA"]
FLIGHT_KEY = ["year", "month", "day", "carrier", "flight", "origin", "sched_dep_time"]
FLIGHT_NUMBERS = [
    "year", "month", "day", "dep_time", "sched_dep_time", "dep_delay", "arr_time",
    "sched_arr_time", "arr_delay", "flight", "air_time", "distance",
]  # fmt: skip
WEATHER_NUMBERS = [
    "year", "month", "day", "hour", "temp", "dewp", "humid", "wind_dir", "wind_speed",
    "wind_gust", "precip", "pressure", "visib",
]  # fmt: skip
WEATHER_INTEGERS = {"year", "month", "day", "hour", "wind_dir"}
FLOAT_COLUMNS = {"temp", "dewp", "humid", "wind_speed", "wind_gust", "precip", "pressure", "visib"}
UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def read_days(folder: Path, text: list[str]) -> pd.DataFrame:
    """Every day file of a source, in delivery order, with the day each was delivered for."""
    frames = []
    for path in sorted(folder.glob("*.csv")):
        frame = pd.read_csv(
            path, na_values=["NA", ""], keep_default_na=False, dtype=dict.fromkeys(text, str)
        )
        frame["delivered_for"] = pd.Timestamp(path.stem)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def coerce(frame: pd.DataFrame, numbers: list[str], integers: set[str]) -> pd.Series:
    """Make `numbers` numeric in place; True for rows where a value did not parse."""
    bad = pd.Series(False, index=frame.index)
    for name in numbers:
        column = frame[name]
        if not pd.api.types.is_numeric_dtype(column):
            parsed = pd.to_numeric(column.astype(str).str.strip(), errors="coerce")
            bad |= column.notna() & parsed.isna()
            column = parsed
        if name in integers:
            bad |= column.notna() & (column % 1 != 0)
        frame[name] = column.astype("float64")
    return bad


def utc(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """An ISO-8601 UTC instant column, and where its text did not parse."""
    parsed = pd.to_datetime(text, format=UTC_FORMAT, utc=True, errors="coerce")
    return parsed, text.notna() & parsed.isna()


def bad_clock(t: pd.Series) -> pd.Series:
    """An hhmm value that is not a clock time (null is fine)."""
    return (t < 0) | (t > 2400) | (t % 100 >= 60)


def hm(t: pd.Series) -> pd.Series:
    """Minutes after midnight of an hhmm clock value."""
    return (t // 100) * 60 + t % 100


def day_offset(sched: pd.Series, delay: pd.Series, clock: pd.Series) -> pd.Series:
    """Whole days between the scheduled day and the day the clock time falls on."""
    return np.round((sched + delay - clock) / 1440).fillna(0)


def arrival_minutes(dep: pd.Series, clock: pd.Series) -> pd.Series:
    """An arrival clock more than 6 hours behind the departure clock is on the next day."""
    return clock + np.where(clock < dep - 360, 1440, 0)


def localize(naive: pd.Series, zone: str) -> pd.Series:
    """Wall clock in `zone` to UTC: the earlier instant when ambiguous, NaT in a gap."""
    dst = np.ones(len(naive), dtype=bool)  # True = the daylight-time (earlier) instant
    local = naive.dt.tz_localize(zone, ambiguous=dst, nonexistent="NaT")
    return local.dt.tz_convert("UTC")


def localize_by_zone(naive: pd.Series, zones: pd.Series) -> pd.Series:
    """Wall clocks to UTC in the zone named per row (NaT where the zone is unknown)."""
    result = pd.Series(pd.NaT, index=naive.index, dtype="datetime64[us, UTC]")
    for zone in zones.dropna().unique():
        rows = zones == zone
        result[rows] = localize(naive[rows], zone)
    return result


def day_shift(arrival: pd.Series, departure: pd.Series) -> np.ndarray:
    """Days to move an arrival so it falls within the 24 hours after its departure."""
    elapsed = (arrival - departure).dt.total_seconds()
    return np.select([elapsed <= 0, elapsed > 86400], [1, -1], 0)


def minutes(values: pd.Series | np.ndarray) -> pd.Series:
    """Minute counts as timedeltas (NaN -> NaT)."""
    return pd.to_timedelta(values, unit="m")


def days(values: pd.Series | np.ndarray) -> pd.Series:
    """Day counts as timedeltas."""
    return pd.to_timedelta(values, unit="D")


def reference(landing: Path, source: str, key: str) -> pd.DataFrame:
    """The newest snapshot of a reference table, the last line per key."""
    newest = max(landing.joinpath(source).glob("*.csv"))
    frame = pd.read_csv(newest, na_values=["NA", ""], keep_default_na=False)
    return frame.drop_duplicates(key, keep="last")


def stage_flights(landing: Path, airports: pd.DataFrame) -> pd.DataFrame:
    """Flights: typed, staging errors and contract breaks removed, last delivery per key."""
    f = read_days(landing / "flights", ["carrier", "tailnum", "origin", "dest", "time_hour"])
    type_error = coerce(f, FLIGHT_NUMBERS, set(FLIGHT_NUMBERS))
    f["time_hour"], bad_instant = utc(f["time_hour"])
    f["flight_date"] = pd.to_datetime(f[["year", "month", "day"]], errors="coerce")
    clean = (
        ~(type_error | bad_instant)
        & f[[*FLIGHT_KEY, "dest", "flight_date"]].notna().all(axis=1)
        & (f["flight_date"] == f["delivered_for"])
        & ~bad_clock(f["sched_dep_time"])
        & ~bad_clock(f["dep_time"])
        & ~bad_clock(f["sched_arr_time"])
        & ~bad_clock(f["arr_time"])
    )
    f = f[clean].copy()
    sched_dep, dep_clock, arr_clock = hm(f["sched_dep_time"]), hm(f["dep_time"]), hm(f["arr_time"])
    dep = dep_clock + 1440 * day_offset(sched_dep, f["dep_delay"], dep_clock)
    sched_arr = arrival_minutes(sched_dep, hm(f["sched_arr_time"]))
    by_delay = f["arr_delay"].notna()
    arr = np.where(
        by_delay,
        arr_clock + 1440 * day_offset(sched_arr, f["arr_delay"], arr_clock),
        arrival_minutes(dep, arr_clock),
    )
    day = f["flight_date"]
    f["sched_dep_utc"] = localize(day + minutes(sched_dep), NEW_YORK)
    f["dep_utc"] = (f["sched_dep_utc"] + minutes(f["dep_delay"])).where(
        f["dep_delay"].notna(), localize(day + minutes(dep), NEW_YORK)
    )
    f.loc[f["dep_time"].isna(), "dep_utc"] = pd.NaT
    zones = f["dest"].map(airports.set_index("faa")["tzone"])
    sched_arr_local = day + minutes(sched_arr)
    arr_local = day + minutes(arr)
    sched_shift = day_shift(localize_by_zone(sched_arr_local, zones), f["sched_dep_utc"])
    f["sched_arr_local"] = sched_arr_local + days(sched_shift)
    arr_local = arr_local + days(np.where(by_delay, sched_shift, 0))
    f["sched_arr_utc"] = localize_by_zone(f["sched_arr_local"], zones)
    arr_shift = day_shift(localize_by_zone(arr_local, zones), f["dep_utc"])
    arr_local = arr_local + days(np.where(by_delay, 0, arr_shift))
    f["arr_utc"] = (f["sched_arr_utc"] + minutes(f["arr_delay"])).where(
        by_delay, localize_by_zone(arr_local, zones)
    )
    f.loc[f["arr_time"].isna(), "arr_utc"] = pd.NaT
    f["cancelled"] = f["dep_time"].isna()
    valid = (
        f[["sched_arr_time", "distance", "time_hour", "sched_dep_utc", "sched_arr_local"]]
        .notna()
        .all(axis=1)
        & f["month"].between(1, 12)
        & f["day"].between(1, 31)
        & (f["carrier"].str.len() == 2)
        & f["origin"].isin(NY_AIRPORTS)
        & (f["dest"].str.len() == 3)
        & (f["flight"] > 0)
        & (f["air_time"].isna() | (f["air_time"] > 0))
        & (f["distance"] > 0)
        & (f["dep_delay"].isna() | f["dep_delay"].between(-2880, 2880))
        & (f["arr_delay"].isna() | f["arr_delay"].between(-2880, 2880))
        & (~f["cancelled"] | (f["arr_time"].isna() & f["arr_delay"].isna()))
        & (f["arr_utc"].isna() | f["dep_utc"].isna() | (f["arr_utc"] > f["dep_utc"]))
    )
    return f[valid].drop_duplicates(FLIGHT_KEY, keep="last")


def stage_weather(landing: Path) -> pd.DataFrame:
    """Weather: typed, staging errors and contract breaks removed, last delivery per hour."""
    w = read_days(landing / "weather", ["origin", "time_hour"])
    type_error = coerce(w, WEATHER_NUMBERS, WEATHER_INTEGERS)
    w["time_hour"], bad_instant = utc(w["time_hour"])
    w["weather_date"] = pd.to_datetime(w[["year", "month", "day"]], errors="coerce")
    local = w["time_hour"].dt.tz_convert(NEW_YORK)

    def within(name: str, low: float, high: float) -> pd.Series:
        return w[name].isna() | w[name].between(low, high)

    valid = (
        ~(type_error | bad_instant)
        & w[["origin", "time_hour", "year", "month", "day", "hour", "weather_date"]]
        .notna()
        .all(axis=1)
        & (w["weather_date"] == w["delivered_for"])
        & w["origin"].isin(NY_AIRPORTS)
        & w["hour"].between(0, 23)
        & within("temp", -40, 130)
        & within("dewp", -60, 100)
        & within("humid", 0, 100)
        & within("wind_dir", 0, 360)
        & within("wind_speed", 0, 150)
        & within("wind_gust", 0, 200)
        & within("precip", 0, 10)
        & within("pressure", 900, 1100)
        & within("visib", 0, 10)
        & (local.dt.tz_localize(None).dt.normalize() == w["weather_date"])
        & (local.dt.hour == w["hour"])
    )
    return w[valid].drop_duplicates(["origin", "time_hour"], keep="last")


def plane_known(flights: pd.DataFrame, landing: Path) -> pd.Series:
    """Whether the newest planes snapshot on or before each flight's date lists its plane."""
    snapshots = []
    for path in sorted((landing / "planes").glob("*.csv")):
        snap = pd.read_csv(path, usecols=["tailnum"], na_values=["NA", ""], keep_default_na=False)
        snap["snapshot_date"] = pd.Timestamp(path.stem)
        snapshots.append(snap)
    planes = pd.concat(snapshots).dropna().drop_duplicates()
    days_ = np.sort(planes["snapshot_date"].unique())
    position = np.searchsorted(days_, flights["flight_date"].to_numpy(), side="right") - 1
    on = pd.Series(days_[np.clip(position, 0, None)], index=flights.index).where(position >= 0)
    lookup = pd.DataFrame({"tailnum": flights["tailnum"], "snapshot_date": on})
    found = lookup.merge(planes.assign(_found=True), on=["tailnum", "snapshot_date"], how="left")
    return pd.Series(found["_found"].fillna(False).to_numpy(dtype=bool), index=flights.index)


def seconds(instants: pd.Series) -> int:
    """Sum of UTC instants as whole seconds since the epoch (nulls skipped)."""
    present = instants.dropna()
    epoch = pd.Timestamp(0, tz="UTC")
    return int(((present - epoch) // pd.Timedelta(seconds=1)).sum())


def band(values: pd.Series, breaks: list[float], labels: list[str]) -> np.ndarray:
    """Labelled bands (left-closed), `no observation` when missing."""
    conditions = [values.isna(), *(values < edge for edge in breaks)]
    return np.select(conditions, ["no observation", *labels[:-1]], labels[-1])


def main() -> None:
    """Run the transforms, then write the marts and the fingerprint (not timed)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    began = time.perf_counter()
    landing = args.landing
    airlines = reference(landing, "airlines", "carrier")
    airports = reference(landing, "airports", "faa")
    flights = stage_flights(landing, airports)
    weather = stage_weather(landing)
    faa = set(airports["faa"])
    flights["carrier_name"] = flights["carrier"].map(airlines.set_index("carrier")["name"])
    flights["dest_name"] = flights["dest"].map(airports.set_index("faa")["name"])
    fingerprint = {
        "rows": len(flights),
        "cancelled": int(flights["cancelled"].sum()),
        "arrivals_utc": int(flights["arr_utc"].notna().sum()),
        "dep_utc_seconds": seconds(flights["dep_utc"]),
        "arr_utc_seconds": seconds(flights["arr_utc"]),
        "unknown_airline": int(flights["carrier_name"].isna().sum()),
        "unknown_origin": int((~flights["origin"].isin(faa)).sum()),
        "unknown_dest": int((~flights["dest"].isin(faa)).sum()),
        "unknown_plane": int((~plane_known(flights, landing)).sum()),
    }
    flights["late_arrival"] = (
        (flights["arr_delay"] > 15).astype(float).where(flights["arr_delay"].notna())
    )
    ontime = flights.groupby(["flight_date", "carrier", "origin"], as_index=False).agg(
        carrier_name=("carrier_name", "first"),
        flights=("carrier", "size"),
        cancelled=("cancelled", "sum"),
        arrived=("arr_delay", "count"),
        mean_arr_delay=("arr_delay", "mean"),
        delayed_share=("late_arrival", "mean"),
    )
    routes = flights.groupby(["origin", "dest"], as_index=False).agg(
        dest_name=("dest_name", "first"),
        first_date=("flight_date", "min"),
        last_date=("flight_date", "max"),
        flights=("carrier", "size"),
        cancelled=("cancelled", "sum"),
        mean_dep_delay=("dep_delay", "mean"),
        mean_arr_delay=("arr_delay", "mean"),
        distance=("distance", "mean"),
    )
    departed = flights.loc[
        ~flights["cancelled"], ["flight_date", "origin", "time_hour", "dep_delay"]
    ].merge(
        weather[["origin", "time_hour", "visib", "precip", "wind_speed"]],
        on=["origin", "time_hour"],
        how="left",
    )
    departed["visibility"] = band(
        departed["visib"], [1, 3, 5, 10], ["<1 mi", "1-3 mi", "3-5 mi", "5-10 mi", "10+ mi"]
    )
    departed["precipitation"] = np.where(
        departed["precip"] == 0,
        "none",
        band(departed["precip"], [0.1], ["light (<0.1 in)", "heavy (>=0.1 in)"]),
    )
    departed["wind"] = band(departed["wind_speed"], [10, 20], ["<10 mph", "10-20 mph", "20+ mph"])
    departed["late_departure"] = (
        (departed["dep_delay"] > 15).astype(float).where(departed["dep_delay"].notna())
    )
    delay_weather = departed.groupby(
        ["flight_date", "origin", "visibility", "precipitation", "wind"], as_index=False
    ).agg(
        flights=("origin", "size"),
        mean_dep_delay=("dep_delay", "mean"),
        delayed_share=("late_departure", "mean"),
    )
    done = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    ontime.to_parquet(args.out / "mart_ontime_daily.parquet")
    routes.to_parquet(args.out / "mart_routes.parquet")
    delay_weather.to_parquet(args.out / "mart_delay_weather.parquet")
    write_fingerprint(args.out, fingerprint)
    emit({"run_s": done - began, "total_s": done - T0})


if __name__ == "__main__":
    main()
