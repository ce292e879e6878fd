"""Warnings that watch assets across materializations: schema changes and freshness."""

import warnings
from collections.abc import Sequence
from datetime import timedelta

import dagster as dg

from lakehouse.declarations import SourceSpec

# A daily table is overdue when no partition has landed for a day and a half (warn) or two
# days (fail): one missed delivery warns, two fail.
DAILY_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=48), warn_window=timedelta(hours=36)
)


def freshness_policy(spec: SourceSpec) -> dg.FreshnessPolicy | None:
    """The freshness a source declares for its staged table (none if it declares none)."""
    if spec.freshness is None:
        return None
    return dg.FreshnessPolicy.time_window(
        fail_window=timedelta(hours=spec.freshness.fail_after_hours),
        warn_window=timedelta(hours=spec.freshness.warn_after_hours),
    )


def schema_change_checks(
    assets: Sequence[dg.AssetsDefinition],
) -> Sequence[dg.AssetChecksDefinition]:
    """A warning per asset when the column schema of its latest materialization differs from
    the one before (added, removed or retyped columns), named in the check's description.
    """
    # Dagster 1.13 labels this factory beta; it is the tool for the job, so say so only once here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return dg.build_column_schema_change_checks(assets=assets)
