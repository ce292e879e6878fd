"""The lake: Polars frames as hive-partitioned Parquet, published atomically, read lazily."""

import shutil
import tempfile
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import cast

import dagster as dg
import polars as pl
from pydantic import Field

from lakehouse.dates import keys_to_dates, missing_partitions_message, shown_days
from lakehouse.landing import EMPTY_PARTITION
from lakehouse.resources import object_lake

PARTITION_EXPR = "partition_expr"
PART_FILE = "part-0.parquet"
UNPARTITIONED_FILE = "data.parquet"


class MissingPartitionError(Exception):
    """An upstream partition a run needs has never been materialized."""


class PartitionMismatchError(Exception):
    """An output holds rows for partitions the run is not writing."""


def partition_file(table_dir: Path, day: date) -> Path:
    """Where one daily partition of a table lives."""
    return table_dir / f"date={day.isoformat()}" / PART_FILE


def _publish(staged_file: Path, final: Path) -> None:
    """Move a completely written file into place; readers see the old or the new file."""
    final.parent.mkdir(parents=True, exist_ok=True)
    staged_file.replace(final)


def write_partitions(
    frame: pl.LazyFrame, table_dir: Path, column: str, days: Sequence[date]
) -> dict[date, Path]:
    """Replace the given daily partitions of a table with the rows of `frame`.

    Rows are split on `column` (a Date) by one streaming sink into a private staging folder;
    only when every file is complete are they moved into place, one rename per partition. A day
    with no rows becomes an empty partition carrying the schema, so re-delivering an empty day
    replaces old rows instead of leaving them.

    Raises:
        PartitionMismatchError: `frame` has rows whose `column` is outside `days`; nothing is
            published.
    """
    staging = table_dir / f".staging-{uuid.uuid4().hex}"
    staging.mkdir(parents=True)
    try:
        frame.sink_parquet(
            pl.PartitionBy(staging, key=column, include_key=True, approximate_bytes_per_file=None),
            mkdir=True,
        )
        written = _staged_days(staging, column)
        unexpected = sorted(set(written) - set(days))
        if unexpected:
            msg = (
                f"{table_dir.name}: {column} has rows for {len(unexpected)} day(s) outside the "
                f"partitions being written ({shown_days(unexpected)}); fix the transform or the "
                "partition mapping"
            )
            raise PartitionMismatchError(msg)
        empty = pl.DataFrame(schema=frame.collect_schema())
        published = {}
        for day in days:
            source = written.get(day)
            if source is None:
                source = staging / f"empty-{day.isoformat()}.parquet"
                empty.write_parquet(source)
            published[day] = partition_file(table_dir, day)
            _publish(source, published[day])
        return published
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@dataclass(frozen=True)
class StagedPartitions:
    """Complete daily partitions a producer wrote itself, one Parquet file per day of the run,
    for the IO manager to publish together (an asset can return one instead of a frame).

    A producer that works a day at a time (raw ingest) so holds a few days, not the range: the
    IO manager's partitioned sink of one frame keeps every partition open until the end
    (measured: ~6.5 GB for a year of flights at 50x).
    """

    files: Mapping[date, Path]

    def scan(self) -> pl.LazyFrame:
        """Every staged row, day by day."""
        return pl.scan_parquet([str(self.files[day]) for day in sorted(self.files)])


