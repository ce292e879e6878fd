"""The warehouse: Polars frames as DuckDB tables, each partition replaced in one transaction.

Unlike the stock dagster-duckdb IO managers, a partition's delete and insert commit together
(dagster#14091), an empty output is an empty partition and deletes nothing else (#13287), rows
are inserted by column name, identifiers are quoted, and connections are closed on error.
"""

import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

import dagster as dg
import duckdb
import polars as pl
from dagster_duckdb import DuckDBResource
from duckdb import DuckDBPyConnection
from pydantic import Field

from lakehouse.dates import date_span, keys_to_dates
from lakehouse.resources.parquet_io import (
    PARTITION_EXPR,
    MissingPartitionError,
    PartitionMismatchError,
)
from lakehouse.sql import quote, table_name

_INCOMING = "_lakehouse_incoming"
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (.+?)(?: \(PID (\d+)\))?(?:\.\s|\.?$)")


class SchemaDriftError(Exception):
    """An output's columns no longer match the warehouse table's."""


class WarehouseLockedError(Exception):
    """The warehouse file stayed locked by another process past the retry budget."""


@dataclass(frozen=True)
class ColumnChanges:
    """How an output's columns differ from the table's."""

    added: list[tuple[str, str]]  # (column, type) new in the output
    removed: list[str]  # in the table, not in the output
    retyped: list[tuple[str, str, str]]  # (column, table type, output type)


def diff_columns(table: dict[str, str], incoming: dict[str, str]) -> ColumnChanges:
    """Compare column name -> DuckDB type maps of the table and of the incoming output.

    An all-null column of an empty output has DuckDB type NULL; it fits any table type.
    """
    return ColumnChanges(
        added=[(name, kind) for name, kind in incoming.items() if name not in table],
        removed=[name for name in table if name not in incoming],
        retyped=[
            (name, table[name], kind)
            for name, kind in incoming.items()
            if name in table and table[name] != kind and kind != '"NULL"'
        ],
    )


def drift_message(qualified: str, changes: ColumnChanges) -> str | None:
    """Why the output cannot be written to the table, or None if it can (added columns can)."""
    problems = [f"{qualified}.{name} is missing from the output" for name in changes.removed]
    problems += [f"{qualified}.{name} changed {old} -> {new}" for name, old, new in changes.retyped]
    if not problems:
        return None
    return (
        "; ".join(problems)
        + ". Restore the column in the transform, or migrate the table (ALTER TABLE, or drop it"
        " and backfill)."
    )


def partition_predicate(column: str, days: Sequence[date]) -> tuple[str, list[date]]:
    """The WHERE clause (with bound values) selecting the span of `days` in `column`."""
    start, end = date_span(days)
    return f"{quote(column)} BETWEEN ? AND ?", [start, end]


