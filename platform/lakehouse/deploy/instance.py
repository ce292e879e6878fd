"""How the Dagster instance records a range run cheaply: the settings every process needs, and
the local SQLite event log writing a step's per-partition materializations in one go.

A single-run backfill of a year records one materialization per day for each partitioned
output (3,650 for ours). Dagster hands a step's materializations over as one batch when
`DAGSTER_EVENT_BATCH_SIZE` is set; the PostgreSQL storage inserts a batch at once, while the
stock SQLite storage still writes each event with its own engine, connections and commits
(~7 ms each here). `BatchingSqliteEventLogStorage` writes the batch with one connection per
shard and one transaction each: ~0.4 ms per partition (bench/results.md).

Every other event (a one-day run writes ~150, a few rows each) costs its transactions: the
storage keeps a connection per shard open and commits without an fsync each (`_shard_engine`).
"""

import functools
import logging
import os
import sqlite3
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import sqlalchemy as db
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from dagster._core.events import (
    AssetCheckEvaluationPlanned,
    AssetMaterializationPlannedData,
    DagsterEvent,
)
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log.base import EventHandlerFn
from dagster._core.storage.event_log.schema import (
    AssetCheckExecutionsTable,
    SqlEventLogStorageMetadata,
    SqlEventLogStorageTable,
)
from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage
from dagster._core.storage.event_log.sqlite import sqlite_event_log
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SqliteEventLogStorage,
    SqliteEventLogStorageWatchdog,
)
from dagster._core.storage.sql import get_alembic_config
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlite_storage import _event_logs_directory
from dagster._serdes import ConfigurableClassData, deserialize_value, serialize_value
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy import event as sa_event
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool
from watchdog.events import FileSystemEvent
from watchdog.observers import Observer

# Dagster reads these from the environment, not from dagster.yaml, so every process of a
# deployment needs them (the Makefile exports them locally). A range run then records one
# planned event per asset instead of one per partition, and hands a step's per-partition
# materializations to the storage in batches.
INSTANCE_ENV = {
    "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "1",
    "DAGSTER_EVENT_BATCH_SIZE": "1000",
}

# What the batched path writes: a step's per-partition asset events, and the planned events a
# new run records for its assets and checks. Anything else in a batch (failures) takes the
# stock path, event by event.
_BATCHED = {
    dg.DagsterEventType.ASSET_MATERIALIZATION,
    dg.DagsterEventType.ASSET_OBSERVATION,
    dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
}
_CHECK_PLANNED = dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED
PLANNED = dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED


