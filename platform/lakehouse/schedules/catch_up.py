"""A daily safety net: ingest any delivery the landing sensors did not (daemon down, cursor
reset, a file restored from backup with an old mtime).
"""

import time

import dagster as dg

from lakehouse.dates import consecutive_spans
from lakehouse.declarations import SourceSpec
from lakehouse.landing import incomplete
from lakehouse.partitions import daily_partitions
from lakehouse.resources.lake_io import Lake
from lakehouse.resources.landing import LandingZone
from lakehouse.runner import range_tags
from lakehouse.sensors.landing import inspect_delivery
from lakehouse.sensors.planning import missed_days
from lakehouse.sources import landing_source


def catch_up_requests(
    specs: list[SourceSpec], landing: LandingZone, lake: Lake, tick: str, now_ns: int
) -> list[dg.RunRequest]:
    """One raw run per daily source and span of consecutive days whose readable delivery
    differs from what the raw layer holds; automation carries them on downstream.
    """
    requests = []
    for spec in specs:
        source = landing_source(spec)
        keys = set(daily_partitions(spec).get_partition_keys())
        raw = dg.AssetKey(["raw", source.name])
        deliveries = {}
        for file in landing.files(source):
            unfinished = incomplete([file], now_ns=now_ns, quiet_ns=landing.quiet_ns)
            if file.day.isoformat() not in keys or unfinished is not None:
                continue
            found = inspect_delivery(source, file.path)
            if found.problem is None:  # unreadable files are the sensor's to reject
                deliveries[file.day] = found
        held = lake.held_hashes(raw, list(deliveries))
        days = missed_days(deliveries, held.get)
        requests += [
            dg.RunRequest(
                run_key=f"catch-up:{source.name}:{start}..{end}:{tick}",
                asset_selection=[raw],
                tags=range_tags(start, end),
            )
            for start, end in consecutive_spans(days)
        ]
    return requests


def make_catch_up_schedule(spec: SourceSpec) -> dg.ScheduleDefinition:
    """Every morning, request the raw runs for a daily source's deliveries not yet ingested."""

    @dg.schedule(
        name=f"{spec.name}_catch_up",
        cron_schedule="0 6 * * *",
        execution_timezone="America/New_York",
        target=[dg.AssetKey(["raw", spec.name])],
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Safety net: at 06:00 New York time, ingest every {spec.name} delivery "
        "whose content the raw layer does not hold yet.",
    )
    def _schedule(
        context: dg.ScheduleEvaluationContext, landing: LandingZone, lake: Lake
    ) -> list[dg.RunRequest] | dg.SkipReason:
        tick = context.scheduled_execution_time.date().isoformat()
        requests = catch_up_requests([spec], landing, lake, tick, time.time_ns())
        return requests or dg.SkipReason("every delivery is ingested")

    return _schedule
