"""Marts declared in YAML (`defs/marts/<name>/defs.yaml`): a DuckDB SQL file or a Polars
function over the mart's inputs, stored in the warehouse with its own partitions.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import dagster as dg
import duckdb
import polars as pl

from lakehouse.assets.automation import PROPAGATE_OVER_DAYS_PRESENT
from lakehouse.assets.metadata import (
    add_row_counts,
    column_schema,
    definition_metadata,
    markdown_preview,
    output_metadata,
)
from lakehouse.declarations import MartSpec, resolve
from lakehouse.resources.lake_io import ALLOW_MISSING
from lakehouse.resources.partitioning import PARTITION_EXPR


class MartResultError(Exception):
    """A declared mart's query returned other columns than it declares."""


def mart_partitions(spec: MartSpec) -> dg.PartitionsDefinition | None:
    """The mart's own partitions, from its declaration."""
    if spec.partitions is None or spec.start is None:
        return None
    if spec.partitions == "monthly":
        end = spec.end.replace(day=1).isoformat() if spec.end else None
        # A month is complete only once it ended; `end` names the last month, inclusive.
        return dg.MonthlyPartitionsDefinition(
            start_date=spec.start.isoformat(), end_date=_month_after(end) if end else None
        )
    end_day = spec.end.isoformat() if spec.end else None
    return dg.DailyPartitionsDefinition(start_date=spec.start.isoformat(), end_date=end_day)


def _month_after(first_of_month: str) -> str:
    year, month = int(first_of_month[:4]), int(first_of_month[5:7])
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return f"{year:04d}-{month:02d}-01"


def run_sql(sql: str, inputs: Mapping[str, pl.DataFrame | pl.LazyFrame]) -> pl.DataFrame:
    """A SQL query over the inputs, each a table named by its input name (in-memory DuckDB)."""
    with duckdb.connect() as con:
        for name, frame in inputs.items():
            con.register(name, frame.lazy().collect().to_arrow())
        return con.sql(sql).pl()


def conform(result: pl.DataFrame, spec: MartSpec) -> pl.DataFrame:
    """The query's result with exactly the declared columns, in order, of the declared types.

    Raises:
        MartResultError: a declared column is missing or an undeclared one is returned.
    """
    declared = [c.name for c in spec.columns]
    missing = [c for c in declared if c not in result.columns]
    extra = [c for c in result.columns if c not in declared]
    if missing or extra:
        msg = (
            f"marts/{spec.name}: the query returns {result.columns}; declared {declared} "
            f"(missing {missing}, undeclared {extra}); fix the query or the declaration"
        )
        raise MartResultError(msg)
    return result.select(pl.col(c.name).cast(c.dtype) for c in spec.columns)


def build_mart(spec: MartSpec, folder: Path) -> dg.AssetsDefinition:
    """The warehouse asset of a declared mart.

    Raises:
        FileNotFoundError: its SQL file does not exist.
    """
    sql = spec.query or ((folder / spec.sql).read_text() if spec.sql else None)
    function = resolve(spec.function, f"marts/{spec.name}.function") if spec.function else None
    partitions = mart_partitions(spec)
    table = spec.spec
    ins = {
        # A period's mart is built from the days of it that arrived: a month need not be
        # complete (nor every day delivered) to be reported.
        name: dg.AssetIn(key.split("/"), metadata={ALLOW_MISSING: True})
        for name, key in spec.inputs.items()
    }

    @dg.asset(
        key=["marts", spec.name],
        description=spec.description,
        group_name="marts",
        kinds={"duckdb", "sql"} if sql else {"duckdb", "polars"},
        owners=spec.owners,
        ins=ins,
        io_manager_key="warehouse_io_manager",
        pool="warehouse",
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run() if partitions else None,
        automation_condition=PROPAGATE_OVER_DAYS_PRESENT,
        metadata=definition_metadata(
            column_schema(table),
            **({PARTITION_EXPR: spec.partition_column} if partitions else {}),
        ),
        code_version="1",
    )
    def _mart(context: dg.AssetExecutionContext, **inputs: pl.LazyFrame) -> dg.Output[pl.DataFrame]:
        if sql is not None:
            result = run_sql(sql, inputs)
        else:
            produced = cast("Any", function)(**inputs)
            result = produced.collect() if isinstance(produced, pl.LazyFrame) else produced
        mart = conform(result, spec)
        if partitions is not None and spec.partition_column:
            add_row_counts(context, mart, spec.partition_column)
        return dg.Output(
            mart,
            metadata=output_metadata(mart, column_schema(table), preview=markdown_preview(mart)),
        )

    return _mart