class PlannedRangesMixin(SqlEventLogStorage):
    """Partition status that understands a range run's planned events.

    With `DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS` a range run records one planned
    event per asset, naming its partitions, instead of one per partition; Dagster's query for
    the partitions planned and not yet materialized reads only the per-partition kind. So the
    partitions of a range run under way were not in progress (declarative automation built them
    a second time beside the run, and the UI showed them missing), and those of a failed one
    were not failed. Here a range's planned event counts for each partition it names that has
    no materialization or per-partition planned event after it. A check's verdict on a whole
    run takes the place of the run's per-partition planned rows of that check.
    """

    def get_latest_asset_partition_materialization_attempts_without_materializations(
        self, asset_key: dg.AssetKey, after_storage_id: int | None = None
    ) -> Mapping[str, tuple[str, int]]:
        """Each partition whose latest planned materialization (its own, or its range's) has
        none after it, with that event's run and storage id: in progress while the run is,
        failed if the run failed.
        """
        attempts = dict(
            super().get_latest_asset_partition_materialization_attempts_without_materializations(
                asset_key, after_storage_id
            )
        )
        table = SqlEventLogStorageTable
        query = (
            db.select(table.c.id, table.c.run_id, table.c.event)
            .where(
                table.c.asset_key == asset_key.to_string(),
                table.c.dagster_event_type == PLANNED.value,
                table.c.partition.is_(None),
                table.c.id > (after_storage_id or 0),
            )
            .order_by(table.c.id)
        )
        with self.index_connection() as conn:
            ranges = conn.execute(query).fetchall()
        if not ranges:
            return attempts
        since = min(row.id for row in ranges)
        later = {
            kind: self.get_latest_storage_id_by_partition(asset_key, kind, after_cursor=since)
            for kind in (dg.DagsterEventType.ASSET_MATERIALIZATION, PLANNED)
        }
        for row in ranges:
            planned = deserialize_value(row.event, EventLogEntry).dagster_event
            data = planned.event_specific_data if planned is not None else None
            if not isinstance(data, AssetMaterializationPlannedData) or not data.partitions_subset:
                continue
            for partition in data.partitions_subset.get_partition_keys():
                if all(ids.get(partition, 0) < row.id for ids in later.values()):
                    attempts[partition] = (row.run_id, row.id)
        return attempts

    def _update_asset_check_evaluation(self, event: EventLogEntry, event_id: int | None) -> None:
        """Record a check's verdict on its whole run in place of the run's planned rows.

        Dagster plans a check once per partition of a partitioned run (for any check), and a
        verdict that names no partition (an unpartitioned check's, or any check's in a range
        run) then finds no row to complete and is added beside them: every planned row showed
        as skipped once the run ended, 365 per check for a year's run. Here those planned rows
        give way to the one row holding the verdict. A verdict for one partition is recorded
        as Dagster records it, in place of a planned row for the whole run (the local event
        log plans a range run's check as one row: `_planned_rows`).
        """
        evaluation = event.get_dagster_event().event_specific_data
        if isinstance(evaluation, dg.AssetCheckEvaluation):
            table = AssetCheckExecutionsTable
            superseded = (
                table.c.partition.is_not(None)
                if evaluation.partition is None
                else table.c.partition.is_(None)
            )
            with self.index_connection() as conn:
                conn.execute(
                    table.delete().where(
                        table.c.asset_key == evaluation.asset_key.to_string(),
                        table.c.check_name == evaluation.check_name,
                        table.c.run_id == event.run_id,
                        superseded,
                        table.c.execution_status == AssetCheckExecutionRecordStatus.PLANNED.value,
                    )
                )
        super()._update_asset_check_evaluation(event, event_id)

    def delete_events(self, run_id: str) -> None:
        """As Dagster's, with the run's check executions too (Dagster leaves them behind)."""
        super().delete_events(run_id)
        with self.index_connection() as conn:
            conn.execute(
                AssetCheckExecutionsTable.delete().where(
                    AssetCheckExecutionsTable.c.run_id == run_id
                )
            )


