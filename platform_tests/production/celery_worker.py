"""The Celery app the test workers run: lakehouse's own, plus one fault the test can arm.

When the file named by LAKEHOUSE_TEST_KILL_FLAG exists, the worker process writing
`marts/fct_flights` deletes the table's rows inside its open transaction and then dies by
SIGKILL, as a machine lost mid-step would: the delete must never become visible.
"""

import os
import signal
from pathlib import Path

import polars as pl
from duckdb import DuckDBPyConnection

from lakehouse.deploy.celery_app import app, execute_plan
from lakehouse.resources.warehouse_io import DuckDBWarehouseIOManager

__all__ = ["app", "execute_plan"]
_ensure_table = DuckDBWarehouseIOManager._ensure_table


def _ensure_table_or_die(
    con: DuckDBPyConnection, schema: str, table: str, columns: pl.Schema
) -> None:
    _ensure_table(con, schema, table, columns)
    flag = Path(os.environ.get("LAKEHOUSE_TEST_KILL_FLAG", "/nonexistent"))
    if table == "fct_flights" and flag.exists():
        flag.unlink()
        con.execute('DELETE FROM "marts"."fct_flights"')
        os.kill(os.getpid(), signal.SIGKILL)


DuckDBWarehouseIOManager._ensure_table = staticmethod(_ensure_table_or_die)  # type: ignore[method-assign]
