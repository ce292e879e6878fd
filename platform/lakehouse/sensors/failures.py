"""A run-failure sensor: every failed run is recorded with its days and its error."""

from pathlib import Path

import dagster as dg
from pydantic import Field

from lakehouse.deploy.instance import mark_failed_partitions
from lakehouse.failures import RunFailure, record_failure
from lakehouse.runner import failed_partitions, run_failure


class FailureLog(dg.ConfigurableResource):
    """Where failed runs are recorded (JSON lines; `lakehouse failures` reads them)."""

    path: str = Field(description="The JSON-lines file of failed runs.")


def failure_of(context: dg.RunFailureSensorContext) -> RunFailure:
    """What to record about the failed run in `context`."""
    return run_failure(
        context.dagster_run,
        context.get_step_failure_events(),
        fallback=context.failure_event.message or "",
    )


@dg.run_failure_sensor(
    name="run_failures",
    description="Records every failed run, its days and its error (see `lakehouse failures`); "
    "the place to add a notification.",
    default_status=dg.DefaultSensorStatus.RUNNING,
    monitor_all_code_locations=False,
)
def record_run_failures(context: dg.RunFailureSensorContext, failure_log: FailureLog) -> None:
    """Record the failed run once and say so in the sensor's log; the partitions its failure
    names as bad show as failed in the UI.
    """
    failure = failure_of(context)
    if record_failure(Path(failure_log.path), failure):
        context.log.error(
            f"run {failure.run_id} failed ({failure.partitions or 'no partitions'}): "
            f"{failure.message}"
        )
        bad = failed_partitions(context.get_step_failure_events())
        if bad:
            mark_failed_partitions(context.instance, context.dagster_run, bad)
