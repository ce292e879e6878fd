"""The read side of the lakehouse: `warehouse.duckdb`, a DuckDB file of views over the lake's
published table versions.

Readers (the `duckdb` CLI, a notebook, a BI tool) open it read-only. Writers never open it:
after each commit they build a new catalog beside it and rename it into place, so a reader
never blocks or delays a write, and a reader holding the file open keeps the version it opened
(every view names the exact Parquet files of one committed table version, which stay on disk
through Delta's retention period). Staged tables are committed only once their blocking
checks pass, so the catalog never shows unaudited rows.

Publishing is a short critical section under a lock file: writers of different tables wait
for each other only while a catalog of views is written (milliseconds).
"""

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl
from deltalake import DeltaTable

from lakehouse.resources.delta_tables import (
    DeltaStore,
    in_every_file,
    is_object_store,
    table_schema,
)
from lakehouse.sql import quote, table_name


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def duckdb_types(con: duckdb.DuckDBPyConnection, schema: pl.Schema) -> dict[str, str]:
    """The DuckDB type of each column of a Polars schema (as DuckDB reads such a frame)."""
    empty = con.from_arrow(pl.DataFrame(schema=schema).to_arrow())
    return {name: str(kind) for name, kind in zip(empty.columns, empty.types, strict=True)}


def view_sql(con: duckdb.DuckDBPyConnection, table: DeltaTable) -> str:
    """A SELECT reading exactly the files of a table version, its columns in table order."""
    schema = table_schema(table)
    types = duckdb_types(con, schema)
    partitions = table.metadata().partition_columns
    files = table.file_uris()
    if not files:
        columns = ", ".join(f"CAST(NULL AS {types[n]}) AS {quote(n)}" for n in schema)
        return f"SELECT {columns} WHERE FALSE"
    listed = ", ".join(_literal(f) for f in files)
    hive = ", ".join(f"{_literal(c)}: {_literal(types[c])}" for c in partitions)
    options = f", hive_partitioning = true, hive_types = {{{hive}}}" if partitions else ""
    # Files of one shape are bound by the first one's columns; otherwise DuckDB reads every
    # file's footer to fill the columns older files lack with nulls.
    union = "false" if in_every_file(table) else "true"
    select = ", ".join(quote(n) for n in schema)
    return f"SELECT {select} FROM read_parquet([{listed}], union_by_name = {union}{options})"


class Catalog:
    """The DuckDB file of views over a local lake's tables."""

    def __init__(self, path: Path, store: DeltaStore) -> None:
        self.path = path
        self.store = store

    @contextmanager
    def _publishing(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with (self.path.parent / f".{self.path.name}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def publish(self, tables: Iterable[Sequence[str]] | None = None) -> None:
        """Point the views of `tables` (key parts, e.g. `["marts", "fct_flights"]`; default:
        every table of the lake) at their newest versions, in a new catalog renamed into place.
        """
        if is_object_store(self.store.root):
            return  # DuckDB reads an object store only through extensions it cannot get here
        with self._publishing():
            chosen = list(tables) if tables is not None else list(self.store.tables())
            fd, scratch = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
            os.close(fd)
            Path(scratch).unlink()
            try:
                if self.path.exists():
                    shutil.copyfile(self.path, scratch)
                with duckdb.connect(scratch) as con:
                    for parts in chosen:
                        self._define(con, list(parts))
                    con.execute("CHECKPOINT")
                Path(scratch).replace(self.path)
            finally:
                Path(scratch).unlink(missing_ok=True)

    def _define(self, con: duckdb.DuckDBPyConnection, parts: list[str]) -> None:
        schema, name = parts[0], "__".join(parts[1:])
        table = self.store.open(self.store.uri(parts))
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
        if table is None:
            con.execute(f"DROP VIEW IF EXISTS {table_name(schema, name)}")
            return
        con.execute(f"CREATE OR REPLACE VIEW {table_name(schema, name)} AS {view_sql(con, table)}")
