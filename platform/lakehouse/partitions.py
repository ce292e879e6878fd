"""Partitions definitions, built once per declared source from its declaration."""

import functools
import warnings
from datetime import timedelta

import dagster as dg

from lakehouse.declarations import SourceSpec, declared

# Single-run backfills are the design (one scan per range); Dagster 1.13 still labels the
# parameter beta and would repeat that notice on every code-location load.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)


@functools.cache
def _daily(start: str, end: str | None) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(start_date=start, end_date=end)


def daily_partitions(spec: SourceSpec) -> dg.DailyPartitionsDefinition:
    """One partition per calendar day of a daily source's declared range (both ends
    inclusive; no end: up to today).

    Raises:
        ValueError: the source is not daily.
    """
    partitions = spec.partitions
    if partitions.kind != "daily" or partitions.start is None:
        msg = f"{spec.name} is not a daily source"
        raise ValueError(msg)
    # Dagster's end_date is exclusive; ours is inclusive.
    end = (partitions.end + timedelta(days=1)).isoformat() if partitions.end else None
    return _daily(partitions.start.isoformat(), end)


DAILY = daily_partitions(declared("flights"))
"""The days of the flights star schema (its fact and daily marts): the flights source's."""
