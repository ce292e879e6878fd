"""Delta Lake tables: the lake's storage format, on a local disk or an object store.

A table is a folder of immutable Parquet files plus a transaction log (`_delta_log/`); a file
belongs to the table only once a commit names it. So a write puts its files in place first and
then replaces a run's partitions in ONE commit: a reader sees the old table version or the
new one, never part of a write, and the files of a write that died before its commit are
invisible to every Delta reader (`vacuum` removes them).

Two ways to write, both one commit:
- **Partition files** (`commit_partition_files`): when each partition of the run is exactly
  one value of the table's partition columns (days in a Date column, keys in a String
  column), the producer writes one file per partition itself (a day at a time, memory
  bounded) and the commit adds them and removes whatever those partitions held. A partition
  with no rows gets an empty file, so "written, empty" and "never written" stay apart.
- **Predicate overwrite** (`overwrite_where`): any other partitioning (hourly, monthly,
  Datetime columns, irregular multi-partitions): delta-rs replaces the rows matching the
  run's predicate.

The schema is enforced here, not by delta-rs: an added column evolves the table, a removed or
retyped one is refused naming it; an all-null column of unknown type takes the table's type.

Nothing here imports Dagster: the IO manager and the CLI both use it.
"""

import json
import random
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote as url_quote
from urllib.parse import unquote

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable, Field, Schema, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError
from deltalake.fs import DeltaStorageHandler
from deltalake.transaction import (
    AddAction,
    CommitProperties,
    RemoveAction,
    create_table_with_add_actions,
)
from pyarrow import fs as pafs

# Files of failed or superseded writes stay this long for readers still on an older version
# (Delta's default); `vacuum` removes them after.
DEFAULT_RETENTION_HOURS = 7 * 24
# Commit metadata keys (shown by `lakehouse history`).
RUN_ID = "dagster_run_id"
PARTITIONS = "partitions"
ROWS = "rows"
# Delta keeps instants in UTC: a column zoned elsewhere is stored in UTC, its zone kept here in
# the field's metadata and restored on read.
TIME_ZONE = "lakehouse.time_zone"
# A column every file of its table holds: each column of a table created by committing our own
# files (`commit_partition_files`), none added later (older files lack it); tables created by
# `write_deltalake` (`overwrite_where`) carry none. Where every column holds it, a reader may
# take the columns from one file instead of reading every file's footer (the catalog's views:
# ~70 us a file, each run).
IN_EVERY_FILE = "lakehouse.in_every_file"
MAX_READER_VERSION = 3
# Commits of one table that race another writer are retried on the newest version this often.
COMMIT_ATTEMPTS = 10
MAX_WRITER_VERSION = 7
# A table gets a commit per run (a day's landing under the daemon). Opening it reads the last
# checkpoint and every commit after it (~0.25 ms each; a run opens its tables ~40 times), so
# checkpoint every 10 commits rather than Delta's 100 (a checkpoint costs ~50 ms to write).
TABLE_PROPERTIES = {"delta.checkpointInterval": "10"}


class SchemaDriftError(Exception):
    """An output's columns no longer match its table's."""


class TableStoreError(Exception):
    """A table that cannot be read or written as it is; the message says what to do."""


def is_object_store(uri: str) -> bool:
    """True for a URI with a scheme other than `file` (`s3://bucket/lake`)."""
    scheme, sep, _ = uri.partition("://")
    return bool(sep) and scheme not in {"", "file"}


def join(base: str, *parts: str) -> str:
    """`base/part/...` for a path or a URI (`pathlib` would turn `s3://` into `s3:/`)."""
    return "/".join([base.rstrip("/"), *parts])


def safe_parts(parts: Sequence[str], what: str) -> list[str]:
    """Path parts that stay inside their root: no empty, hidden, `..` or separator parts.

    Raises:
        TableStoreError: naming the offending part.
    """
    for part in parts:
        if not part or part.startswith(".") or "/" in part or "\\" in part or "\x00" in part:
            msg = (
                f"{what}: key part {part!r} cannot name a folder (empty, hidden, '..' or with a "
                "path separator); rename the asset key"
            )
            raise TableStoreError(msg)
    return list(parts)


