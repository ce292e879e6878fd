"""Partition keys and calendar days: the conversions between them (pure, no Dagster).

Partition key ranges are inclusive at both ends, like every span in this package.
"""

from collections.abc import Iterable, Sequence
from datetime import date, timedelta


def keys_to_dates(keys: Iterable[str]) -> list[date]:
    """Partition keys (`YYYY-MM-DD`) to sorted dates."""
    return sorted(date.fromisoformat(key) for key in keys)


def date_span(days: Sequence[date]) -> tuple[date, date]:
    """First and last day of a non-empty sequence of days (inclusive)."""
    if not days:
        msg = "an empty set of partitions has no span"
        raise ValueError(msg)
    return min(days), max(days)


def days_between(start: date, end: date) -> list[date]:
    """Every day from start to end, both inclusive."""
    return [start + timedelta(days=offset) for offset in range((end - start).days + 1)]


def consecutive_spans(days: Sequence[date]) -> list[tuple[date, date]]:
    """Group days into runs of consecutive days: (first, last) of each, in order."""
    spans: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if spans and day - spans[-1][1] == timedelta(days=1):
            spans[-1] = (spans[-1][0], day)
        else:
            spans.append((day, day))
    return spans


SHOWN_DAYS = 5  # days a message lists before it stops


def shown_days(days: Sequence[date]) -> str:
    """The first `SHOWN_DAYS` days for a message: `2013-01-01, 2013-01-02`."""
    return ", ".join(day.isoformat() for day in days[:SHOWN_DAYS])


def missing_partitions_message(table: str, missing: Sequence[date]) -> str:
    """What to say when a run needs partitions of `table` that were never written."""
    more = ", ..." if len(missing) > SHOWN_DAYS else ""
    return (
        f"{table} has no data for {len(missing)} partition(s) this run needs "
        f"({shown_days(missing)}{more}); materialize them first"
    )
