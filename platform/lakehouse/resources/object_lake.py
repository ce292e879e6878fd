"""The lake on an object store (S3 and compatible), where there is no rename.

A partition folder holds immutable data files with unique names and one small manifest,
`_manifest.json`, naming the current file. Writing one object is atomic on S3, so the manifest
is the commit: data files are written first (one streaming partitioned sink, as on a local
disk), and only when all of them are complete are the manifests written. A reader reads the
manifest, then the file it names: it sees the old or the new partition, never half of one, and
a write that dies before its manifests leaves the previous partition exactly as it was.

The previous file of each partition is kept one generation (a reader that read the old manifest
a moment ago can still open its file) and deleted when the partition is replaced again.

Connection settings come from the standard AWS variables (`AWS_ENDPOINT_URL`,
`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, and `AWS_ALLOW_HTTP=true` for a
plain-HTTP endpoint), which Polars and s3fs both read: no credential is ever in a config file.
"""

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import fsspec
import polars as pl

from lakehouse.dates import missing_partitions_message

MANIFEST = "_manifest.json"


class ObjectStoreMissingError(Exception):
    """A partition or table the run needs has no manifest: it was never published."""


class ObjectStorePartitionError(Exception):
    """An output holds rows for partitions the run is not writing, or rows with no day."""


def is_object_store(base: str) -> bool:
    """True for a URI with a scheme other than `file` (`s3://bucket/lake`); False for a path."""
    scheme, sep, _ = base.partition("://")
    return bool(sep) and scheme not in {"", "file"}


def join(base: str, *parts: str) -> str:
    """`base/part/...` for URIs (which `pathlib` would mangle: `s3://` -> `s3:/`)."""
    return "/".join([base.rstrip("/"), *parts])


def partition_uri(table_uri: str, day: date) -> str:
    """The folder of one daily partition."""
    return join(table_uri, f"date={day.isoformat()}")


def _fs(uri: str) -> Any:  # fsspec has no type hints
    return fsspec.core.url_to_fs(uri)[0]


def _manifest(file_name: str, rows: int, previous: str | None) -> bytes:
    return json.dumps(
        {
            "file": file_name,
            "rows": rows,
            "previous": previous,
            "published_at": datetime.now(UTC).isoformat(),
        }
    ).encode()


def _read_manifests(fs: Any, folders: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The manifests of the folders that have one (fetched concurrently), by folder."""
    paths = {fs._strip_protocol(join(folder, MANIFEST)): folder for folder in folders}  # noqa: SLF001
    found = fs.cat(list(paths), on_error="omit")
    return {paths[path]: json.loads(body) for path, body in found.items()}


def publish(fs: Any, files: dict[str, tuple[str, int]]) -> None:
    """Point each folder's manifest at its new file (folder -> (file name, rows)), then delete
    the generation before the previous one.
    """
    old = _read_manifests(fs, list(files))
    fs.pipe(
        {
            fs._strip_protocol(join(folder, MANIFEST)): _manifest(  # noqa: SLF001
                name, rows, old.get(folder, {}).get("file")
            )
            for folder, (name, rows) in files.items()
        }
    )
    stale = [
        join(folder, manifest["previous"])
        for folder, manifest in old.items()
        if manifest.get("previous") and manifest["previous"] != files[folder][0]
    ]
    if stale:
        fs.rm(stale)


def write_partitions(
    frame: pl.LazyFrame, table_uri: str, column: str, days: Sequence[date]
) -> dict[date, str]:
    """Replace the given daily partitions of a table with the rows of `frame`.

    Rows are split on `column` by one streaming sink straight into uniquely named files of the
    partition folders (nobody reads them until a manifest names them); then every partition's
    manifest is published. A day without rows gets an empty file carrying the schema.

    Raises:
        ObjectStorePartitionError: rows outside `days` or with no day; nothing is published.
    """
    fs = _fs(table_uri)
    name = f"part-{uuid.uuid4().hex}.parquet"
    written: dict[date | None, tuple[str, int]] = {}

    def file_path(args: pl.io.partition.FileProviderArgs) -> str:
        return f"date={args.partition_keys[column][0]}/{name}"

    def record(args: pl.io.partition.SinkedPathsCallbackArgs) -> None:
        for sinked in args.paths:
            folder = sinked.path.rsplit("/", 2)[-2].removeprefix("date=")
            day = None if folder == "None" else date.fromisoformat(folder)
            written[day] = (sinked.path, sinked.num_rows)

    frame.sink_parquet(
        pl.PartitionBy(
            table_uri,
            key=column,
            include_key=True,
            approximate_bytes_per_file=None,
            file_path_provider=file_path,
        ),
        sinked_paths_callback=record,
    )
    unexpected = sorted((d for d in written if d not in set(days)), key=str)
    if unexpected:
        fs.rm([path for day, (path, _) in written.items() if day in unexpected])
        shown = ", ".join(str(d) for d in unexpected[:5])
        msg = (
            f"{table_uri}: {column} has rows for {len(unexpected)} day(s) outside the partitions "
            f"being written ({shown}); fix the transform or the partition mapping"
        )
        raise ObjectStorePartitionError(msg)
    empty = pl.DataFrame(schema=frame.collect_schema())
    for day in days:
        if day not in written:
            path = join(partition_uri(table_uri, day), name)
            with fs.open(path, "wb") as out:
                empty.write_parquet(out)
            written[day] = (path, 0)
    publish(fs, {partition_uri(table_uri, d): (name, written[d][1]) for d in days})
    return {day: written[day][0] for day in days}


def write_table(frame: pl.LazyFrame, table_uri: str) -> str:
    """Replace an unpartitioned table: a new data file, then the table's manifest."""
    fs = _fs(table_uri)
    name = f"data-{uuid.uuid4().hex}.parquet"
    table = frame.collect()
    with fs.open(join(table_uri, name), "wb") as out:
        table.write_parquet(out)
    publish(fs, {table_uri: (name, table.height)})
    return join(table_uri, name)


def partition_files(table_uri: str, days: Sequence[date]) -> list[str]:
    """The current file of each of the given partitions, from their manifests (read once, so
    a scan of them reads one version of each day even if another run republishes it).

    Raises:
        ObjectStoreMissingError: a day has never been published; the message says which.
    """
    folders = [partition_uri(table_uri, day) for day in days]
    manifests = _read_manifests(_fs(table_uri), folders)
    missing = [day for day, folder in zip(days, folders, strict=True) if folder not in manifests]
    if missing:
        raise ObjectStoreMissingError(missing_partitions_message(table_uri, missing))
    return [join(folder, manifests[folder]["file"]) for folder in folders]


def scan_table(table_uri: str) -> pl.LazyFrame:
    """The current file of an unpartitioned table."""
    manifests = _read_manifests(_fs(table_uri), [table_uri])
    if table_uri not in manifests:
        msg = f"{table_uri} has never been published; materialize it first"
        raise ObjectStoreMissingError(msg)
    return pl.scan_parquet(join(table_uri, manifests[table_uri]["file"]))
