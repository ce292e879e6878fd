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
        msg = f"{spec.name} is not partitioned by day"
        raise ValueError(msg)
    # Dagster's end_date is exclusive; ours is inclusive.
    end = (partitions.end + timedelta(days=1)).isoformat() if partitions.end else None
    return _daily(partitions.start.isoformat(), end)


PERIOD = "period"
"""The time dimension's name in a keyed source's partitions (`period` x `<keys.name>`)."""


@functools.cache
def _monthly(start: str, end: str | None) -> dg.MonthlyPartitionsDefinition:
    return dg.MonthlyPartitionsDefinition(start_date=start, end_date=end)


def period_partitions(spec: SourceSpec) -> dg.TimeWindowPartitionsDefinition:
    """The time partitions of a daily or monthly source (its declared start and end).

    Raises:
        ValueError: the source is not partitioned by time.
    """
    partitions = spec.partitions
    if partitions.kind == "monthly" and partitions.start is not None:
        end = None
        if partitions.end is not None:
            month = partitions.end.replace(day=1)
            end = (month.replace(year=month.year + 1, month=1) if month.month == 12
                   else month.replace(month=month.month + 1)).isoformat()  # fmt: skip
        return _monthly(partitions.start.replace(day=1).isoformat(), end)
    return daily_partitions(spec)


def source_partitions(spec: SourceSpec) -> dg.PartitionsDefinition | None:
    """A declared source's partitions: its periods, times its keys if it has some; none for a
    snapshot source.
    """
    partitions = spec.partitions
    if partitions.kind == "snapshot":
        return None
    periods = period_partitions(spec)
    if partitions.keys is None:
        return periods
    keys = dg.StaticPartitionsDefinition(partitions.keys.values)
    return dg.MultiPartitionsDefinition({PERIOD: periods, partitions.keys.name: keys})


DAILY = daily_partitions(declared("flights"))
"""The days of the flights star schema (its fact and daily marts): the flights source's."""
