"""The figures all implementations must agree on, and how they are compared.

Each implementation writes its three marts as Parquet plus a fingerprint of its flights fact
(counts, and sums of the UTC departure and arrival instants, so arrival days and zones must be
resolved exactly alike). Counts must be equal; means equal to a relative 1e-9 (summation order
differs between engines, nothing else may).
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from polars.testing import assert_frame_equal

MARTS: dict[str, tuple[str, ...]] = {
    "mart_ontime_daily": ("flight_date", "carrier", "origin"),
    "mart_routes": ("origin", "dest"),
    "mart_delay_weather": ("flight_date", "origin", "visibility", "precipitation", "wind"),
}
FINGERPRINT_FILE = "fact_fingerprint.json"
FINGERPRINT_KEYS = (
    "rows", "cancelled", "arrivals_utc", "dep_utc_seconds", "arr_utc_seconds",
    "unknown_airline", "unknown_origin", "unknown_dest", "unknown_plane",
)  # fmt: skip
REL_TOL = 1e-9


def canonical(frame: pl.DataFrame, key: tuple[str, ...]) -> pl.DataFrame:
    """A mart in comparable form: integers as Int64, floats as Float64 (NaN as null), dates as
    Date, columns by name, rows by key.
    """
    exprs = []
    for name, dtype in frame.schema.items():
        column = pl.col(name)
        if dtype.is_integer():
            exprs.append(column.cast(pl.Int64))
        elif dtype.is_float():
            exprs.append(column.cast(pl.Float64).fill_nan(None))
        elif isinstance(dtype, pl.Datetime):
            exprs.append(column.cast(pl.Date))
        else:
            exprs.append(column)
    return frame.select(exprs).select(sorted(frame.columns)).sort(key)


@dataclass(frozen=True)
class Outputs:
    """Where one implementation wrote its marts and fingerprint."""

    folder: Path

    def mart(self, name: str) -> pl.DataFrame:
        """One mart, canonical."""
        return canonical(pl.read_parquet(self.folder / f"{name}.parquet"), MARTS[name])

    def fingerprint(self) -> dict[str, int]:
        """The fact fingerprint."""
        raw: dict[str, Any] = json.loads((self.folder / FINGERPRINT_FILE).read_text())
        return {key: int(raw[key]) for key in FINGERPRINT_KEYS}


def write_fingerprint(folder: Path, values: dict[str, Any]) -> None:
    """Write a fact fingerprint (all values as integers)."""
    folder.mkdir(parents=True, exist_ok=True)
    clean = {key: int(values[key]) for key in FINGERPRINT_KEYS}
    (folder / FINGERPRINT_FILE).write_text(json.dumps(clean, indent=2))


def differences(reference: Outputs, other: Outputs) -> list[str]:
    """What differs between two implementations' figures; empty when they agree."""
    problems = []
    ours, theirs = reference.fingerprint(), other.fingerprint()
    for key in FINGERPRINT_KEYS:
        if ours[key] != theirs[key]:
            problems.append(f"fact {key}: {ours[key]} != {theirs[key]}")
    for name in MARTS:
        left, right = reference.mart(name), other.mart(name)
        try:
            assert_frame_equal(left, right, check_dtypes=False, rel_tol=REL_TOL, abs_tol=0.0)
        except AssertionError as error:
            problems.append(f"{name}: {str(error).splitlines()[0]}")
            joined = left.join(right, on=list(MARTS[name]), how="full", suffix="_other")
            problems.append(f"{name}: {left.height} vs {right.height} rows; e.g.\n{joined.head(3)}")
    return problems


def mart_totals(outputs: Outputs) -> dict[str, int]:
    """Headline figures for the report: rows of each mart, flights in the daily mart."""
    totals = {f"{name}_rows": outputs.mart(name).height for name in MARTS}
    totals["flights"] = int(outputs.mart("mart_ontime_daily")["flights"].sum())
    return totals
