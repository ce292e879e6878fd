"""Periods and file names of partitioned sources: which file holds which partition.

A daily source's file is `YYYY-MM-DD.csv`; a monthly source's is named by the month's first
day; with static keys (a stock symbol, a meter) the key follows the period:
`2000-01-01_AAPL.csv`. Pure: the sensors, the raw layer and `lakehouse land --from` agree here.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from lakehouse.declarations import SourceSpec

CSV = ".csv"


@dataclass(frozen=True)
class FilePartition:
    """The partition a landing file holds: its period's first day, and its key if keyed."""

    period: date
    key: str | None = None


def period_start(spec: SourceSpec, day: date) -> date:
    """The first day of the period `day` falls in (the day itself for a daily source)."""
    return day.replace(day=1) if spec.partitions.kind == "monthly" else day


def next_period(spec: SourceSpec, period: date) -> date:
    """The first day of the period after `period`'s."""
    if spec.partitions.kind != "monthly":
        return period + timedelta(days=1)
    return (
        period.replace(year=period.year + 1, month=1)
        if period.month == 12
        else (period.replace(month=period.month + 1))
    )


@dataclass(frozen=True)
class Block:
    """Partitions one run covers: consecutive periods, times consecutive keys (in the order
    the declaration lists them) for a keyed source. A Dagster range over a source's
    partitions is exactly such a rectangle, from `first` to `last`.
    """

    first: FilePartition
    last: FilePartition
    files: tuple[str, ...]


def blocks(spec: SourceSpec, files: Mapping[str, FilePartition]) -> list[Block]:
    """Group files into few rectangular blocks, so a history delivered at once is a handful of
    runs rather than one per file: each key's consecutive periods form spans, and keys adjacent
    in the declared order with the same span share a block. (Not always the fewest blocks,
    but one when every key covers the same periods.) Files must hold distinct partitions.
    """
    declared: list[str | None] = list(spec.partitions.keys.values) if spec.partitions.keys else []
    rank = {key: n for n, key in enumerate(declared or [None])}
    by_key: dict[str | None, list[date]] = {}
    for partition in files.values():
        by_key.setdefault(partition.key, []).append(partition.period)
    spans: dict[tuple[date, date], list[str | None]] = {}
    for key in sorted(by_key, key=rank.__getitem__):
        periods = sorted(by_key[key])
        start = periods[0]
        for before, period in zip(periods, periods[1:], strict=False):
            if period != next_period(spec, before):
                spans.setdefault((start, before), []).append(key)
                start = period
        spans.setdefault((start, periods[-1]), []).append(key)
    found = []
    for (start, end), keys in sorted(spans.items(), key=lambda item: item[0]):
        run: list[str | None] = []
        for key in keys:
            if run and rank[key] != rank[run[-1]] + 1:
                found.append(_block(files, start, end, run))
                run = []
            run.append(key)
        found.append(_block(files, start, end, run))
    return found


def _block(
    files: Mapping[str, FilePartition], start: date, end: date, keys: list[str | None]
) -> Block:
    inside = sorted(
        (name for name, p in files.items() if p.key in keys and start <= p.period <= end),
        key=lambda name: (files[name].period, name),
    )
    return Block(FilePartition(start, keys[0]), FilePartition(end, keys[-1]), tuple(inside))


def file_name(spec: SourceSpec, partition: FilePartition) -> str:
    """The landing file name of a partition."""
    period = partition.period.isoformat()
    return f"{period}_{partition.key}{CSV}" if partition.key is not None else f"{period}{CSV}"


def partition_of(spec: SourceSpec, name: str) -> FilePartition | None:
    """The partition a file name holds, or None if it is not named as one of the source's."""
    if not name.endswith(CSV):
        return None
    stem = name.removesuffix(CSV)
    token, _, key = stem.partition("_")
    try:
        period = date.fromisoformat(token) if len(token) == len("YYYY-MM-DD") else None
    except ValueError:
        return None
    keys = spec.partitions.keys
    if period is None or period_start(spec, period) != period:
        return None
    if keys is None:
        return FilePartition(period) if not key else None
    return FilePartition(period, key) if key else None


def refusal(spec: SourceSpec, partition: FilePartition) -> str | None:
    """Why a file's partition is not one of the source's (None when it is)."""
    partitions = spec.partitions
    if partitions.start and partition.period < period_start(spec, partitions.start):
        return f"period {partition.period} is before {spec.name}'s start {partitions.start}"
    if partitions.end and partition.period > partitions.end:
        return f"period {partition.period} is after {spec.name}'s end {partitions.end}"
    keys = partitions.keys
    if keys is not None and partition.key not in keys.values:
        known = ", ".join(keys.values)
        return f"key {partition.key!r} is not one of {spec.name}'s {keys.name}s ({known})"
    return None


def expected_names(spec: SourceSpec) -> str:
    """How the source's files are named, for messages."""
    keys = spec.partitions.keys
    period = "YYYY-MM-01" if spec.partitions.kind == "monthly" else "YYYY-MM-DD"
    return f"{period}_<{keys.name}>{CSV}" if keys else f"{period}{CSV}"
