"""The local instance's event log: a range run's per-partition materializations are written in
one transaction per shard, and read back exactly as Dagster's stock SQLite storage records them.
"""

import os
import shutil
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as db
from dagster._core.storage.event_log.schema import AssetKeyTable, SqlEventLogStorageTable
from dagster._core.storage.event_log.sqlite import sqlite_event_log
from dagster._serdes import deserialize_value

from lakehouse.deploy.instance import INSTANCE_ENV, BatchingSqliteEventLogStorage

REPO = Path(__file__).resolve().parent.parent
DAYS = dg.DailyPartitionsDefinition(start_date="2013-01-01", end_date="2013-02-01")
RANGE = {
    "dagster/asset_partition_range_start": "2013-01-01",
    "dagster/asset_partition_range_end": "2013-01-31",
}


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def daily(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(
        metadata={"dagster/row_count": len(context.partition_keys)},
        data_version=dg.DataVersion("v1"),
    )


@dg.asset_check(asset=daily)
def daily_is_fine() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


@pytest.fixture(autouse=True)
def batched_events(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in INSTANCE_ENV.items():
        monkeypatch.setenv(name, value)


@contextmanager
def instance_with(storage_class: str, folder: Path) -> Iterator[dg.DagsterInstance]:
    module = "lakehouse.deploy.instance" if storage_class.startswith("Batching") else None
    overrides: dict[str, Any] = {
        "event_log_storage": {
            "module": module or "dagster._core.storage.event_log",
            "class": storage_class,
            "config": {"base_dir": str(folder / "history" / "runs")},
        }
    }
    folder.mkdir(parents=True, exist_ok=True)
    with dg.instance_for_test(temp_dir=str(folder), overrides=overrides) as instance:
        yield instance


@pytest.fixture
def batching(tmp_path: Path) -> Iterator[tuple[dg.DagsterInstance, BatchingSqliteEventLogStorage]]:
    """An instance on the batching storage, and that storage (to watch or break its writes)."""
    with instance_with("BatchingSqliteEventLogStorage", tmp_path) as instance:
        storage = instance.event_log_storage
        assert isinstance(storage, BatchingSqliteEventLogStorage)
        yield instance, storage


def recorded(instance: dg.DagsterInstance, runs: list[str]) -> dict[str, Any]:
    """What the UI and automation read back about the asset, runs named by their order."""
    key = daily.key
    records = instance.fetch_materializations(key, limit=1000).records
    run_of = {r.storage_id: runs.index(r.run_id) for r in records}
    latest = instance.get_latest_materialization_event(key)
    assert latest is not None
    assert latest.dagster_event is not None
    with instance.event_log_storage.index_connection() as conn:  # type: ignore[attr-defined]
        (row,) = conn.execute(
            AssetKeyTable.select().where(AssetKeyTable.c.asset_key == key.to_string())
        ).fetchall()
    last = deserialize_value(row.last_materialization, dg.EventLogRecord).event_log_entry
    assert last.dagster_event is not None
    checks = instance.event_log_storage.get_asset_check_execution_history(
        daily_is_fine.check_key, limit=1000
    )
    return {
        # The check's executions: what Dagster plans per partition, and the evaluation.
        "check_executions": sorted(
            (runs.index(c.run_id), c.status.value, c.partition or "", c.event is not None)
            for c in checks
        ),
        # Each run's own log (the run page), kept in the run's shard.
        "run_logs": [
            sorted(
                e.dagster_event.partition or ""
                for e in instance.all_logs(run, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
                if e.dagster_event
            )
            for run in runs
        ],
        # The asset's index entry: its latest materialization, as the UI's asset list shows it.
        "index_entry": (runs.index(row.last_run_id), last.dagster_event.partition),
        "indexed_tags": sorted(  # the tag index automation reads data versions from
            tuple(sorted((k, f"run {runs.index(v)}" if v in runs else v) for k, v in t.items()))
            for t in instance.get_event_tags_for_asset(key)
        ),
        "partitions": sorted(instance.get_materialized_partitions(key)),
        "events": sorted(
            (
                run_of[r.storage_id],
                r.partition_key,
                r.asset_materialization.metadata["dagster/row_count"].value,
                # An asset without a code version gets its run's id as one.
                tuple(
                    sorted((k, f"run {runs.index(v)}" if v in runs else v) for k, v in tags.items())
                ),
            )
            for r in records
            if r.asset_materialization is not None
            for tags in [r.event_log_entry.tags or {}]
        ),
        "latest": (runs.index(latest.run_id), latest.dagster_event.partition),
        "latest_by_partition": {
            partition: run_of[storage_id]
            for partition, storage_id in instance.get_latest_storage_id_by_partition(
                key, dg.DagsterEventType.ASSET_MATERIALIZATION
            ).items()
        },
    }


def materialize_twice(instance: dg.DagsterInstance) -> list[str]:
    """Two range runs (the second makes each partition's latest a later event); their ids."""
    runs = [dg.materialize([daily, daily_is_fine], instance=instance, tags=RANGE) for _ in range(2)]
    assert all(run.success for run in runs)
    return [run.run_id for run in runs]


def test_batched_writes_read_back_exactly_as_the_stock_storage(tmp_path: Path) -> None:
    with instance_with("SqliteEventLogStorage", tmp_path / "stock") as stock:
        expected = recorded(stock, materialize_twice(stock))
    with instance_with("BatchingSqliteEventLogStorage", tmp_path / "ours") as ours:
        assert isinstance(ours.event_log_storage, BatchingSqliteEventLogStorage)
        found = recorded(ours, materialize_twice(ours))
    assert len(expected["events"]) == 2 * 31
    assert set(expected["latest_by_partition"].values()) == {1}
    # Dagster plans an unpartitioned check once per partition of a range run, then records the
    # evaluation as one more row: the planned rows stay, shown as skipped. Ours keeps the one
    # row with the verdict of each run.
    statuses = [status for _, status, _, _ in expected.pop("check_executions")]
    assert statuses.count("PLANNED") == 2 * 31
    assert statuses.count("SUCCEEDED") == 2
    assert found.pop("check_executions") == [(0, "SUCCEEDED", "", True), (1, "SUCCEEDED", "", True)]
    assert ("dagster/data_version", "v1") in expected["events"][0][3]
    assert found == expected


def test_a_step_s_partitions_share_one_transaction_per_shard(
    batching: tuple[dg.DagsterInstance, BatchingSqliteEventLogStorage],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    instance, storage = batching
    batches: list[int] = []
    connects: list[str] = []
    original_batch, original_connect = storage.store_event_batch, storage._connect

    def store_event_batch(events: list[Any]) -> None:
        batches.append(len(events))
        before = len(connects)
        original_batch(events)
        batches.append(len(connects) - before)

    def connect(shard: str) -> Any:
        connects.append(shard)
        return original_connect(shard)

    monkeypatch.setattr(storage, "store_event_batch", store_event_batch)
    monkeypatch.setattr(storage, "_connect", connect)
    assert dg.materialize([daily, daily_is_fine], instance=instance, tags=RANGE).success
    # The run's planned events (the asset's and its check's), then the 31 materializations,
    # arrive as one batch each, written with one connection per shard.
    assert batches == [2, 2, 31, 2]


def test_the_local_instance_file_selects_it_under_dagster_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(REPO / "dagster.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, BatchingSqliteEventLogStorage)
        assert dg.materialize([daily], instance=instance, tags=RANGE).success
    # Dagster's own layout: an existing local instance keeps its history.
    assert (tmp_path / "history" / "runs" / "index.db").exists()
    monkeypatch.delenv("DAGSTER_HOME")
    with pytest.raises(dg.DagsterInvariantViolationError, match="needs base_dir or DAGSTER_HOME"):
        BatchingSqliteEventLogStorage.from_config_value(None, {})


def test_a_batch_that_fails_midway_is_written_once_by_the_fallback(
    batching: tuple[dg.DagsterInstance, BatchingSqliteEventLogStorage],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    instance, storage = batching
    original = storage._store_asset_event_tags
    failures = []

    def locked_once(conn: Any, events: list[Any], event_ids: list[int]) -> None:
        if not failures and len(events) > 1:  # the batch, not a single planned event
            failures.append("database is locked")
            raise RuntimeError(failures[0])
        original(conn, events, event_ids)

    monkeypatch.setattr(storage, "_store_asset_event_tags", locked_once)
    (run,) = materialize_twice(instance)[:1]
    assert failures
    # Dagster re-wrote the failed batch event by event; nothing is doubled or missing, in
    # the run's own log (its shard) or in the asset's history (the index).
    with storage.run_connection(run) as conn:
        logged = conn.execute(
            db.select(SqlEventLogStorageTable.c.partition).where(
                SqlEventLogStorageTable.c.dagster_event_type
                == dg.DagsterEventType.ASSET_MATERIALIZATION.value
            )
        ).scalars()
        assert sorted(logged) == DAYS.get_partition_keys()
    records = instance.fetch_materializations(daily.key, limit=1000).records
    assert len([r for r in records if r.run_id == run]) == len(DAYS.get_partition_keys())


def test_a_shard_s_connection_is_kept_and_commits_without_fsync(
    batching: tuple[dg.DagsterInstance, BatchingSqliteEventLogStorage],
) -> None:
    instance, storage = batching
    (run,) = materialize_twice(instance)[:1]
    connections = []
    for _ in range(2):
        with storage.run_connection(run) as conn:
            connections.append(conn.connection.dbapi_connection)
            journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
            synchronous = conn.exec_driver_sql("PRAGMA synchronous").scalar()
    assert connections[0] is connections[1]
    assert (journal, synchronous) == ("wal", 1)  # 1 = NORMAL: no fsync at each commit


def shard_layout(instance: dg.DagsterInstance, run: str) -> dict[str, Any]:
    """A run shard's tables and indexes as created, its migration stamp and journal mode."""
    with instance.event_log_storage.run_connection(run) as conn:  # type: ignore[attr-defined]
        return {
            "schema": sorted(
                conn.exec_driver_sql(
                    "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
                ).fetchall()
            ),
            "revision": conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar(),
            "journal": conn.exec_driver_sql("PRAGMA journal_mode").scalar(),
        }


def test_a_run_s_shard_is_created_as_dagster_creates_it_without_reading_the_migrations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with instance_with("SqliteEventLogStorage", tmp_path / "stock") as stock:
        expected = shard_layout(stock, materialize_twice(stock)[0])
    with instance_with("BatchingSqliteEventLogStorage", tmp_path / "ours") as ours:
        read_migrations: list[str] = []
        for name in ("check_alembic_revision", "stamp_alembic_rev"):
            monkeypatch.setattr(
                sqlite_event_log, name, lambda *_, name=name: read_migrations.append(name)
            )
        runs = materialize_twice(ours)
        assert read_migrations == []  # the scripts were read once, when the instance started
        assert [shard_layout(ours, run) for run in runs] == [expected, expected]


def test_a_wipe_leaves_no_connection_on_a_deleted_shard(
    batching: tuple[dg.DagsterInstance, BatchingSqliteEventLogStorage],
) -> None:
    instance, storage = batching
    materialize_twice(instance)

    def deleted_shards_open() -> list[str]:
        links = (os.readlink(fd) for fd in Path("/proc/self/fd").iterdir() if fd.is_symlink())
        return [link for link in links if link.startswith(storage._base_dir) and "deleted" in link]

    instance.wipe()  # deletes the run shards the kept connections point at
    assert deleted_shards_open() == []
    (run,) = materialize_twice(instance)[:1]
    logged = instance.all_logs(run, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    assert len(logged) == len(DAYS.get_partition_keys())


def test_a_watched_run_sees_each_new_event_while_its_connection_stays_open(
    batching: tuple[dg.DagsterInstance, BatchingSqliteEventLogStorage],
) -> None:
    # The UI follows a running run's log through this watch: each write must wake it, though
    # a kept connection commits to the shard's WAL file and leaves the shard file unchanged.
    instance, storage = batching
    (run_id,) = materialize_twice(instance)[:1]
    run = instance.get_run_by_id(run_id)
    assert run is not None
    seen: list[str] = []

    def follow(entry: Any, _: str) -> None:
        seen.append(entry.dagster_event.message if entry.dagster_event else entry.user_message)

    storage.watch(run_id, str(storage.get_records_for_run(run_id).cursor), follow)
    try:
        instance.report_engine_event("still going", run)
        deadline = time.monotonic() + 10
        while "still going" not in seen and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        storage.end_watch(run_id, follow)
    assert "still going" in seen


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def watched(context: dg.AssetExecutionContext) -> None:
    if context.partition_key_range.start != context.partition_key_range.end:
        raise dg.Failure("fails every range")  # after the run's planned events


def automation_sees(instance: dg.DagsterInstance, condition: dg.AutomationCondition) -> int:
    assets = dg.map_asset_specs(
        lambda spec: spec.replace_attributes(automation_condition=condition), [watched]
    )
    with warnings.catch_warnings():  # the tester passes a beta parameter itself
        warnings.simplefilter("ignore", dg.BetaWarning)
        result = dg.evaluate_automation_conditions(
            defs=dg.Definitions(assets=assets), instance=instance
        )
    [evaluated] = result.results
    return evaluated.true_subset.size


def test_a_range_run_s_partitions_are_in_progress_then_failed_as_partition_runs_are(
    batching: tuple[dg.DagsterInstance, BatchingSqliteEventLogStorage],
) -> None:
    instance, _ = batching
    job = dg.Definitions(
        assets=[watched], jobs=[dg.define_asset_job("ranges", selection=[watched])]
    ).resolve_job_def("ranges")
    # A range run as the daemon creates it: one planned event for its 31 partitions.
    queued = instance.create_run_for_job(job, asset_selection=frozenset([watched.key]), tags=RANGE)
    planned = instance.all_logs(
        queued.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED
    )
    assert [e.dagster_event.partition for e in planned if e.dagster_event] == [None]
    # While it is under way, automation does not start its partitions again beside it.
    assert automation_sees(instance, dg.AutomationCondition.in_progress()) == 31
    instance.report_run_canceled(queued)
    # A range run that fails: its partitions are failed, until a run builds them.
    failed = job.execute_in_process(instance=instance, tags=RANGE, raise_on_error=False)
    assert not failed.success
    assert automation_sees(instance, dg.AutomationCondition.in_progress()) == 0
    assert automation_sees(instance, dg.AutomationCondition.execution_failed()) == 31
    job.execute_in_process(instance=instance, partition_key="2013-01-05")
    assert automation_sees(instance, dg.AutomationCondition.execution_failed()) == 30


def test_a_partition_run_s_check_keeps_one_row_with_its_verdict(
    batching: tuple[dg.DagsterInstance, BatchingSqliteEventLogStorage],
) -> None:
    instance, _ = batching
    run = dg.materialize([daily, daily_is_fine], instance=instance, partition_key="2013-01-05")
    assert run.success
    history = instance.event_log_storage.get_asset_check_execution_history(
        daily_is_fine.check_key, limit=10
    )
    assert [(c.status.value, c.partition) for c in history] == [("SUCCEEDED", None)]


with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.PreviewWarning)  # partitioned checks are in preview
    PER_DAY = dg.AssetCheckSpec("per_day", asset="days", partitions_def=DAYS)


@dg.asset(
    name="days",
    partitions_def=DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    check_specs=[PER_DAY],
)
def days_checked_per_day(context: dg.AssetExecutionContext) -> Iterator[Any]:
    """A partitioned check with a verdict of its own for each day of a range run."""
    yield dg.MaterializeResult()
    yield dg.Output(None, output_name="days_per_day")
    for key in context.partition_keys:
        yield dg.AssetCheckEvaluation(
            asset_key=PER_DAY.asset_key,
            check_name=PER_DAY.name,
            passed=key != "2013-01-02",
            metadata={},
            partition=key,
        )


def test_per_partition_verdicts_of_a_range_run_leave_one_row_per_partition(
    batching: tuple[dg.DagsterInstance, BatchingSqliteEventLogStorage],
) -> None:
    instance, _ = batching
    assert dg.materialize([days_checked_per_day], instance=instance, tags=RANGE).success
    history = instance.event_log_storage.get_asset_check_execution_history(PER_DAY.key, limit=100)
    assert sorted((c.partition, c.status.value) for c in history) == sorted(
        (key, "FAILED" if key == "2013-01-02" else "SUCCEEDED")
        for key in DAYS.get_partition_keys()[:31]
    )
