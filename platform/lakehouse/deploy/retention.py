"""Run retention: old runs nothing reads any more are deleted with their events.

Dagster keeps every run and its events for ever, and deleting a run deletes its events, the
asset materializations among them: delete the wrong one and a partition the lake holds shows
as missing (automation then builds it again). A run is kept while any record of it is what
the UI and automation read as current: the latest materialization or observation of some
asset partition, a partition's latest attempt without a materialization after it (in
progress, or failed: the failure is what the partition shows), or the latest verdict of some
check. Every other finished run older than the retention is history of history: its
materializations were replaced, its failures made good.
"""

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dagster as dg
from dagster._core.event_api import EventRecordsResult
from dagster._core.storage.dagster_run import FINISHED_STATUSES

IDS_PER_QUERY = 500  # storage ids looked up at once (well under SQLite's parameter limit)


@dataclass(frozen=True)
class Pruned:
    """What a pass of the retention did.

    Attributes:
        deleted: The ids of the runs deleted (or that would be, for a dry run), oldest first.
        kept: Finished runs older than the retention kept because something current is theirs.
    """

    deleted: list[str]
    kept: int


def _chunks(values: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


Fetch = Callable[[dg.AssetRecordsFilter | dg.AssetKey, int], EventRecordsResult]


def _runs_of(fetch: Fetch, key: dg.AssetKey, ids: Iterable[int]) -> set[str]:
    """The runs that wrote the events of `key` with these storage ids."""
    runs: set[str] = set()
    for chunk in _chunks(sorted(ids), IDS_PER_QUERY):
        found = fetch(dg.AssetRecordsFilter(asset_key=key, storage_ids=list(chunk)), len(chunk))
        runs.update(record.run_id for record in found.records)
    return runs


def current_runs(
    instance: dg.DagsterInstance,
    asset_keys: Iterable[dg.AssetKey],
    check_keys: Iterable[dg.AssetCheckKey],
) -> set[str]:
    """The runs holding a record the UI or automation reads as current (the module's list)."""
    storage = instance.event_log_storage
    kinds: list[tuple[dg.DagsterEventType, Fetch]] = [
        (dg.DagsterEventType.ASSET_MATERIALIZATION, instance.fetch_materializations),
        (dg.DagsterEventType.ASSET_OBSERVATION, instance.fetch_observations),
    ]
    runs: set[str] = set()
    for key in asset_keys:
        latest: dict[dg.DagsterEventType, list[dg.EventLogRecord]] = {}
        for kind, fetch in kinds:
            by_partition = storage.get_latest_storage_id_by_partition(key, kind)
            runs |= _runs_of(fetch, key, by_partition.values())
            # An unpartitioned asset's latest event (the query above covers partitions only).
            latest[kind] = list(fetch(key, 1).records)
            runs.update(record.run_id for record in latest[kind] if record.partition_key is None)
        attempts = (
            storage.get_latest_asset_partition_materialization_attempts_without_materializations(
                key
            )
        )
        runs.update(run_id for run_id, _ in attempts.values())
        # The latest attempt of an unpartitioned asset, if nothing materialized it since.
        planned = storage.get_latest_planned_materialization_info(key)
        if planned is not None and planned.run_id not in runs:
            materialized = latest[dg.DagsterEventType.ASSET_MATERIALIZATION]
            if not materialized or materialized[0].storage_id < planned.storage_id:
                runs.add(planned.run_id)
    latest_checks = storage.get_latest_asset_check_execution_by_key(list(check_keys))
    runs.update(record.run_id for record in latest_checks.values())
    return runs


def prune_runs(
    instance: dg.DagsterInstance,
    check_keys: Iterable[dg.AssetCheckKey],
    older_than: timedelta,
    limit: int | None = None,
    *,
    dry_run: bool = False,
) -> Pruned:
    """Delete the finished runs last updated more than `older_than` ago that hold nothing
    current (`current_runs`, over every asset the instance has events of and `check_keys`),
    oldest first, at most `limit` of them.
    """
    cutoff = datetime.now(UTC) - older_than
    old = instance.get_run_records(
        filters=dg.RunsFilter(statuses=list(FINISHED_STATUSES), updated_before=cutoff),
        order_by="update_timestamp",
        ascending=True,
    )
    if not old:
        return Pruned(deleted=[], kept=0)
    keep = current_runs(instance, instance.get_asset_keys(), check_keys)
    expired = [r.dagster_run.run_id for r in old if r.dagster_run.run_id not in keep]
    chosen = expired[:limit] if limit is not None else expired
    if not dry_run:
        for run_id in chosen:
            instance.delete_run(run_id)
    return Pruned(deleted=chosen, kept=len(old) - len(expired))
