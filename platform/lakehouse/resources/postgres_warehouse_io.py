"""The shared warehouse: the same tables as the DuckDB warehouse, in PostgreSQL.

For many writers on many machines. A DuckDB file admits one writing process; PostgreSQL is a
server with row-level MVCC, so runs on different machines write at once, and readers never
wait for writers. The contract is the DuckDB IO manager's (`warehouse_io`): a partition range
is replaced in ONE transaction (delete the range, insert by column name, commit), an empty
output is an empty partition, a new column is added, a removed or retyped column stops the
write naming it, identifiers are quoted and values bound.

Frames travel as Arrow through ADBC (`adbc-driver-postgresql`, which bundles libpq): the output
is bulk-copied into a temporary table, batch by batch (a LazyFrame output is never held whole),
then moved into the real table inside the transaction.
Writers of the same table take a transaction-scoped advisory lock first, so two runs replacing
overlapping ranges (or adding the same column) apply one after the other, never interleaved.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote as url_quote
from urllib.parse import urlsplit, urlunsplit

import dagster as dg
import polars as pl
from pydantic import Field

from lakehouse.resources.frames import as_lazy
from lakehouse.resources.partitioning import (
    MissingPartitionError,
    PartitionSlice,
    context_slice,
    numbered_placeholders,
)
from lakehouse.resources.warehouse_io import (
    INSERT_BATCH_ROWS,
    SchemaDriftError,
    batches,
    diff_columns,
    drift_message,
    select_list,
    selected_columns,
    warehouse_table,
)
from lakehouse.sql import quote, table_name

_INCOMING = "_lakehouse_incoming"
URL_ENV = "LAKEHOUSE_WAREHOUSE_URL"
PASSWORD_ENV = "LAKEHOUSE_WAREHOUSE_PASSWORD"


class WarehouseUnavailableError(Exception):
    """The PostgreSQL warehouse cannot be reached or refuses the login."""


def with_password(url: str, password: str) -> str:
    """`url` (postgresql://user@host:port/db, no secret in it) with the password added."""
    parts = urlsplit(url)
    if not password:
        return url
    netloc = f"{url_quote(parts.username or '', safe='')}:{url_quote(password, safe='')}@"
    netloc += parts.hostname or ""
    netloc += f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=netloc))


def describe(url: str) -> str:
    """Where the warehouse is, for messages: host, port and database, never the password."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 5432}/{parts.path.lstrip('/')}"


@contextmanager
def connect(url: str, password: str) -> Iterator[Any]:
    """An ADBC connection (autocommit off), always closed; a clear error if unreachable."""
    # Imported here: the driver costs every run process ~0.2 s, and only this warehouse needs it.
    import adbc_driver_postgresql.dbapi as pg  # noqa: PLC0415

    try:
        con = pg.connect(with_password(url, password))
    except pg.Error as error:
        reason = str(error).splitlines()[0]
        msg = (
            f"PostgreSQL warehouse at {describe(url)} is not reachable ({reason}); check "
            f"{URL_ENV} and {PASSWORD_ENV}, and that the server is running"
        )
        raise WarehouseUnavailableError(msg) from None
    try:
        yield con
    finally:
        con.close()


def _columns(cur: Any, relation: str) -> dict[str, str]:
    """Column name -> SQL type of a table (`relation` is a quoted, possibly qualified name)."""
    cur.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        parameters=(relation,),
    )
    return dict(cur.fetchall())


def _predicate(slice_: PartitionSlice | None, schema: pl.Schema) -> tuple[str, tuple[Any, ...]]:
    """The slice's condition with PostgreSQL placeholders, or TRUE for a whole table."""
    if slice_ is None:
        return "TRUE", ()
    where, params = slice_.where(schema)
    return numbered_placeholders(where), tuple(params)


def replace_rows(
    con: Any,
    schema: str,
    table: str,
    frame: pl.DataFrame | pl.LazyFrame,
    slice_: PartitionSlice | None,
    batch_rows: int = INSERT_BATCH_ROWS,
) -> None:
    """Replace the rows of `slice_` (or the whole table, if None) with `frame`, atomically;
    `frame` is copied over in batches of at most `batch_rows` rows.
    """
    qualified = table_name(schema, table)
    where, params = _predicate(slice_, frame.collect_schema())
    cur = con.cursor()
    try:
        # Concurrent CREATE SCHEMA IF NOT EXISTS can still collide: serialize it, and commit it
        # at once, so writers of other tables in the schema do not wait for this write.
        cur.execute("SELECT pg_advisory_xact_lock(hashtext($1))", parameters=(f"schema {schema}",))
        cur.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
        con.commit()
        cur.execute("SELECT pg_advisory_xact_lock(hashtext($1))", parameters=(qualified,))
        columns = frame.collect_schema()
        # Created from the schema alone, so an empty output still has typed columns.
        empty = pl.DataFrame(schema=columns)
        cur.adbc_ingest(_INCOMING, empty.to_arrow(), mode="create", temporary=True)
        for batch in batches(frame, batch_rows):
            cur.adbc_ingest(_INCOMING, batch.to_arrow(), mode="append", temporary=True)
        _ensure_table(cur, schema, table, columns)
        names = ", ".join(quote(name) for name in columns)
        cur.execute(f"DELETE FROM {qualified} WHERE {where}", parameters=params or None)
        cur.execute(f"INSERT INTO {qualified} ({names}) SELECT {names} FROM {quote(_INCOMING)}")
        cur.execute(f"DROP TABLE {quote(_INCOMING)}")
        con.commit()
    except BaseException:
        con.rollback()
        raise
    finally:
        cur.close()


