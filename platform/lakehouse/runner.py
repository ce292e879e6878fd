"""Materialize the whole graph for a range of days in one in-process run."""

from collections.abc import Mapping
from datetime import date

import dagster as dg

from lakehouse.partitions import DAILY

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def range_tags(start: date, end: date) -> dict[str, str]:
    """Tags that make one run cover every partition from start to end (a single-run backfill)."""
    return {RANGE_START: start.isoformat(), RANGE_END: end.isoformat()}


def materialize_range(
    defs: dg.Definitions,
    start: date,
    end: date,
    instance: dg.DagsterInstance,
    resources: Mapping[str, object] | None = None,
    selection: dg.AssetSelection | None = None,
    log_level: str = "INFO",
) -> dg.ExecuteInProcessResult:
    """Run every asset (and its checks) of `defs` once over [start, end].

    Unpartitioned reference assets run in the same run, before what depends on them.
    """
    keys = DAILY.get_partition_keys()
    if not keys or not (keys[0] <= start.isoformat() <= end.isoformat() <= keys[-1]):
        span = f"{keys[0]}..{keys[-1]}" if keys else "empty"
        msg = f"{start}..{end} is outside the partition range ({span}); set LAKEHOUSE_START/END"
        raise ValueError(msg)
    assets = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]
    checks = list(defs.asset_checks or [])
    return dg.materialize(
        [*assets, *checks],
        instance=instance,
        resources=resources if resources is not None else dict(defs.resources or {}),
        tags=range_tags(start, end),
        selection=selection,
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        raise_on_error=False,
    )
