"""Landing a scaled copy of the sample for a benchmark: one folder per scale and date range."""

from datetime import date
from pathlib import Path

from lakehouse.landing import write_atomic
from lakehouse.simulator.replay import land_sample
from lakehouse.simulator.sample import FLIGHTS
from lakehouse.simulator.scale import scale_delivery

DONE = ".complete"


def land_scaled(root: Path, start: date, end: date, factor: int) -> Path:
    """The landing zone of the sample over [start, end] with flights scaled `factor` times.

    Everything is delivered as `lakehouse land` does (weather and reference tables at 1x, they
    are per airport and hour, not per flight); then each flights day is rewritten with
    `scale_delivery`. A finished folder is marked and reused by the next benchmark.
    """
    if (root / DONE).exists():
        return root
    land_sample(root, start, end)
    if factor > 1:
        for day_file in sorted((root / FLIGHTS.name).glob("*.csv")):
            write_atomic(day_file, scale_delivery(day_file.read_bytes(), factor))
    (root / DONE).touch()
    return root


def flights_bytes(root: Path, start: date, end: date) -> int:
    """Bytes of the flights deliveries in the range (the raw ingest's input)."""
    total = 0
    for day_file in sorted((root / FLIGHTS.name).glob("*.csv")):
        if start <= date.fromisoformat(day_file.stem) <= end:
            total += day_file.stat().st_size
    return total
