"""What the IO managers accept as an output (Polars frames, pandas or Arrow tables) and the
columns an input asks for.
"""

from typing import cast

import dagster as dg
import polars as pl

COLUMNS = "columns"
"""Input metadata naming the only columns to load (the stock dagster-duckdb convention)."""


class UnsupportedOutputError(TypeError):
    """An output of a type the stores cannot hold."""


def as_lazy(obj: object, asset: str) -> pl.LazyFrame:
    """An output as a LazyFrame: Polars frames as they are, pandas and Arrow tables converted.

    Raises:
        UnsupportedOutputError: any other type, naming the asset and what is accepted.
    """
    if isinstance(obj, pl.LazyFrame):
        return obj
    if isinstance(obj, pl.DataFrame):
        return obj.lazy()
    module = type(obj).__module__
    if module.startswith("pandas") and type(obj).__name__ == "DataFrame":
        return pl.from_pandas(obj).lazy()
    if module.startswith("pyarrow") and type(obj).__name__ in {"Table", "RecordBatch"}:
        return cast("pl.DataFrame", pl.from_arrow(obj)).lazy()
    msg = (
        f"{asset} returned a {type(obj).__name__}; the stores hold a polars DataFrame or "
        "LazyFrame (a pandas DataFrame or Arrow table is converted), or None to clear the run's "
        "partitions"
    )
    raise UnsupportedOutputError(msg)


def selected_columns(context: dg.InputContext) -> list[str] | None:
    """The columns an input asked for in its `columns` metadata; None means every column."""
    columns = (context.definition_metadata or {}).get(COLUMNS)
    if columns is None:
        return None
    if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
        msg = f"input {context.name!r}: '{COLUMNS}' metadata must be a list of column names"
        raise dg.DagsterInvariantViolationError(msg)
    return list(columns)