def storage_options(uri: str) -> dict[str, str] | None:
    """delta-rs options for a table URI: on S3, commits made safe by conditional PUTs (the
    store refuses a second writer of the same log entry), which S3 and most compatible stores
    support; credentials and endpoint come from the standard `AWS_*` variables.
    """
    if uri.startswith(("s3://", "s3a://")):
        return {"conditional_put": "etag"}
    return None


@dataclass(frozen=True)
class PartitionFile:
    """One Parquet file a producer wrote for one partition of a table (without the partition
    columns, which Delta keeps in the log), ready to be committed.
    """

    values: tuple[str, ...]  # the partition's value per partition column
    path: Path
    rows: int


def partition_dir(columns: Sequence[str], values: Sequence[str]) -> str:
    """The hive-style folder of a partition inside its table (`day=2013-01-01`)."""
    return "/".join(
        f"{url_quote(c, safe='')}={url_quote(v, safe='')}"
        for c, v in zip(columns, values, strict=True)
    )


def read_partition_dir(relative: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Columns and values of a hive-style folder path (`a=1/b=x`)."""
    pairs = [part.split("=", 1) for part in relative.split("/") if part]
    return tuple(unquote(c) for c, _ in pairs), tuple(unquote(v) for _, v in pairs)


class DeltaStore:
    """The Delta tables under one root (a folder or an object-store URI).

    With `reuse_tables`, the newest version of a table is opened once and brought up to date
    on each later `open` (`update_incremental`, ~1 ms, reads only the commits since) instead of
    read from its last checkpoint again (~10 ms): for one run, whose steps open the same tables
    ~40 times (inputs, the write's checks, the commit, the catalog). A frame scanned from such
    a table reads the version the table holds when the frame is collected, so a run opens a
    table again only once its earlier frames are consumed (a step's outputs are written after
    its inputs are read). Not for a long-lived reader: a table deleted and created again in
    between would be missed.
    """

    def __init__(self, root: str, *, reuse_tables: bool = False) -> None:
        self.root = root.rstrip("/")
        self._opened: dict[str, DeltaTable] | None = {} if reuse_tables else None

    def uri(self, parts: Sequence[str]) -> str:
        """The URI (or path) of the table named by `parts` (`["staged", "flights"]`)."""
        return join(self.root, *safe_parts(parts, "/".join(parts)))

    def open(self, uri: str, version: int | str | datetime | None = None) -> DeltaTable | None:
        """The table at `uri` (at a version or time, if given), or None if none was written.

        Raises:
            TableStoreError: the folder holds something that is not a readable Delta table.
        """
        opened = self._opened.get(uri) if self._opened is not None and version is None else None
        if opened is not None:
            try:
                opened.update_incremental()
            except (DeltaError, OSError) as error:
                raise TableStoreError(unreadable(uri, error)) from error
            check_protocol(opened, uri)
            return opened
        options = storage_options(uri)
        try:
            if not DeltaTable.is_deltatable(uri, storage_options=options):
                return None
            table = DeltaTable(uri, storage_options=options)
            if version is not None:
                table.load_as_version(version)
        except TableNotFoundError:
            return None
        except (DeltaError, OSError) as error:
            raise TableStoreError(unreadable(uri, error)) from error
        check_protocol(table, uri)
        if self._opened is not None and version is None:
            self._opened[uri] = table
        return table

    def scan(self, table: DeltaTable) -> pl.LazyFrame:
        """The table's rows, lazily, zoned columns in their zone; filters on partition columns
        prune whole files.
        """
        zoned = {
            f.name: f.metadata[TIME_ZONE] for f in table.schema().fields if TIME_ZONE in f.metadata
        }
        rows = pl.scan_delta(table)
        if not zoned:
            return rows
        return rows.with_columns(pl.col(n).dt.convert_time_zone(z) for n, z in zoned.items())

    def present_partitions(self, table: DeltaTable) -> dict[tuple[str, ...], int]:
        """Partition values -> rows, for every partition that holds a file (empty ones too),
        from the log alone.
        """
        columns = table.metadata().partition_columns
        if not columns:
            return {}
        actions = pl.DataFrame(table.get_add_actions(flatten=True))
        if actions.is_empty():
            return {}
        keyed = actions.select(
            *(pl.col(f"partition.{c}").cast(pl.String).alias(c) for c in columns),
            pl.col("num_records").fill_null(0),
        )
        counts = keyed.group_by(columns).agg(pl.col("num_records").sum())
        return {tuple(row[:-1]): int(row[-1]) for row in counts.iter_rows()}

    def files_by_partition(self, table: DeltaTable) -> dict[tuple[str, ...], frozenset[str]]:
        """Partition values -> the files that hold them (one entry `()` when unpartitioned)."""
        columns = table.metadata().partition_columns
        actions = pl.DataFrame(table.get_add_actions(flatten=True))
        if actions.is_empty():
            return {}
        if not columns:
            return {(): frozenset(actions["path"].to_list())}
        grouped = (
            actions.select(
                *(pl.col(f"partition.{c}").cast(pl.String).alias(c) for c in columns), "path"
            )
            .group_by(columns)
            .agg("path")
        )
        return {tuple(row[:-1]): frozenset(row[-1]) for row in grouped.iter_rows()}

    def commit_partition_files(
        self,
        uri: str,
        files: Sequence[PartitionFile],
        schema: pl.Schema,
        partition_columns: Sequence[str],
        replaced: Sequence[tuple[str, ...]],
        metadata: Mapping[str, str],
    ) -> int:
        """Replace the partitions `replaced` of a table with `files`, in one commit.

        Args:
            uri: The table.
            files: One or more files per partition written (every value in `replaced`).
            schema: The rows' schema, partition columns included.
            partition_columns: The table's partition columns, in order.
            replaced: The partition values the write replaces (its run's partitions).
            metadata: Recorded with the commit (run id, partitions, rows).

        Returns:
            The table's new version.

        Raises:
            SchemaDriftError: a column was removed or retyped.
            TableStoreError: the table is partitioned differently.
        """
        table = self._writable(uri, schema, partition_columns)
        added = self._place(uri, files, partition_columns)
        properties = CommitProperties(custom_metadata=dict(metadata))
        filters = replaced_filters(partition_columns, replaced)
        for attempt in range(1, COMMIT_ATTEMPTS + 1):
            try:
                delta_schema = to_delta_schema(self.evolve(table, uri, schema), table)
                return self._commit(
                    uri, table, added, delta_schema, partition_columns, filters, properties
                )
            except (CommitFailedError, DeltaError) as error:
                # Another writer committed first. Our files are in place and our partitions are
                # ours to replace, so commit again on the newest version (delta-rs' own check
                # refuses any overwrite that raced another commit of the table).
                if attempt == COMMIT_ATTEMPTS or not _is_race(error):
                    raise
                time.sleep(random.uniform(0.05, 0.2) * attempt)  # noqa: S311 (jitter, not crypto)
                table = self._writable(uri, schema, partition_columns)
        msg = "unreachable"  # pragma: no cover
        raise AssertionError(msg)  # pragma: no cover

    def _writable(
        self, uri: str, schema: pl.Schema, partition_columns: Sequence[str]
    ) -> DeltaTable | None:
        """The table `schema` rows can be committed to (None: not created yet).

        Raises:
            SchemaDriftError: a column was removed or retyped.
            TableStoreError: the table is partitioned differently.
        """
        table = self.open(uri)
        self.evolve(table, uri, schema)
        if table is not None and list(table.metadata().partition_columns) != list(
            partition_columns
        ):
            msg = (
                f"{uri} is partitioned by {table.metadata().partition_columns}, not "
                f"{list(partition_columns)}; write it with the same partitioning, or move the "
                "old table away and rebuild it"
            )
            raise TableStoreError(msg)
        return table

    @staticmethod
    def _commit(
        uri: str,
        table: DeltaTable | None,
        added: list[AddAction],
        delta_schema: Schema,
        partition_columns: Sequence[str],
        filters: list[tuple[str, str, Any]],
        properties: CommitProperties,
    ) -> int:
        if table is None:
            create_table_with_add_actions(
                uri,
                delta_schema,
                added,
                mode="error",
                partition_by=list(partition_columns),
                configuration=TABLE_PROPERTIES,
                storage_options=storage_options(uri),
                commit_properties=properties,
            )
            return 0
        actions: list[AddAction | RemoveAction] = list(added)
        table.create_write_transaction(
            actions,
            mode="overwrite",
            schema=delta_schema,
            partition_by=list(partition_columns),
            partition_filters=filters,
            commit_properties=properties,
        )
        return table.version() + 1

    def _place(
        self, uri: str, files: Sequence[PartitionFile], columns: Sequence[str]
    ) -> list[AddAction]:
        """Move (or upload) each file into its partition's folder of the table under a unique
        name, and describe it for the commit. Until the commit names them, no Delta reader
        sees these files.
        """
        actions = []
        target_fs = _filesystem(uri)
        now_ms = int(time.time() * 1000)
        folders: set[Path] = set()  # made already: a range run writes many files per folder
        for file in files:
            name = f"part-{uuid.uuid4().hex}.parquet"
            relative = f"{partition_dir(columns, file.values)}/{name}" if columns else name
            stats = _file_stats(file.path, file.rows)
            size = file.path.stat().st_size
            if target_fs is None:
                destination = Path(uri) / relative
                if destination.parent not in folders:
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    folders.add(destination.parent)
                shutil.move(file.path, destination)
            else:
                pafs.copy_files(str(file.path), relative, destination_filesystem=target_fs)
            actions.append(
                AddAction(
                    relative,
                    size,
                    dict(zip(columns, file.values, strict=True)),
                    now_ms,
                    True,
                    stats,
                )
            )
        return actions

    def overwrite_where(
        self,
        uri: str,
        frame: pl.LazyFrame,
        predicate: str | None,
        partition_columns: Sequence[str],
        metadata: Mapping[str, str],
    ) -> int:
        """Replace the rows matching `predicate` (every row when None) with `frame`'s, in one
        commit.

        Returns:
            The table's new version.

        Raises:
            SchemaDriftError: a column was removed or retyped.
        """
        table = self.open(uri)
        schema = self.evolve(table, uri, frame.collect_schema())
        stored = storable(schema)
        data = frame.select(
            pl.col(name).cast(dtype).dt.convert_time_zone("UTC")
            if isinstance(dtype, pl.Datetime) and dtype.time_zone not in {None, "UTC"}
            else pl.col(name).cast(stored[name])
            for name, dtype in schema.items()
        )
        write_deltalake(
            table if table is not None else uri,
            data.collect().to_arrow(),
            mode="overwrite",
            predicate=predicate if table is not None else None,
            partition_by=list(partition_columns) or None,
            schema_mode="merge" if table is not None else None,
            configuration=TABLE_PROPERTIES if table is None else None,
            storage_options=storage_options(uri),
            commit_properties=CommitProperties(custom_metadata=dict(metadata)),
        )
        written = self.open(uri)
        return written.version() if written is not None else 0

    def delete_where(self, uri: str, predicate: str | None, metadata: Mapping[str, str]) -> None:
        """Remove the rows matching `predicate` (all rows when None), in one commit; a table
        never written stays unwritten.
        """
        table = self.open(uri)
        if table is not None:
            table.delete(
                predicate, commit_properties=CommitProperties(custom_metadata=dict(metadata))
            )

    def evolve(self, table: DeltaTable | None, uri: str, incoming: pl.Schema) -> pl.Schema:
        """The schema to write `incoming` rows with: the table's columns in its order, plus
        any new ones; all-null columns of unknown type take the table's type.

        Raises:
            SchemaDriftError: a table column is missing from `incoming` or has another type,
                or a new column has no type (all null).
        """
        existing = table_schema(table) if table is not None else pl.Schema()
        removed = [name for name in existing if name not in incoming]
        retyped = [
            (name, existing[name], dtype)
            for name, dtype in incoming.items()
            if name in existing and dtype != existing[name] and dtype != pl.Null
        ]
        untyped = [
            name for name, dtype in incoming.items() if dtype == pl.Null and name not in existing
        ]
        problems = [f"{uri}: column {name!r} is missing from the output" for name in removed]
        problems += [f"{uri}: column {name!r} changed {old} -> {new}" for name, old, new in retyped]
        problems += [
            f"{uri}: column {name!r} has no type (every value is null); cast it in the transform"
            for name in untyped
        ]
        if problems:
            msg = (
                "; ".join(problems)
                + ". Restore the column in the transform, or migrate the table (rewrite it with "
                "the new schema, or move it away and backfill)."
            )
            raise SchemaDriftError(msg)
        merged = dict(existing)
        merged.update({n: d for n, d in incoming.items() if n not in existing})
        return pl.Schema(merged)

    def history(self, uri: str, limit: int | None = None) -> list[dict[str, Any]]:
        """The table's commits, newest first: version, time, operation, and our metadata."""
        table = self.require(uri)
        return table.history(limit)

    def restore(self, uri: str, target: int | datetime, metadata: Mapping[str, str]) -> int:
        """Make the table's newest version hold what version (or time) `target` held, as a new
        commit (history is kept). Returns the new version.
        """
        table = self.require(uri)
        table.restore(target, commit_properties=CommitProperties(custom_metadata=dict(metadata)))
        return table.version()

    def vacuum(self, uri: str, retention_hours: int = DEFAULT_RETENTION_HOURS) -> list[str]:
        """Delete files no version within the retention period needs: those of failed or
        superseded writes. Returns the files removed.
        """
        table = self.require(uri)
        # Full: also the files no commit ever named (a write that died before its commit).
        return table.vacuum(
            retention_hours=retention_hours,
            dry_run=False,
            enforce_retention_duration=False,
            full=True,
        )

    def optimize(self, uri: str) -> dict[str, Any]:
        """Compact small files into larger ones (a new version; the data is unchanged)."""
        table = self.require(uri)
        return dict(table.optimize.compact())

    def require(self, uri: str) -> DeltaTable:
        """The table at `uri`.

        Raises:
            TableStoreError: it was never written.
        """
        table = self.open(uri)
        if table is None:
            msg = f"{uri} is not a Delta table (never materialized?)"
            raise TableStoreError(msg)
        return table

    def tables(self) -> Iterator[tuple[str, str]]:
        """Every table under the root as (layer, name) (local roots only)."""
        if is_object_store(self.root):
            return
        root = Path(self.root)
        for log in sorted(root.glob("*/*/_delta_log")):
            yield log.parent.parent.name, log.parent.name


def unreadable(uri: str, error: Exception) -> str:
    """What to say, and to do, about a table delta-rs cannot open."""
    reason = str(error).splitlines()[0]
    if "Unsupported" in reason and "version" in reason:
        return (
            f"{uri} was written by a newer Delta protocol than this platform reads ({reason}); "
            "upgrade deltalake, or leave the table to the engine that wrote it"
        )
    return (
        f"{uri} is not a readable Delta table ({reason}); if its newest _delta_log entry is "
        "damaged (a commit cut short by a disk fault), move that entry away to read the version "
        "before it, or restore the folder from a backup"
    )


def table_schema(table: DeltaTable) -> pl.Schema:
    """A table's columns as Polars types, in table order, zoned columns in their zone."""
    arrow = pa.schema(table.schema().to_arrow())
    schema = dict(pl.DataFrame(arrow.empty_table()).schema)
    for f in table.schema().fields:
        if TIME_ZONE in f.metadata:
            schema[f.name] = pl.Datetime("us", f.metadata[TIME_ZONE])
    return pl.Schema(schema)


# Delta has no unsigned integers: each is kept in the next wider signed type, never narrowed.
_SIGNED: dict[type[pl.DataType], pl.DataType] = {
    pl.UInt8: pl.Int16(),
    pl.UInt16: pl.Int32(),
    pl.UInt32: pl.Int64(),
    pl.UInt64: pl.Int64(),
}


def delta_compatible(schema: pl.Schema, table: pl.Schema | None = None) -> pl.Schema:
    """The types a frame is written with so its files match its Delta table: unsigned integers
    widened to signed ones, times in microseconds, categoricals as text, and an all-null column
    in the type it has in `table` (the table's schema, if it exists; a reader may take every
    file's types from one file, see IN_EVERY_FILE).
    """
    stored = table if table is not None else pl.Schema()

    def fit(name: str, dtype: pl.DataType) -> pl.DataType:
        if dtype == pl.Null and name in stored:
            return stored[name]
        if type(dtype) in _SIGNED:
            return _SIGNED[type(dtype)]
        if isinstance(dtype, pl.Datetime):
            return pl.Datetime("us", dtype.time_zone)
        if isinstance(dtype, pl.Categorical | pl.Enum):
            return pl.String()
        return dtype

    return pl.Schema({name: fit(name, dtype) for name, dtype in schema.items()})


def storable(schema: pl.Schema) -> pl.Schema:
    """The types a Delta table stores a schema's columns as: instants in UTC (Delta has no
    other zone), microseconds (its only time unit).
    """
    return pl.Schema(
        {
            name: pl.Datetime("us", "UTC" if dtype.time_zone else None)
            if isinstance(dtype, pl.Datetime)
            else dtype
            for name, dtype in schema.items()
        }
    )


def to_delta_schema(schema: pl.Schema, table: DeltaTable | None = None) -> Schema:
    """The Delta schema of a Polars schema, each zone other than UTC kept in field metadata,
    written to `table` (None: a new table). Its columns keep their metadata; a new table's
    columns are each IN_EVERY_FILE, and columns added to a table are not.
    """
    fields = Schema.from_arrow(pl.DataFrame(schema=storable(schema)).to_arrow().schema).fields
    kept = {f.name: dict(f.metadata) for f in table.schema().fields} if table is not None else {}
    zones = {
        name: dtype.time_zone
        for name, dtype in schema.items()
        if isinstance(dtype, pl.Datetime) and dtype.time_zone not in {None, "UTC"}
    }
    new_table = {IN_EVERY_FILE: "true"} if table is None else {}
    return Schema(
        [
            Field(
                f.name,
                f.type,
                nullable=f.nullable,
                metadata={
                    **f.metadata,
                    **kept.get(f.name, new_table),
                    **({TIME_ZONE: zones[f.name]} if f.name in zones else {}),
                },
            )
            for f in fields
        ]
    )


def in_every_file(table: DeltaTable) -> bool:
    """Whether every file of the table holds every column (see IN_EVERY_FILE)."""
    return all(f.metadata.get(IN_EVERY_FILE) == "true" for f in table.schema().fields)


def check_protocol(table: DeltaTable, uri: str) -> None:
    """Refuse a table written by a newer Delta protocol than this code reads and writes.

    Raises:
        TableStoreError: naming the versions.
    """
    protocol = table.protocol()
    if (
        protocol.min_reader_version > MAX_READER_VERSION
        or protocol.min_writer_version > MAX_WRITER_VERSION
    ):
        msg = (
            f"{uri} needs Delta reader {protocol.min_reader_version} / writer "
            f"{protocol.min_writer_version}; this platform supports up to "
            f"{MAX_READER_VERSION}/{MAX_WRITER_VERSION}: upgrade deltalake or leave the table "
            "to the engine that wrote it"
        )
        raise TableStoreError(msg)


def replaced_filters(
    columns: Sequence[str], replaced: Sequence[tuple[str, ...]]
) -> list[tuple[str, str, Any]]:
    """Partition filters selecting the replaced partitions (each column's values: the run's
    partitions are every combination of them, a rectangle).
    """
    return [
        (column, "in", sorted({values[i] for values in replaced}))
        for i, column in enumerate(columns)
    ]


def _filesystem(uri: str) -> pafs.FileSystem | None:
    """A filesystem rooted at an object-store table (None for a local path)."""
    if not is_object_store(uri):
        return None
    return pafs.PyFileSystem(DeltaStorageHandler(uri, options=storage_options(uri)))


def _file_stats(path: Path, rows: int) -> str:
    """The commit's statistics of a file: rows and null counts per column (from the Parquet
    footer; min/max are left out, so no reader prunes on a value it misreads).
    """
    metadata = pq.read_metadata(path)
    nulls: dict[str, int] = {}
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for index in range(row_group.num_columns):
            column = row_group.column(index)
            statistics = column.statistics
            if (
                statistics is not None
                and statistics.has_null_count
                and "." not in column.path_in_schema
            ):
                name = column.path_in_schema
                nulls[name] = nulls.get(name, 0) + statistics.null_count
    return json.dumps({"numRecords": rows, "nullCount": nulls})


def now_iso() -> str:
    """The current UTC time, for commit metadata."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _is_race(error: Exception) -> bool:
    """Whether a failed commit lost a race with another writer (and may be tried again)."""
    text = str(error).lower()
    return isinstance(error, CommitFailedError) or "already exists" in text or "concurrent" in text