class BatchingSqliteEventLogStorage(PlannedRangesMixin, SqliteEventLogStorage):
    """Dagster's SQLite event log, writing a batch of asset events in one transaction per shard.

    The tables end up as the stock `store_event` leaves them, event by event (the run shard's
    events, their mirror in the index shard with the same ids, the asset tags), in one
    transaction per shard; the asset's latest-event entry is written once per batch. `base_dir`
    defaults to where Dagster keeps the event log under DAGSTER_HOME, so switching to this class
    keeps an instance's history.
    """

    KEPT_ENGINES = 16  # the index shard and the shards of the runs in progress

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_pid = os.getpid()
        super().__init__(base_dir, inst_data)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        """As Dagster's, but with the shard's engine and its one connection kept for the
        process instead of a new engine (dialect set-up included), connection and close for
        every statement: a run's ~150 events opened ~750 engines (~1.5 s of a one-day run),
        then ~500 connections (~0.5 s). Dagster's lock serialises the process's statements.
        """
        with self._db_lock:
            if self._engines_pid != os.getpid():
                # A forked child must not use its parent's connections: drop them unclosed.
                for inherited in self._engines.values():
                    inherited.dispose(close=False)
                self._engines.clear()
                self._engines_pid = os.getpid()
            engine = self._engines.pop(shard, None)
            if engine is None:
                engine = _shard_engine(self.conn_string_for_shard(shard))
            self._engines[shard] = engine  # the most recently used last
            while len(self._engines) > self.KEPT_ENGINES:
                self._engines.popitem(last=False)[1].dispose()
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _initdb(self, engine: Engine, for_index_shard: bool = False) -> None:  # noqa: FBT001, FBT002 (Dagster's signature)
        """As Dagster's, without reading the migration scripts again for each shard (~30 ms
        each time, twice a run): a shard stamped at the head revision is ready, and a run's new
        shard is created and stamped with the scripts read once a process. Anything else (an
        index shard to create, an older revision, a shard another process is creating) goes
        Dagster's way.
        """
        script = _event_log_scripts()
        head = script.as_revision_number("head")
        try:
            with engine.connect() as conn:
                current = MigrationContext.configure(conn).get_current_revision()
                if current is not None and current == head:
                    return
                if (
                    current is None
                    and not for_index_shard
                    and not db.inspect(conn).get_table_names()
                ):
                    SqlEventLogStorageMetadata.create_all(conn)
                    conn.execute(db.text("PRAGMA journal_mode=WAL;"))
                    MigrationContext.configure(conn).stamp(script, "head")
                    conn.commit()
                    return
        except (db.exc.DatabaseError, sqlite3.DatabaseError):
            pass  # Dagster's own way below retries a shard another process is creating
        super()._initdb(engine, for_index_shard)

    def watch(self, run_id: str, cursor: str | None, callback: EventHandlerFn) -> None:
        """As Dagster's (the UI follows a running run's log through it), waking on writes to
        the shard's WAL file too: a kept connection commits there, and the shard file itself
        changes only when the WAL is checkpointed into it.
        """
        observer: Any = self._obs
        if observer is None:
            observer = Observer()
            observer.start()
            self._obs = observer  # Dagster's attribute, annotated None where it is declared
        handler = _WalAwareWatchdog(self, run_id, callback, cursor)
        self._watchers[run_id][callback] = (
            handler,
            observer.schedule(handler, self._base_dir, recursive=True),
        )

    def _close_engines(self) -> None:
        with self._db_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()

    def delete_events(self, run_id: str) -> None:
        """As Dagster's, and the run's shard file with it: Dagster empties it and leaves it
        (0.1 to 3 MB a run, for ever).
        """
        super().delete_events(run_id)
        with self._db_lock:
            engine = self._engines.pop(run_id, None)
            if engine is not None:
                engine.dispose()
            self._initialized_dbs.discard(run_id)
            for suffix in ("", "-wal", "-shm"):
                Path(self.path_for_shard(run_id) + suffix).unlink(missing_ok=True)

    def wipe(self) -> None:
        """As Dagster's, with the kept connections closed first: they would hold the shard
        files it deletes open.
        """
        self._close_engines()
        super().wipe()

    def dispose(self) -> None:
        """Close the kept connections with the storage."""
        self._close_engines()
        super().dispose()

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        """`base_dir` is optional: DAGSTER_HOME's event-log folder by default."""
        return {"base_dir": dg.Field(dg.StringSource, is_required=False)}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> "BatchingSqliteEventLogStorage":
        """The storage under `base_dir`, or under DAGSTER_HOME when none is configured."""
        base_dir = config_value.get("base_dir")
        if not base_dir:
            home = os.environ.get("DAGSTER_HOME")
            if not home:
                msg = "BatchingSqliteEventLogStorage needs base_dir or DAGSTER_HOME"
                raise dg.DagsterInvariantViolationError(msg)
            base_dir = _event_logs_directory(home)
        return cls(base_dir=base_dir, inst_data=inst_data)

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """Write a step's asset events, or a new run's planned events, together; any other
        batch the stock way.
        """
        if not events or not all(
            event.dagster_event is not None
            and event.run_id == events[0].run_id
            and (
                event.dagster_event.event_type == _CHECK_PLANNED
                or (
                    event.dagster_event.event_type in _BATCHED
                    and event.dagster_event.asset_key is not None
                )
            )
            for event in events
        ):
            super().store_event_batch(events)
            return
        statements = [self.prepare_insert_event(event) for event in events]
        run_id = events[0].run_id
        with self.run_connection(run_id) as conn:
            run_log_ids = [conn.execute(statement).inserted_primary_key for statement in statements]
        try:
            self._index_batch(events, statements)
        except Exception:
            # Dagster then writes the batch again event by event: take this batch's rows out of
            # the run's log first, or the run page would show every event twice.
            with self.run_connection(run_id) as conn:
                conn.execute(
                    SqlEventLogStorageTable.delete().where(
                        SqlEventLogStorageTable.c.id.in_([ids[0] for ids in run_log_ids if ids])
                    )
                )
            raise

    def _index_batch(self, events: Sequence[EventLogEntry], statements: Sequence[Any]) -> None:
        """Mirror the batch's events in the index shard, with the asset events' tags and the
        asset's latest-event entry, and the checks' planned executions, in one transaction.
        """
        with self.index_transaction() as conn:
            event_ids: list[int] = []
            for statement in statements:
                inserted = conn.execute(statement).inserted_primary_key
                if not inserted or inserted[0] is None:
                    msg = "Cannot store asset event tags for null event id."
                    raise dg.DagsterInvariantViolationError(msg)
                event_ids.append(inserted[0])
            checks = [
                index
                for index, event in enumerate(events)
                if event.dagster_event_type == _CHECK_PLANNED
            ]
            assets = sorted(set(range(len(events))) - set(checks))
            self._store_asset_event_tags(
                conn, [events[i] for i in assets], [event_ids[i] for i in assets]
            )
            # An asset's index row holds its latest event of each kind, each write replacing the
            # last: writing only the last of each kind leaves the row as the stock path does.
            last_of_kind = {
                (event.dagster_event.asset_key, event.dagster_event.event_type): index
                for index in assets
                for event in [events[index]]
                if event.dagster_event is not None
            }
            for index in sorted(last_of_kind.values()):
                self._store_asset_event(conn, events[index], event_ids[index])
            planned = [row for i in checks for row in self._planned_rows(events[i], event_ids[i])]
            if planned:
                conn.execute(AssetCheckExecutionsTable.insert(), planned)

    def _store_asset_check_evaluation_planned(
        self, event: EventLogEntry, event_id: int | None
    ) -> None:
        """A planned check's execution rows (`_planned_rows`) in one insert."""
        if not isinstance(
            event.get_dagster_event().event_specific_data, AssetCheckEvaluationPlanned
        ):
            super()._store_asset_check_evaluation_planned(event, event_id)
            return
        with self.index_connection() as conn:
            conn.execute(AssetCheckExecutionsTable.insert(), self._planned_rows(event, event_id))

    def _planned_rows(self, event: EventLogEntry, event_id: int | None) -> list[dict[str, Any]]:
        """A planned check's execution rows: the run's partition's, or one for a whole range
        run. Dagster writes one per partition of a range run (for any check, partitioned or
        not: a year's run plans 42 checks x 365 rows), but a check's verdict in a range run
        names no partition, so it completes none of them (`_update_asset_check_evaluation`).
        """
        planned = event.get_dagster_event().event_specific_data
        if not isinstance(planned, AssetCheckEvaluationPlanned):
            msg = f"not a planned check evaluation: {planned!r}"
            raise dg.DagsterInvariantViolationError(msg)
        subset = planned.partitions_subset
        row = {
            "asset_key": planned.asset_key.to_string(),
            "check_name": planned.check_name,
            "run_id": event.run_id,
            "execution_status": AssetCheckExecutionRecordStatus.PLANNED.value,
            "evaluation_event": serialize_value(event),
            "evaluation_event_timestamp": self._event_insert_timestamp(event),
            "evaluation_event_storage_id": event_id,
        }
        partitions = list(subset.get_partition_keys()) if subset else []
        return [{**row, "partition": partitions[0] if len(partitions) == 1 else None}]


