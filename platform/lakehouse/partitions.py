"""The daily partitions definition, declared once for every daily asset."""

import warnings
from datetime import timedelta

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