class PartitionStaging:
    """A private scratch folder that collects a run's daily partitions one day at a time.

    Files are written by one background thread while the caller produces the next day (Polars
    releases the GIL), so reading and writing share the machine's cores; at most
    `MAX_PENDING_WRITES` days (or one frame of many days, `write_days`) wait to be written,
    which bounds memory. Use it as a context manager: the folder and anything still in it are
    removed on exit, whether the run published its partitions or failed.
    """

    MAX_PENDING_WRITES = 2

    def __init__(self, statistics: bool | Mapping[str, bool] = True) -> None:
        """Create the scratch folder in the system's temporary directory.

        Args:
            statistics: The Parquet statistics of each day's file (Polars' `statistics`).
        """
        self.folder = Path(tempfile.mkdtemp(prefix="lakehouse-partitions-"))
        self._statistics = statistics if isinstance(statistics, bool) else dict(statistics)
        self._files: dict[date, Path] = {}
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="partition-writer")
        self._pending: deque[Future[None]] = deque()

    def write(self, day: date, rows: pl.DataFrame) -> None:
        """Stage the complete rows of one day (no rows: an empty partition with the schema).

        Raises:
            Exception: whatever a previous write raised (the disk is full, say).
        """
        self._wait(self.MAX_PENDING_WRITES - 1)
        file = self._file(day)
        self._pending.append(
            self._writer.submit(rows.write_parquet, file, statistics=self._statistics)
        )
        self._files[day] = file

    def write_days(self, rows: pl.DataFrame, column: str) -> None:
        """Stage the complete rows of every day in `rows` (split on its Date `column`) in one
        background task, so the caller produces its next rows while these are written (a task
        per day would make it wait for all but the last few days).

        Raises:
            Exception: whatever a previous write raised (the disk is full, say).
        """
        self._wait(0)  # at most one such frame is held for writing
        files = {day: self._file(day) for day in rows[column].unique()}

        def write_all() -> None:
            for day, part in split_days(rows, column):
                part.write_parquet(files[day], statistics=self._statistics)

        self._pending.append(self._writer.submit(write_all))
        self._files.update(files)

    def _file(self, day: date) -> Path:
        return self.folder / f"{day.isoformat()}.parquet"

    def _wait(self, pending: int) -> None:
        """Wait until at most `pending` writes are queued, raising what a finished one raised."""
        while len(self._pending) > pending:
            self._pending.popleft().result()

    def write_missing(self, days: Sequence[date], schema: pl.Schema) -> None:
        """Stage an empty partition (with the schema) for each of `days` not staged yet: a day
        that delivered no rows replaces its old rows with none.
        """
        for day in days:
            if day not in self._files:
                self.write(day, pl.DataFrame(schema=schema))

    def staged(self) -> StagedPartitions:
        """Every day staged so far, once its file is complete, for the IO manager to publish."""
        self._wait(0)
        return StagedPartitions(files=dict(self._files))

    def __enter__(self) -> "PartitionStaging":
        """The staging itself."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Wait for the writer thread, then remove the scratch folder."""
        self._writer.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self.folder, ignore_errors=True)


def split_days(rows: pl.DataFrame, column: str) -> Iterator[tuple[date, pl.DataFrame]]:
    """The rows of each day of Date `column`, in order of first appearance, each day's rows in
    their order (`partition_by(..., maintain_order=True)`).

    Rows already ordered by day (staged chunks are: files are read day by day) are sliced, not
    copied: a 1M-row chunk takes 2 ms instead of ~80 ms.
    """
    days = rows[column]
    if not days.is_sorted():
        for (day,), part in rows.partition_by(column, as_dict=True, maintain_order=True).items():
            yield cast("date", day), part
        return
    offset = 0
    for length, day in days.rle().struct.unnest().iter_rows():
        yield day, rows.slice(offset, length)
        offset += length


def check_staged_days(staged: StagedPartitions, table: str, days: Sequence[date]) -> None:
    """Refuse staged partitions that are not exactly one file per day of the run: a day
    without one would be published as an empty partition over its stored rows.

    Raises:
        PartitionMismatchError: the staged days are not exactly `days`.
    """
    unexpected = sorted(set(staged.files) ^ set(days))
    if unexpected:
        msg = (
            f"{table}: the staged partitions differ from the partitions being written "
            f"in {len(unexpected)} day(s) ({shown_days(unexpected)}); every day of the run "
            "needs one file"
        )
        raise PartitionMismatchError(msg)