class _WalAwareWatchdog(SqliteEventLogStorageWatchdog):
    """Dagster's watch of one run's shard, matching its WAL file as well as the shard file."""

    def __init__(
        self,
        storage: SqliteEventLogStorage,
        run_id: str,
        callback: EventHandlerFn,
        cursor: str | None,
    ) -> None:
        super().__init__(storage, run_id, callback, cursor)
        self._patterns = [self._log_path, f"{self._log_path}-wal"]

    def on_modified(self, event: FileSystemEvent) -> None:
        """Read the run's new events, whichever of its two files changed."""
        self._process_log()


@functools.cache
def _event_log_scripts() -> ScriptDirectory:
    """Dagster's migration scripts of the SQLite event log, read once a process."""
    return ScriptDirectory.from_config(get_alembic_config(sqlite_event_log.__file__))


def _shard_engine(url: str) -> Engine:
    """An engine keeping a connection to an event-log shard open, committing without fsync.

    Dagster creates its shards in WAL mode, where a commit appends to the log file; with
    SQLite's default `synchronous=FULL` each commit still waits for an fsync of it. `NORMAL` is
    WAL's setting that is durable against a crashed process (a power cut may lose the last
    commits, never corrupt the file; production keeps its instance in PostgreSQL). The pool
    lends one connection, a few more for Dagster's schema check, which nests connections.
    """
    engine = create_engine(
        url,
        poolclass=QueuePool,
        pool_size=1,
        max_overflow=4,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
    )

    @sa_event.listens_for(engine, "connect")
    def _no_fsync_per_commit(dbapi_connection: sqlite3.Connection, _: ConnectionPoolEntry) -> None:
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    return engine


