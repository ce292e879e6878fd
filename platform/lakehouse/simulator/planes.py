"""Dated planes snapshots: the sample's planes, re-delivered on a few days with changes, so the
plane dimension has real history to track (the package ships one undated table).
"""

import csv
import functools
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from lakehouse.simulator.redate import SAMPLE_YEAR

Row = dict[str, str]


def _refit_seats(row: Row) -> Row:
    if not row["seats"].isdigit():
        return row
    return {**row, "seats": str(int(row["seats"]) + 12)}


def _swap_engine(row: Row) -> Row:
    return {**row, "engine": "Turbo-jet" if row["engine"] == "Turbo-fan" else "Turbo-fan"}


@dataclass(frozen=True)
class Change:
    """Every `every`-th plane from `offset` changes on `day`; `apply=None` leaves it out of that
    day's snapshot (retired), and it is back in the next one.
    """

    day: date
    every: int
    offset: int
    apply: Callable[[Row], Row] | None


CHANGES = (
    Change(date(2013, 4, 1), every=40, offset=0, apply=_refit_seats),
    Change(date(2013, 8, 1), every=60, offset=7, apply=_swap_engine),
    Change(date(2013, 8, 1), every=500, offset=3, apply=None),
)
# Snapshot days after the first; 2013-11-01 re-delivers the fleet unchanged, retired planes back.
SNAPSHOT_DAYS = (date(2013, 4, 1), date(2013, 8, 1), date(2013, 11, 1))


def planes_snapshots(sample: bytes, start: date, end: date) -> dict[date, bytes]:
    """The planes deliveries of a replay of [start, end]: the fleet as it stands on `start`
    (the latest snapshot dated up to `start`), then each snapshot dated inside the range.

    The sample year's snapshots (the sample on 1 January, then each snapshot day with the
    changes so far) repeat in every later year, re-dated as the daily files are: each year of a
    longer replay starts from the sample's fleet again.
    """
    dated = [
        (day.replace(year=year), body)
        for year in range(SAMPLE_YEAR, end.year + 1)
        for day, body in _sample_year(sample)
    ]
    in_force = next((body for day, body in reversed(dated) if day <= start), dated[0][1])
    return {start: in_force, **{day: body for day, body in dated if start < day <= end}}


@functools.cache
def _sample_year(sample: bytes) -> tuple[tuple[date, bytes], ...]:
    """The sample year's snapshots in order: the sample on 1 January, then every snapshot day
    with the changes up to it applied.
    """
    reader = csv.DictReader(io.StringIO(sample.decode()))
    header = list(reader.fieldnames or [])
    rows = list(reader)
    snapshots = [(date(SAMPLE_YEAR, 1, 1), sample if sample.endswith(b"\n") else sample + b"\n")]
    for day in SNAPSHOT_DAYS:
        retired: set[int] = set()
        for change in (c for c in CHANGES if c.day == day):
            for index in range(change.offset, len(rows), change.every):
                if change.apply is None:
                    retired.add(index)
                else:
                    rows[index] = change.apply(rows[index])
        snapshots.append(
            (day, _to_csv(header, [r for i, r in enumerate(rows) if i not in retired]))
        )
    return tuple(snapshots)


def _to_csv(header: list[str], rows: list[Row]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()