def publish_staged(
    staged: StagedPartitions, table_dir: Path, days: Sequence[date]
) -> dict[date, Path]:
    """Replace exactly the given daily partitions of a table with staged partition files.

    Every file is first moved into a private folder of the table (a copy if the scratch
    folder is on another file system); only then is each renamed into place, as
    `write_partitions` does.

    Raises:
        PartitionMismatchError: the staged days are not exactly `days`; nothing is published.
    """
    check_staged_days(staged, table_dir.name, days)
    staging = table_dir / f".staging-{uuid.uuid4().hex}"
    staging.mkdir(parents=True)
    try:
        moved = {
            day: Path(shutil.move(staged.files[day], staging / f"{day.isoformat()}.parquet"))
            for day in days
        }
        published = {}
        for day in days:
            published[day] = partition_file(table_dir, day)
            _publish(moved[day], published[day])
        return published
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _staged_days(staging: Path, column: str) -> dict[date, Path]:
    days: dict[date, Path] = {}
    for folder in staging.iterdir():
        files = list(folder.glob("*.parquet"))
        if not folder.name.startswith(f"{column}=") or len(files) != 1:
            msg = f"unexpected staging layout {folder} ({len(files)} files); expected one file"
            raise RuntimeError(msg)
        value = folder.name.split("=", 1)[1]
        try:
            days[date.fromisoformat(value)] = files[0]
        except ValueError as error:  # Polars names the folder of null keys __HIVE_DEFAULT_...
            msg = f"{staging.parent.name}: rows with no {column} ({value}); every row needs a day"
            raise PartitionMismatchError(msg) from error
    return days


def ingested_content_hash(raw_partition: Path) -> str | None:
    """The `_content_hash` of the delivery a raw partition holds: None if the partition does
    not exist, `EMPTY_PARTITION` if it holds no rows (a header-only delivery).
    """
    if not raw_partition.exists():
        return None
    hashes = pl.scan_parquet(raw_partition).select("_content_hash").head(1).collect()
    return hashes.item() if hashes.height else EMPTY_PARTITION


def ingested_snapshot_hashes(table_dir: Path) -> dict[str, str]:
    """Delivery file -> `_content_hash` of every snapshot an unpartitioned raw table holds."""
    file = table_dir / UNPARTITIONED_FILE
    if not file.exists():
        return {}
    held = pl.scan_parquet(file).select("_source_file", "_content_hash").unique().collect()
    return dict(held.iter_rows())


def stored_row_counts(table_dir: Path, days: Sequence[date]) -> pl.DataFrame:
    """Rows per stored partition among `days` (day, rows), read from the Parquet footers only;
    days never written are left out.
    """
    counts = [
        (day, pl.scan_parquet(file).select(pl.len()).collect().item())
        for day in days
        if (file := partition_file(table_dir, day)).exists()
    ]
    return pl.DataFrame(counts, schema={"day": pl.Date, "rows": pl.Int64}, orient="row")


def write_table(frame: pl.LazyFrame, path: Path) -> None:
    """Replace an unpartitioned table file atomically."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    try:
        frame.sink_parquet(tmp)
        _publish(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def present_partition_files(table_dir: Path, days: Sequence[date]) -> list[Path]:
    """The file of each of the given partitions.

    Raises:
        MissingPartitionError: a day has never been written; the message says which.
    """
    files = [partition_file(table_dir, day) for day in days]
    missing = [day for day, file in zip(days, files, strict=True) if not file.exists()]
    if missing:
        raise MissingPartitionError(missing_partitions_message(table_dir.name, missing))
    return files


def scan_files(files: Sequence[Path | str], schema: pl.Schema | None = None) -> pl.LazyFrame:
    """One lazy scan over exactly these partition files (paths or object-store URIs), read
    with `schema`, by default the newest (last) file's: older partitions written before a
    column was added get it as nulls, and narrower integers are widened.
    """
    names = [str(f) for f in files]
    # The partition column is stored in the files; hive parsing would add it a second time.
    return pl.scan_parquet(
        names,
        hive_partitioning=False,
        schema=schema if schema is not None else pl.scan_parquet(names[-1]).collect_schema(),
        missing_columns="insert",
        cast_options=pl.ScanCastOptions(integer_cast="upcast"),
    )


def scan_partitions(table_dir: Path, days: Sequence[date]) -> pl.LazyFrame:
    """One lazy scan over exactly the given partitions: no other file is listed or opened.

    Raises:
        MissingPartitionError: a day has never been written; the message says which.
    """
    return scan_files(present_partition_files(table_dir, days))


def _partition_column(context: dg.OutputContext) -> str:
    """The Date column a partitioned output is split on (its `partition_expr` metadata)."""
    column = context.definition_metadata.get(PARTITION_EXPR)
    if not column:
        name = context.asset_key.to_user_string()
        msg = f"{name} needs a '{PARTITION_EXPR}' metadata entry naming its Date column"
        raise dg.DagsterInvariantViolationError(msg)
    return str(column)


def table_dir(base_dir: str, asset_key: dg.AssetKey) -> Path:
    """The folder of one asset's table in the lake: `<base>/<layer>/<table>`."""
    return Path(base_dir).joinpath(*asset_key.path)


