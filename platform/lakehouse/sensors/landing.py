"""Landing sensors: a run of the raw asset for every complete, new or changed delivery."""

import functools
import time
from collections.abc import Sequence
from pathlib import Path

import dagster as dg

from lakehouse.assets.automation import EVERY_DAEMON_LOOP_SECONDS
from lakehouse.dates import days_between
from lakehouse.declarations import SourceSpec
from lakehouse.landing import (
    LandingFileError,
    content_hash,
    list_landing_files,
    marker_mtime_ns,
    parse_rows,
    read_whole,
)
from lakehouse.partitions import daily_partitions
from lakehouse.renames import RENAMES
from lakehouse.resources.lake_io import Lake
from lakehouse.resources.landing import LandingZone
from lakehouse.runner import RANGE_END, RANGE_START
from lakehouse.sensors.chain import (
    as_of_roots,
    built_for,
    carried_tags,
    dated_chain,
    downstream_chain,
    graph_of,
)
from lakehouse.sensors.partners import UNFINISHED, Pairing, raw_key, same_calendar
from lakehouse.sensors.planning import (
    FileStat,
    Inspection,
    LandingCursor,
    Plan,
    PlannedRun,
    plan_landing_runs,
)
from lakehouse.sources import Source, landing_source

# Daily deliveries are what a user waits on, looked at on every loop of the daemon; reference
# snapshots and monthly files change rarely and are looked at less often.
REFERENCE_INTERVAL_SECONDS = 30
REDELIVER = "deliver a fixed file under the same name: a changed file is looked at again"


def run_request(
    context: dg.SensorEvaluationContext,
    run: PlannedRun,
    raw: dg.AssetKey,
    taken_along: Sequence[dg.AssetKey] = (),
) -> dg.RunRequest:
    """One day is a partition run; consecutive days are one single-run backfill of the range.
    Either carries the days on to every table downstream it can build (`downstream_chain`),
    with the raw tables of the partners whose deliveries of the same days it takes along.
    """
    days = [d.isoformat() for d in days_between(run.start, run.end)]
    chain = carried(context, [raw, *taken_along], days)
    return span_request(context, run.run_key, days[0], days[-1], chain)


def span_request(
    context: dg.SensorEvaluationContext,
    run_key: str,
    first: str,
    last: str,
    selection: Sequence[dg.AssetKey],
) -> dg.RunRequest:
    """A run of partition `first`, or a single-run backfill of `first`..`last` (a range of a
    multi-partitioned asset is the rectangle between the two keys); tagged if it carries
    everything downstream (`carried_tags`).
    """
    tags = carried_tags(graph_of(context), selection)
    if first == last:
        return dg.RunRequest(
            run_key=run_key, partition_key=first, asset_selection=selection, tags=tags
        )
    tags.update({RANGE_START: first, RANGE_END: last})
    return dg.RunRequest(run_key=run_key, tags=tags, asset_selection=selection)


def snapshot_request(
    context: dg.SensorEvaluationContext, plan: Plan, raw: dg.AssetKey
) -> list[dg.RunRequest]:
    """A reference table is rebuilt from all its snapshots: one run for every change, with the
    unpartitioned tables built from it. A partitioned table that reads them as of each day (the
    fact and the plane dimension) is rebuilt in the same run from the earliest new snapshot's
    day on (`dated_chain`); automation rebuilds every day of the others.
    """
    if not plan.runs:
        return []
    run_key = "+".join(r.run_key for r in plan.runs)
    chain = carried(context, [raw], [])
    graph = graph_of(context)
    unpartitioned = dg.RunRequest(
        run_key=run_key, asset_selection=chain, tags=carried_tags(graph, chain)
    )
    if graph is None:  # a test's bare context: the raw assets alone
        return [unpartitioned]
    since = min(r.start for r in plan.runs)
    dated, days = dated_chain(graph, context.instance, chain, since)
    if not dated:
        return [unpartitioned]
    chosen = {*chain, *dated}
    selection = [key for key in graph.toposorted_asset_keys if key in chosen]
    return [span_request(context, run_key, days[0], days[-1], selection)]


def building_as_of(context: dg.SensorEvaluationContext, raw: dg.AssetKey) -> list[dg.AssetKey]:
    """The tables reading a snapshot source as of each day (`as_of_roots`) that a run under way
    builds: none in a test's bare context.
    """
    graph = graph_of(context)
    if graph is None:
        return []
    roots = set(as_of_roots(graph, carried(context, [raw], [])))
    if not roots:
        return []
    runs = context.instance.get_runs(dg.RunsFilter(statuses=UNFINISHED))
    built = roots & {key for run in runs for key in run.asset_selection or ()}
    return sorted(built, key=lambda key: key.to_user_string())


def carried(
    context: dg.SensorEvaluationContext, raws: Sequence[dg.AssetKey], partition_keys: list[str]
) -> list[dg.AssetKey]:
    """The raw assets and what their run builds after them for these partitions."""
    graph = graph_of(context)
    if graph is None:  # a test's bare context: the raw assets alone
        return list(raws)
    return downstream_chain(graph, raws, built_for(graph, context.instance, partition_keys))


def outside_range(spec: SourceSpec) -> str:
    """Why a day that is not a partition of the source cannot be ingested."""
    partitions = spec.partitions
    span = f"{partitions.start}..{partitions.end or ''}"
    return (
        f"day outside the partitions of {spec.name} ({span}); widen `partitions` in its "
        "declaration or remove the file"
    )