class DuckDBWarehouseIOManager(dg.ConfigurableIOManager):
    """Stores Polars frames as tables `"<layer>"."<table>"` in the DuckDB warehouse.

    Partitioned assets name their Date column in the `partition_expr` metadata entry; a run
    replaces exactly its partition range.
    """

    duckdb: dg.ResourceDependency[DuckDBResource]
    lock_retries: int = Field(default=20, description="Attempts to open a locked warehouse.")
    lock_wait_seconds: float = Field(default=0.5, description="Wait between those attempts.")

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[DuckDBPyConnection]:
        """A connection that is always closed, waiting a bounded time for a locked file."""
        attempt = 0
        while True:
            try:
                con = duckdb.connect(
                    self.duckdb.database,
                    read_only=read_only,
                    config=dict(self.duckdb.connection_config),
                )
                break
            except duckdb.IOException as error:
                holder = _LOCK_HOLDER.search(str(error))
                attempt += 1
                if holder is None:
                    raise
                if attempt >= self.lock_retries:
                    msg = (
                        f"warehouse {self.duckdb.database} is locked by {holder.group(1)}"
                        f"{' (PID ' + holder.group(2) + ')' if holder.group(2) else ''} after "
                        f"{attempt} attempts; stop that process or wait for it to finish"
                    )
                    raise WarehouseLockedError(msg) from error
                time.sleep(self.lock_wait_seconds)
        try:
            yield con
        finally:
            con.close()

    def handle_output(
        self, context: dg.OutputContext, obj: pl.DataFrame | pl.LazyFrame | None
    ) -> None:
        """Replace the run's partitions (or the whole table) in one transaction."""
        if obj is None:
            return
        frame = obj.collect() if isinstance(obj, pl.LazyFrame) else obj
        schema, table = context.asset_key.path[0], context.asset_key.path[-1]
        qualified = table_name(schema, table)
        where: str = "TRUE"
        params: list[date] = []
        if context.has_asset_partitions:
            column = context.definition_metadata[PARTITION_EXPR]
            days = keys_to_dates(context.asset_partition_keys)
            check_within(frame, column, days, qualified)
            where, params = partition_predicate(column, days)
        with self.connect() as con:
            con.begin()
            try:
                con.register(_INCOMING, frame)
                self._ensure_table(con, schema, table)
                con.execute(f"DELETE FROM {qualified} WHERE {where}", params)
                con.execute(f"INSERT INTO {qualified} BY NAME SELECT * FROM {_INCOMING}")
                con.commit()
            except BaseException:
                con.rollback()
                raise
            finally:
                con.unregister(_INCOMING)
        context.add_output_metadata({"table": dg.MetadataValue.text(f"{schema}.{table}")})

    @staticmethod
    def _ensure_table(con: DuckDBPyConnection, schema: str, table: str) -> None:
        qualified = table_name(schema, table)
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
        existing = dict(
            con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
                [schema, table],
            ).fetchall()
        )
        if not existing:
            con.execute(f"CREATE TABLE {qualified} AS SELECT * FROM {_INCOMING} LIMIT 0")
            return
        incoming = {
            name: kind
            for name, kind, *_ in con.execute(f"DESCRIBE SELECT * FROM {_INCOMING}").fetchall()
        }
        changes = diff_columns(existing, incoming)
        problem = drift_message(f"{schema}.{table}", changes)
        if problem:
            raise SchemaDriftError(problem)
        for name, kind in changes.added:
            con.execute(f"ALTER TABLE {qualified} ADD COLUMN {quote(name)} {kind}")

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        """The table, or the run's partition range of it, with its schema even when empty."""
        schema, table = context.asset_key.path[0], context.asset_key.path[-1]
        where: str = "TRUE"
        params: list[date] = []
        if context.has_asset_partitions:
            upstream = context.upstream_output
            column = upstream.definition_metadata[PARTITION_EXPR] if upstream else None
            if column is None:
                msg = f"{schema}.{table} is partitioned but has no '{PARTITION_EXPR}' metadata"
                raise dg.DagsterInvariantViolationError(msg)
            where, params = partition_predicate(column, keys_to_dates(context.asset_partition_keys))
        with self.connect(read_only=True) as con:
            exists = con.execute(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_schema = ? AND table_name = ?",
                [schema, table],
            ).fetchall()
            if exists != [(1,)]:
                msg = (
                    f"{schema}.{table} has never been materialized in {self.duckdb.database}; "
                    f"materialize {context.asset_key.to_user_string()} first"
                )
                raise MissingPartitionError(msg)
            frame = con.sql(
                f"SELECT * FROM {table_name(schema, table)} WHERE {where}", params=params
            ).pl()
        return as_utc(frame)


def as_utc(frame: pl.DataFrame) -> pl.DataFrame:
    """DuckDB returns TIMESTAMPTZ columns in zone `Etc/UTC`; name it `UTC` as the lake does, so
    frames from both stores join on timestamps.
    """
    return frame.with_columns(
        pl.col(name).dt.convert_time_zone("UTC")
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.Datetime) and dtype.time_zone == "Etc/UTC"
    )


def check_within(frame: pl.DataFrame, column: str, days: Sequence[date], qualified: str) -> None:
    """Rows outside the partitions being replaced would be inserted without their old rows being
    deleted: refuse them.
    """
    outside = frame.filter(pl.col(column).is_null() | ~pl.col(column).is_in(list(days)))
    if outside.height:
        shown = ", ".join(str(v) for v in outside[column].unique().sort().head(5))
        msg = (
            f"{qualified}: {outside.height} row(s) have {column} outside this run's partitions "
            f"({shown}); fix the transform or the partition mapping"
        )
        raise PartitionMismatchError(msg)