class Lake(dg.ConfigurableResource):
    """The lake's location, for code that reads it outside the IO manager (sensors)."""

    base_dir: str = Field(description="Root folder of the lake.")

    def table_dir(self, asset_key: dg.AssetKey) -> Path:
        """The folder of one asset's table."""
        return table_dir(self.base_dir, asset_key)


@dataclass(frozen=True)
class DailyScan:
    """A daily table's partitions for a run, for a step that reads them a chunk of days at a
    time: an input annotated `DailyScan` gets one instead of a LazyFrame.

    A scan of some days opens only their files. Filtering one scan of the whole range on the
    date opened every file of the range again for each chunk (a year of flights at 50x: 17
    chunks x 365 files, ~2 s of the staging and fact steps).

    Attributes:
        days: The run's days, in order.
        schema: The table's schema (its newest partition's), the same for every chunk.
        scan_days: Scans the files of some days with a given schema.
    """

    days: tuple[date, ...]
    schema: pl.Schema
    scan_days: Callable[[Sequence[date], pl.Schema], pl.LazyFrame]

    def scan(self, days: Sequence[date] | None = None) -> pl.LazyFrame:
        """The rows of `days` (some of the run's days), or of every day of the run.

        Raises:
            ValueError: a day is not one of the run's.
        """
        if days is None:
            return self.scan_days(self.days, self.schema)
        outside = sorted(set(days) - set(self.days))
        if outside:
            msg = f"days outside the run's partitions: {shown_days(outside)}"
            raise ValueError(msg)
        return self.scan_days(days, self.schema)


