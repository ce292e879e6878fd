"""A run-failure sensor: every failed run is recorded with its days and its error."""

import time
from pathlib import Path

import dagster as dg
from pydantic import Field

from lakehouse.failures import RunFailure, record_failure
from lakehouse.runner import RANGE_END, RANGE_START


class FailureLog(dg.ConfigurableResource):
    """Where failed runs are recorded (JSON lines; `lakehouse failures` reads them)."""

    path: str = Field(description="The JSON-lines file of failed runs.")


def failure_of(context: dg.RunFailureSensorContext) -> RunFailure:
    """What to record about the failed run in `context`."""
    run = context.dagster_run
    tags = run.tags
    if RANGE_START in tags:
        partitions = f"{tags[RANGE_START]}..{tags[RANGE_END]}"
    else:
        partitions = tags.get("dagster/partition", "")
    steps = context.get_step_failure_events()
    errors = [e.step_failure_data.error for e in steps if e.step_failure_data is not None]
    first = next((e for e in errors if e is not None), None)
    cause = first.cause if first is not None and first.cause is not None else first
    message = cause.message.strip() if cause is not None else context.failure_event.message or ""
    return RunFailure(
        run_id=run.run_id,
        job=run.job_name,
        failed_at=time.time(),
        partitions=partitions,
        failed_steps=[e.step_key or "?" for e in steps],
        message=message,
    )


@dg.run_failure_sensor(
    name="run_failures",
    description="Records every failed run, its days and its error (see `lakehouse failures`); "
    "the place to add a notification.",
    default_status=dg.DefaultSensorStatus.RUNNING,
    monitor_all_code_locations=False,
)
def record_run_failures(context: dg.RunFailureSensorContext, failure_log: FailureLog) -> None:
    """Record the failed run once and say so in the sensor's log."""
    failure = failure_of(context)
    if record_failure(Path(failure_log.path), failure):
        context.log.error(
            f"run {failure.run_id} failed ({failure.partitions or 'no partitions'}): "
            f"{failure.message}"
        )
