"""Splitting an outside CSV into a source's deliveries: `lakehouse land --from FILE`.

A data engineer's feed often arrives as one file covering many periods (and keys). Each line
goes, byte for byte, into the delivery of the partition its columns name (with the file's
header), so the raw layer records the same lines it would have received one file at a time.
Nothing is written unless every line's partition can be read and is one of the source's.
"""

import csv
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from lakehouse.declarations import SourceSpec
from lakehouse.landing import LandingFileError
from lakehouse.periods import FilePartition, file_name, period_start, refusal

SHOWN_PROBLEMS = 5


@dataclass(frozen=True)
class Split:
    """The deliveries of an outside file, one per partition (file name -> header and lines as
    bytes, in partition order).
    """

    deliveries: dict[str, bytes]
    lines: int


def split_deliveries(data: bytes, spec: SourceSpec, *, source_file: str) -> Split:
    """Split a CSV holding many periods (and keys) of a source into one delivery each.

    Raises:
        LandingFileError: the source is not partitioned by period, the header is not the
            declared one, or a line's partition cannot be read or is not one of the source's
            (the first few are named with their line numbers; nothing is split).
    """
    partitions = spec.partitions
    column = partitions.column
    if not partitions.periodic or column is None:
        msg = f"{spec.name} is not partitioned by period; its files are delivered whole"
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
    keys = partitions.keys
    key_position = header.index(keys.column) if keys is not None else None
    by_partition: dict[FilePartition, list[str]] = defaultdict(list)
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
        key = None
        if key_position is not None:
            key = fields[key_position].strip() if key_position < len(fields) else ""
        partition = FilePartition(period_start(spec, day), key)
        if (why := refusal(spec, partition)) is not None:
            problems.append((number, why))
            continue
        by_partition[partition].append(line)
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
    ordered = sorted(by_partition.items(), key=lambda item: (item[0].period, item[0].key or ""))
    deliveries = {
        file_name(spec, partition): ("\n".join([lines[0], *body]) + "\n").encode()
        for partition, body in ordered
    }
    return Split(deliveries=deliveries, lines=sum(len(b) for b in by_partition.values()))