class ParquetIOManager(dg.ConfigurableIOManager):
    """Stores Polars frames in the lake as `<base>/<layer>/<table>/date=YYYY-MM-DD/part-0.parquet`
    (unpartitioned: `<base>/<layer>/<table>/data.parquet`) and loads them as LazyFrames that scan
    only the partitions the run maps to (a DataFrame or a `DailyScan` if the input is
    annotated so). Partitioned assets name their Date column in the
    `partition_expr` metadata entry.

    A `base_dir` URI such as `s3://bucket/lake` stores the same tables on an object store,
    published through manifests instead of renames (`object_lake`).
    """

    base_dir: str = Field(description="Root folder of the lake.")

    def table_dir(self, asset_key: dg.AssetKey) -> Path:
        """The folder of one asset's table."""
        return table_dir(self.base_dir, asset_key)

    def handle_output(
        self,
        context: dg.OutputContext,
        obj: pl.DataFrame | pl.LazyFrame | StagedPartitions | None,
    ) -> None:
        """Publish the output, replacing exactly the partitions of this run."""
        if obj is None:
            return
        if isinstance(obj, StagedPartitions):
            self._publish_staged(context, obj)
            return
        frame = obj.lazy()
        if object_lake.is_object_store(self.base_dir):
            self._handle_object_output(context, frame)
            return
        table_dir = self.table_dir(context.asset_key)
        if context.has_asset_partitions:
            column = _partition_column(context)
            days = keys_to_dates(context.asset_partition_keys)
            write_partitions(frame, table_dir, column, days)
            context.add_output_metadata({"path": dg.MetadataValue.path(str(table_dir))})
        else:
            path = table_dir / UNPARTITIONED_FILE
            write_table(frame, path)
            context.add_output_metadata({"path": dg.MetadataValue.path(str(path))})

    def _publish_staged(self, context: dg.OutputContext, staged: StagedPartitions) -> None:
        if not context.has_asset_partitions:
            name = context.asset_key.to_user_string()
            msg = f"{name} returned staged daily partitions but is not partitioned"
            raise dg.DagsterInvariantViolationError(msg)
        days = keys_to_dates(context.asset_partition_keys)
        if object_lake.is_object_store(self.base_dir):
            check_staged_days(staged, context.asset_key.to_user_string(), days)
            # The object store publishes through its own partitioned sink (not bounded by a day).
            self._handle_object_output(context, staged.scan())
            return
        table_dir = self.table_dir(context.asset_key)
        publish_staged(staged, table_dir, days)
        context.add_output_metadata({"path": dg.MetadataValue.path(str(table_dir))})

    def load_input(self, context: dg.InputContext) -> pl.LazyFrame | pl.DataFrame | DailyScan:
        """A LazyFrame (or DataFrame, or DailyScan, if the input is annotated so) over the
        mapped partitions.
        """
        if context.dagster_type.typing_type is DailyScan:
            return self._daily_scan(context)
        if context.has_asset_partitions:
            days = keys_to_dates(context.asset_partition_keys)
            frame = scan_files(self._partition_files(context.asset_key, days))
        elif object_lake.is_object_store(self.base_dir):
            frame = self._load_object_table(context.asset_key)
        else:
            path = self.table_dir(context.asset_key) / UNPARTITIONED_FILE
            if not path.exists():
                name = context.asset_key.to_user_string()
                msg = f"{name} has no data at {path}; materialize it first"
                raise MissingPartitionError(msg)
            frame = pl.scan_parquet(path)
        if context.dagster_type.typing_type is pl.DataFrame:
            return frame.collect()
        return frame

    def _daily_scan(self, context: dg.InputContext) -> DailyScan:
        if not context.has_asset_partitions:
            name = context.asset_key.to_user_string()
            msg = f"input {context.name!r} asks for a DailyScan but {name} is not partitioned"
            raise dg.DagsterInvariantViolationError(msg)
        days = tuple(keys_to_dates(context.asset_partition_keys))
        # The files are found once, now: a missing day fails the step before it starts, and
        # every chunk reads the version of its days the run started with.
        files = self._partition_files(context.asset_key, days)
        file_of = dict(zip(days, files, strict=True))

        def scan_days(chosen: Sequence[date], schema: pl.Schema) -> pl.LazyFrame:
            return scan_files([file_of[day] for day in chosen], schema)

        return DailyScan(days=days, schema=scan_files(files).collect_schema(), scan_days=scan_days)

    def _partition_files(self, asset_key: dg.AssetKey, days: Sequence[date]) -> list[Path | str]:
        """The current file of each day of a table, on disk or on the object store.

        Raises:
            MissingPartitionError: a day has never been published; the message says which.
        """
        if not object_lake.is_object_store(self.base_dir):
            return list(present_partition_files(self.table_dir(asset_key), days))
        try:
            return list(object_lake.partition_files(self._table_uri(asset_key), days))
        except object_lake.ObjectStoreMissingError as error:
            raise MissingPartitionError(str(error)) from error

    def _table_uri(self, asset_key: dg.AssetKey) -> str:
        return object_lake.join(self.base_dir, *asset_key.path)

    def _handle_object_output(self, context: dg.OutputContext, frame: pl.LazyFrame) -> None:
        table_uri = self._table_uri(context.asset_key)
        if context.has_asset_partitions:
            column = _partition_column(context)
            days = keys_to_dates(context.asset_partition_keys)
            try:
                object_lake.write_partitions(frame, table_uri, column, days)
            except object_lake.ObjectStorePartitionError as error:
                raise PartitionMismatchError(str(error)) from error
            context.add_output_metadata({"uri": dg.MetadataValue.url(table_uri)})
        else:
            path = object_lake.write_table(frame, table_uri)
            context.add_output_metadata({"uri": dg.MetadataValue.url(path)})

    def _load_object_table(self, asset_key: dg.AssetKey) -> pl.LazyFrame:
        try:
            return object_lake.scan_table(self._table_uri(asset_key))
        except object_lake.ObjectStoreMissingError as error:
            raise MissingPartitionError(str(error)) from error
