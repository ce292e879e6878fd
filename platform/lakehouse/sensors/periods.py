"""The landing sensor of a monthly or keyed source: runs of its raw asset for its complete, new
or changed files, over as few rectangular ranges of partitions (periods times keys) as they
fill.
"""

import functools
import hashlib
import time
from collections.abc import Mapping

import dagster as dg

from lakehouse.declarations import SourceSpec
from lakehouse.landing import marker_mtime_ns, may_be_delivery
from lakehouse.partitions import PERIOD
from lakehouse.periods import Block, FilePartition, blocks, expected_names, partition_of, refusal
from lakehouse.renames import RENAMES
from lakehouse.resources.lake_io import Lake
from lakehouse.resources.landing import LandingZone
from lakehouse.sensors.landing import (
    REDELIVER,
    REFERENCE_INTERVAL_SECONDS,
    carried,
    inspect_delivery,
    span_request,
)
from lakehouse.sensors.planning import FileStat, LandingCursor, plan_landing_runs
from lakehouse.sources import landing_source


def partition_key(spec: SourceSpec, partition: FilePartition) -> str:
    """The Dagster partition key of a file's partition."""
    period = partition.period.isoformat()
    keys = spec.partitions.keys
    if keys is None or partition.key is None:
        return period
    return dg.MultiPartitionKey({PERIOD: period, keys.name: partition.key})


def block_request(
    context: dg.SensorEvaluationContext,
    spec: SourceSpec,
    block: Block,
    raw: dg.AssetKey,
    files: Mapping[str, FilePartition],
    arrivals: Mapping[str, str],
) -> dg.RunRequest:
    """One run of a block's partitions (a partition run for one file, else a single-run
    backfill of the range), carried downstream. Its key names the files' deliveries
    (`arrivals`: each file's planned run key), so the same delivery never starts two runs.
    """
    digest = hashlib.sha256(
        "".join(f"{arrivals[name]}:{name}" for name in block.files).encode()
    ).hexdigest()[:16]
    first, last = partition_key(spec, block.first), partition_key(spec, block.last)
    run_key = f"{spec.name}:{first}..{last}:{digest}"
    chain = carried(context, [raw], [partition_key(spec, files[name]) for name in block.files])
    return span_request(context, run_key, str(first), str(last), chain)


def make_period_sensor(spec: SourceSpec) -> dg.SensorDefinition:
    """A sensor that requests the raw asset of a monthly or keyed source for its complete new
    deliveries (a few ranges for many files), with what it can build downstream; automation
    the rest.
    """
    source = landing_source(spec)
    raw = dg.AssetKey(["raw", spec.name])

    @dg.sensor(
        name=f"{spec.name}_landing",
        description=f"Starts a run of raw/{spec.name}, and of what it can build downstream, for "
        f"complete new or changed files (a few ranges for many) in "
        f"landing/{spec.name}/ (named {expected_names(spec)}); other files are rejected with the "
        "reason.",
        asset_selection=dg.AssetSelection.assets(raw).downstream(),
        minimum_interval_seconds=REFERENCE_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def _sensor(
        context: dg.SensorEvaluationContext, landing: LandingZone, lake: Lake
    ) -> dg.SensorResult:
        folder = landing.path / spec.name
        RENAMES.watch(folder)  # a delivery renamed in from now on is marked complete at once
        entries = sorted(folder.iterdir()) if folder.is_dir() else []
        partitions: dict[str, FilePartition] = {}
        refused: dict[str, str] = {}
        listing = []
        for entry in entries:
            if not may_be_delivery(entry.name) or not entry.is_file():
                continue
            stat = entry.stat()
            found = partition_of(spec, entry.name)
            why = refusal(spec, found) if found is not None else None
            if found is not None and why is None:
                partitions[entry.name] = found
            elif why is not None:
                refused[entry.name] = why
            day = found.period if found is not None and why is None else None
            marker = marker_mtime_ns(entry)
            listing.append(
                FileStat(entry.name, day, stat.st_size, stat.st_mtime_ns, marker, stat.st_ctime_ns)
            )
        # What the raw table holds, read once and only on a tick that meets a file it has not
        # seen: files `make run` ingested before the sensor first looked start no run.
        held = functools.cache(lambda: lake.file_hashes(raw))
        plan = plan_landing_runs(
            spec.name,
            listing,
            LandingCursor.from_json(context.cursor),
            lambda name: inspect_delivery(source, folder / name),
            ingested_hash=lambda stat: held().get(f"{spec.name}/{stat.name}"),
            now_ns=time.time_ns(),
            quiet_ns=landing.quiet_ns,
        )
        rejected = {name: refused.get(name, reason) for name, reason in plan.rejected.items()}
        for name, reason in rejected.items():
            context.log.warning(f"rejected {spec.name}/{name}: {reason} ({REDELIVER})")
        # Files new on this tick, in a few rectangular ranges: a history landed at once (the
        # 560 stocks files) is a handful of runs, not one per file.
        arrivals = {name: run.run_key for run in plan.runs for name in run.files}
        requests = [
            block_request(context, spec, block, raw, partitions, arrivals)
            for block in blocks(spec, {name: partitions[name] for name in arrivals})
        ]
        return dg.SensorResult(
            run_requests=requests,
            cursor=plan.cursor.to_json(),
            asset_events=[
                dg.AssetObservation(
                    asset_key=raw,
                    metadata={"rejected_file": f"{spec.name}/{name}", "reason": reason},
                )
                for name, reason in rejected.items()
            ],
        )

    return _sensor
