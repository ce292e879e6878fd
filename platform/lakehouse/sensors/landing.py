"""Landing sensors: a run for the partitions of every new or changed delivery."""

import dagster as dg

from lakehouse.landing import content_hash, list_landing_files
from lakehouse.partitions import DAILY
from lakehouse.resources.landing import LandingZone
from lakehouse.resources.parquet_io import Lake, ingested_content_hash, partition_file
from lakehouse.sensors.planning import FileStat, LandingCursor, PlannedRun, plan_landing_runs
from lakehouse.sources import Source


def run_request(run: PlannedRun) -> dg.RunRequest:
    """One day is a partition run; consecutive days are one single-run backfill of the range."""
    if run.start == run.end:
        return dg.RunRequest(run_key=run.run_key, partition_key=run.start.isoformat())
    return dg.RunRequest(
        run_key=run.run_key,
        tags={
            "dagster/asset_partition_range_start": run.start.isoformat(),
            "dagster/asset_partition_range_end": run.end.isoformat(),
        },
    )


def make_landing_sensor(source: Source, target: dg.AssetSelection) -> dg.SensorDefinition:
    """A sensor that requests `target` for the partitions of new deliveries of `source`."""

    @dg.sensor(
        name=f"{source.name}_landing",
        description=f"Starts a run for each new or changed file in landing/{source.name}/.",
        target=target,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def _sensor(
        context: dg.SensorEvaluationContext, landing: LandingZone, lake: Lake
    ) -> dg.SensorResult:
        folder = landing.path / source.name
        found = list_landing_files(landing.path, source.name)
        keys = set(DAILY.get_partition_keys())
        outside = [f.path.name for f in found.files if f.day.isoformat() not in keys]
        for name in found.unrecognized + outside:
            context.log.warning(
                f"ignoring {source.name}/{name}: not named as a day of the partition range "
                f"(YYYY-MM-DD.csv, {DAILY.start:%Y-%m-%d} to {DAILY.end:%Y-%m-%d} exclusive)"
            )
        listing = [
            FileStat(f.path.name, f.day, stat.st_size, stat.st_mtime_ns)
            for f in found.files
            if f.day.isoformat() in keys and (stat := f.path.stat())
        ]
        cursor = LandingCursor.from_json(context.cursor)
        raw_table = lake.table_dir(dg.AssetKey(["raw", source.name]))
        runs, cursor = plan_landing_runs(
            source.name,
            listing,
            cursor,
            lambda name: content_hash((folder / name).read_bytes()),
            lambda stat: ingested_content_hash(partition_file(raw_table, stat.day)),
        )
        for run in runs:
            context.log.info(
                f"{run.run_key}: {len(run.files)} new file(s) {', '.join(run.files[:3])}"
            )
        return dg.SensorResult(run_requests=[run_request(r) for r in runs], cursor=cursor.to_json())

    return _sensor
