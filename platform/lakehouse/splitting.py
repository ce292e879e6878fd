"""Splitting an outside CSV into a daily source's deliveries: `lakehouse land --from FILE`.

A data engineer's feed often arrives as one file covering many days. Each line goes, byte for
byte, into the delivery of the day its partition column names (with the file's header), so the
raw layer records the same lines it would have received day by day. Nothing is written unless
every line's day can be read and lies in the source's declared partitions.
"""

import csv
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from lakehouse.declarations import SourceSpec
from lakehouse.landing import LandingFileError

SHOWN_PROBLEMS = 5


@dataclass(frozen=True)
class Split:
    """The deliveries of an outside file, one per day, each its header and lines as bytes."""

    deliveries: dict[date, bytes]
    lines: int


def split_daily(data: bytes, spec: SourceSpec, *, source_file: str) -> Split:
    """Split a CSV holding many days of a daily source into one delivery per day.

    Raises:
        LandingFileError: the source is not daily, the header is not the declared one, or a
            line's day cannot be read or lies outside the declared partitions (the first few
            are named with their line numbers; nothing is split).
    """
    partitions = spec.partitions
    column = partitions.column
    if not spec.daily or column is None:
        msg = f"{spec.name} is not a daily source; only daily sources are split by day"
        raise LandingFileError(source_file, msg)
    text = data.decode("utf-8-sig")
    lines = text.splitlines(keepends=False)
    if not lines:
        raise LandingFileError(source_file, "file is empty", line=1)
    header = next(csv.reader([lines[0]]))
    if header != spec.landing.header:
        msg = f"header {header} is not {spec.name}'s declared header {spec.landing.header}"
        raise LandingFileError(source_file, msg, line=1)
    declared = next(c for c in spec.columns if c.name == column)
    position = header.index(column)
    by_day: dict[date, list[str]] = defaultdict(list)
    problems: list[tuple[int, str]] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = next(csv.reader([line]))
        value = fields[position] if position < len(fields) else ""
        try:
            day = datetime.strptime(value.strip(), declared.format or "%Y-%m-%d").date()
        except ValueError:
            problems.append((number, f"{column}={value!r} is not a date like {declared.format}"))
            continue
        if day < (partitions.start or day) or day > (partitions.end or day):
            problems.append((number, f"{day} is outside {spec.name}'s partitions"))
            continue
        by_day[day].append(line)
    if problems:
        shown = "; ".join(f"line {n}: {what}" for n, what in problems[:SHOWN_PROBLEMS])
        more = (
            f" (and {len(problems) - SHOWN_PROBLEMS} more)"
            if len(problems) > SHOWN_PROBLEMS
            else ""
        )
        msg = (
            f"{len(problems)} line(s) cannot be placed in a day: {shown}{more}; fix them or "
            "widen the source's partitions; nothing was landed"
        )
        raise LandingFileError(source_file, msg)
    deliveries = {
        day: ("\n".join([lines[0], *body]) + "\n").encode() for day, body in sorted(by_day.items())
    }
    return Split(deliveries=deliveries, lines=sum(len(b) for b in by_day.values()))