def _ensure_table(cur: Any, schema: str, table: str, columns: pl.Schema) -> None:
    """Create the table like the incoming rows, or add their new columns; refuse drift."""
    qualified = table_name(schema, table)
    incoming = _columns(cur, quote(_INCOMING))
    # An all-null column has no type of its own (Arrow null -> text): it fits any type.
    incoming.update({n: '"NULL"' for n, t in columns.items() if t == pl.Null})
    existing = _columns(cur, qualified)
    changes = diff_columns(existing, incoming)
    problem = drift_message(f"{schema}.{table}", changes)
    if problem:
        raise SchemaDriftError(problem)
    if not existing:
        cur.execute(f"CREATE TABLE {qualified} (LIKE {quote(_INCOMING)})")
        return
    for name, kind in changes.added:
        cur.execute(f"ALTER TABLE {qualified} ADD COLUMN {quote(name)} {kind}")
    for name, kind in changes.typed:
        cur.execute(f"ALTER TABLE {qualified} ALTER COLUMN {quote(name)} TYPE {kind}")


def read_rows(
    con: Any,
    schema: str,
    table: str,
    slice_: PartitionSlice | None,
    columns: Sequence[str] | None = None,
) -> pl.DataFrame | None:
    """The table (or the slice of it; only `columns`, if given), or None if it was never
    written.
    """
    qualified = table_name(schema, table)
    cur = con.cursor()
    try:
        if not _columns(cur, qualified):
            return None
        cur.execute(f"SELECT * FROM {qualified} LIMIT 0")
        existing = pl.DataFrame(cur.fetch_arrow_table()).schema
        where, params = _predicate(slice_, existing)
        cur.execute(
            f"SELECT {select_list(columns)} FROM {qualified} WHERE {where}",
            parameters=params or None,
        )
        frame = pl.from_arrow(cur.fetch_arrow_table())
        con.rollback()  # end the read transaction
    finally:
        cur.close()
    assert isinstance(frame, pl.DataFrame)
    return frame


class PostgresWarehouseIOManager(dg.ConfigurableIOManager):
    """Stores Polars frames as tables `"<layer>"."<table>"` in a PostgreSQL warehouse.

    Same interface and guarantees as `DuckDBWarehouseIOManager`; partitioned assets name their
    Date column in the `partition_expr` metadata entry.
    """

    url: str = Field(description="postgresql://user@host:port/database (no password).")
    password: str = Field(
        default="", description=f"The login's password; pass EnvVar({PASSWORD_ENV!r})."
    )
    insert_batch_rows: int = Field(
        default=INSERT_BATCH_ROWS,
        gt=0,
        description="Rows copied per batch: an output is sent in batches of at most this many "
        "rows, all in the one transaction, so a LazyFrame output is never held whole.",
    )

    def handle_output(self, context: dg.OutputContext, obj: object) -> None:
        """Replace the run's partitions (or the whole table) in one transaction; None clears
        them, so nothing downstream reads stale rows.
        """
        schema, table = warehouse_table(context.asset_key)
        slice_ = context_slice(context)
        if obj is None:
            with connect(self.url, self.password) as con:
                frame = read_rows(con, schema, table, None, [])
                if frame is not None:
                    replace_rows(con, schema, table, frame.clear(), slice_)
            context.add_output_metadata({"table": f"{schema}.{table}", "cleared": True})
            return
        rows = (
            obj
            if isinstance(obj, pl.DataFrame)
            else as_lazy(obj, context.asset_key.to_user_string())
        )
        if slice_ is not None:
            slice_.check(rows.collect_schema())
            slice_.refuse_outside(rows)
        with connect(self.url, self.password) as con:
            replace_rows(con, schema, table, rows, slice_, self.insert_batch_rows)
        context.add_output_metadata({"table": dg.MetadataValue.text(f"{schema}.{table}")})

    def load_input(self, context: dg.InputContext) -> pl.DataFrame | None:
        """The table, or the input's partitions of it; only the input's `columns` if it
        names some; None for an Optional input never written.
        """
        schema, table = warehouse_table(context.asset_key)
        slice_ = context_slice(context)
        with connect(self.url, self.password) as con:
            frame = read_rows(con, schema, table, slice_, selected_columns(context))
        if frame is None:
            if type(None) in getattr(context.dagster_type.typing_type, "__args__", ()):
                return None
            if slice_ is not None and slice_.is_empty:
                return pl.DataFrame()
            msg = (
                f"{schema}.{table} has never been materialized in {describe(self.url)}; "
                f"materialize {context.asset_key.to_user_string()} first"
            )
            raise MissingPartitionError(msg)
        return frame