def mark_failed_partitions(
    instance: dg.DagsterInstance, run: dg.DagsterRun, partition_keys: Iterable[str]
) -> int:
    """Show `partition_keys` as failed in the UI for every asset a failed run planned them for
    and did not materialize.

    With `DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS` (INSTANCE_ENV), a range run records
    one planned event per asset instead of one per partition, and Dagster then marks no
    partition failed when the run fails: its partition status reads failures from
    per-partition planned events. Writing those events into the failed run's log for the
    partitions it names as bad gives the UI what Dagster would have recorded without the
    setting, at no cost to runs that succeed. (The instance's own storages read a range's
    planned event as well, `PlannedRangesMixin`; this keeps the bad days failed on any other.)

    Returns:
        How many asset partitions were marked.
    """
    wanted = set(partition_keys)
    if not wanted:
        return 0
    materialized = {
        (entry.dagster_event.asset_key, entry.dagster_event.partition)
        for entry in instance.all_logs(
            run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        )
        if entry.dagster_event is not None
    }
    marked = 0
    planned = instance.all_logs(
        run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED
    )
    for entry in planned:
        event = entry.dagster_event
        data = event.event_specific_data if event is not None else None
        if not isinstance(data, AssetMaterializationPlannedData) or data.partitions_subset is None:
            continue
        in_run = set(data.partitions_subset.get_partition_keys()) & wanted
        for key in sorted(in_run):
            if (data.asset_key, key) in materialized:
                continue
            instance.report_dagster_event(
                DagsterEvent.build_asset_materialization_planned_event(
                    run.job_name,
                    entry.step_key or "",
                    AssetMaterializationPlannedData(data.asset_key, partition=key),
                ),
                run.run_id,
                logging.DEBUG,
            )
            marked += 1
    return marked
