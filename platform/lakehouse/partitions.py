"""The daily partitions definition and the conversions between partition keys and dates."""

import warnings
from collections.abc import Iterable, Sequence
from datetime import date, timedelta

import dagster as dg

from lakehouse.settings import Settings

# Single-run backfills are the design (one scan per range); Dagster 1.13 still labels the
# parameter beta and would repeat that notice on every code-location load.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)


def daily_partitions(settings: Settings) -> dg.DailyPartitionsDefinition:
    """One partition per calendar day of the configured range (both ends inclusive)."""
    return dg.DailyPartitionsDefinition(
        start_date=settings.partition_start.isoformat(),
        # Dagster's end_date is exclusive; ours is inclusive.
        end_date=(settings.partition_end + timedelta(days=1)).isoformat(),
    )


DAILY = daily_partitions(Settings.from_env())


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