def inspect_delivery(source: Source, path: Path) -> Inspection:
    """Hash a delivery and judge it as the raw layer will: a file-level problem (empty, wrong
    header, changing while it is read) makes it unreadable; bad lines inside it are left to
    the quarantine.
    """
    name = f"{source.name}/{path.name}"
    try:
        data = read_whole(path, name)
    except LandingFileError as error:
        # Rejected until it changes again: the reason says how to deliver it whole.
        return Inspection(content_hash(b""), str(error))
    try:
        rows = parse_rows(data, source, source_file=name)
    except LandingFileError as error:
        return Inspection(content_hash(data), str(error))
    return Inspection(content_hash(data), rows=rows.height)


def make_landing_sensor(spec: SourceSpec) -> dg.SensorDefinition:
    """A sensor that requests the raw asset of a declared source for its complete new
    deliveries, with what the same run can build downstream; automation builds the rest.
    """
    source = landing_source(spec)
    raw = raw_key(source.name)
    daily = spec.daily

    @dg.sensor(
        name=f"{source.name}_landing",
        description=f"Starts a run of raw/{source.name}, and of what it can build downstream, for "
        f"each complete new or changed file in landing/{source.name}/; unreadable or misnamed "
        "files are rejected with the reason.",
        # What a landing run may carry the days on to: the raw asset and what is downstream of
        # it. (An asset selection, not a target: a target is one job over the selection, which
        # cannot span the calendars of a source and its monthly marts.)
        asset_selection=dg.AssetSelection.assets(
            raw, *(raw_key(name) for name in same_calendar(source.name))
        ).downstream(),
        minimum_interval_seconds=EVERY_DAEMON_LOOP_SECONDS if daily else REFERENCE_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def _sensor(
        context: dg.SensorEvaluationContext, landing: LandingZone, lake: Lake
    ) -> dg.SensorResult:
        folder = landing.path / source.name
        RENAMES.watch(folder)  # a delivery renamed in from now on is marked complete at once
        found = list_landing_files(landing.path, source.name)
        listing = [
            FileStat(
                f.path.name,
                f.day,
                stat.st_size,
                stat.st_mtime_ns,
                marker_mtime_ns(f.path),
                stat.st_ctime_ns,
            )
            for f in found.files
            if (stat := f.path.stat())
        ] + [
            FileStat(name, None, stat.st_size, stat.st_mtime_ns, None, stat.st_ctime_ns)
            for name in found.unrecognized
            if (stat := (folder / name).stat())
        ]
        keys = set(daily_partitions(spec).get_partition_keys()) if daily else set()

        # Read the raw table only on a tick that meets a file it has not seen, and then once.
        days = [stat.day for stat in listing if stat.day is not None]
        held_days = functools.cache(lambda: lake.held_hashes(raw, days))
        snapshots = functools.cache(lambda: lake.file_hashes(raw))
        now_ns = time.time_ns()
        pairing = Pairing.for_tick(
            context, source, listing, landing, lake, inspect_delivery, now_ns
        )
        building = functools.cache(lambda: building_as_of(context, raw))
        plan = plan_landing_runs(
            source.name,
            listing,
            LandingCursor.from_json(context.cursor),
            lambda name: inspect_delivery(source, folder / name),
            accepts=lambda day: (
                None if not daily or day.isoformat() in keys else outside_range(spec)
            ),
            ingested_hash=lambda stat: (
                held_days().get(stat.day)
                if daily and stat.day is not None
                else snapshots().get(f"{source.name}/{stat.name}")
            ),
            # A snapshot waits for a run under way that builds days reading it as of their date
            # (its run then rebuilds those days from the snapshot's on, `dated_chain`).
            defer=pairing.defers if daily else lambda _: bool(building()),
            now_ns=now_ns,
            quiet_ns=landing.quiet_ns,
        )
        for name, reason in plan.rejected.items():
            context.log.warning(f"rejected {source.name}/{name}: {reason} ({REDELIVER})")
        if plan.waiting:
            context.log.info(
                f"waiting for {len(plan.waiting)} file(s) that may still be being written: "
                f"{', '.join(plan.waiting[:3])} (taken once marked complete or quiet for "
                f"{landing.quiet_seconds:g} s)"
            )
        if plan.deferred and daily:
            context.log.info(
                f"left {', '.join(plan.deferred[:3])} to the run of a partner source that "
                "delivered the same day (taken alone if it has not after a few loops)"
            )
        elif plan.deferred:
            context.log.info(
                f"{', '.join(plan.deferred[:3])} waits for the run under way that builds "
                f"{', '.join(k.to_user_string() for k in building())}"
            )
        requests = []
        for run in plan.runs:
            along = pairing.taken_along(run) if daily else []
            context.log.info(
                f"{run.run_key}: {len(run.files)} new file(s) {', '.join(run.files[:3])}"
                + (f", with {', '.join(k.to_user_string() for k in along)}" if along else "")
            )
            requests.append(run_request(context, run, raw, along))
        return dg.SensorResult(
            run_requests=requests if daily else snapshot_request(context, plan, raw),
            cursor=plan.cursor.to_json(),
            asset_events=[
                dg.AssetObservation(
                    asset_key=raw,
                    metadata={
                        "rejected_file": f"{source.name}/{name}",
                        "reason": reason,
                        "what_to_do": REDELIVER,
                    },
                )
                for name, reason in plan.rejected.items()
            ],
        )

    return _sensor
