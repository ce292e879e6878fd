"""Dated planes snapshots: the sample's planes, re-delivered on a few days with changes, so the
plane dimension has real history to track (the package ships one undated table).
"""

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

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
    (the sample, with the changes of every snapshot day up to `start`), then each snapshot day
    inside the range with the changes so far applied.
    """
    reader = csv.DictReader(io.StringIO(sample.decode()))
    header = list(reader.fieldnames or [])
    rows = list(reader)
    in_force = sample if sample.endswith(b"\n") else sample + b"\n"
    snapshots: dict[date, bytes] = {}
    for day in SNAPSHOT_DAYS:
        retired: set[int] = set()
        for change in (c for c in CHANGES if c.day == day):
            for index in range(change.offset, len(rows), change.every):
                if change.apply is None:
                    retired.add(index)
                else:
                    rows[index] = change.apply(rows[index])
        if day <= end:
            body = _to_csv(header, [r for i, r in enumerate(rows) if i not in retired])
            if day <= start:
                in_force = body
            else:
                snapshots[day] = body
    return {start: in_force, **snapshots}


def _to_csv(header: list[str], rows: list[Row]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()
