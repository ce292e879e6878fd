"""Run retention under the daemon: once an hour, the old runs nothing current is theirs are
deleted with their events (`deploy/retention.py`), as `dagster.yaml`'s retention purges old
ticks.
"""

from datetime import timedelta

import dagster as dg

from lakehouse.deploy.retention import prune_runs
from lakehouse.sensors.chain import graph_of

RETENTION_INTERVAL_SECONDS = 3600
RUNS_PER_TICK = 200  # a tick's deletions are bounded: a first pass over a long history spreads


def run_retention_sensor(days: int) -> dg.SensorDefinition:
    """The sensor deleting finished runs older than `days` that hold nothing current."""

    @dg.sensor(
        name="run_retention",
        description=f"Deletes finished runs older than {days} days, with their events, when "
        "nothing current is theirs: no partition's latest materialization or failure, no "
        "check's latest verdict (LAKEHOUSE_RUN_RETENTION_DAYS).",
        minimum_interval_seconds=RETENTION_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        graph = graph_of(context)
        checks = graph.asset_check_keys if graph is not None else []
        pruned = prune_runs(context.instance, checks, timedelta(days=days), RUNS_PER_TICK)
        return dg.SkipReason(
            f"deleted {len(pruned.deleted)} run(s) older than {days} days; kept {pruned.kept} "
            "old run(s) holding a current materialization, failure or check verdict"
        )

    return _sensor
