"""Asset metadata built from table specs, so column names and descriptions are written once."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import dagster as dg
import polars as pl

from lakehouse.transforms.spec import TableSpec

OWNERS = ["team:data-platform"]
SCHEMA = "dagster/column_schema"
AS_OF_DAY = "lakehouse/reads_as_of_day"
"""Definition metadata of a partitioned asset: the unpartitioned dependencies (asset keys,
comma-separated) each of its days reads only as of that day, as the flights fact reads the plane
dimension's version valid on the flight's date. A snapshot dated D adds versions valid from D
on, so it can change only the days from D on."""


def column_schema(spec: TableSpec) -> dg.TableSchema:
    """The UI's column schema for a table spec."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=c.name,
                type=str(c.dtype),
                description=c.description,
                constraints=dg.TableColumnConstraints(unique=spec.key == (c.name,)),
            )
            for c in spec.columns
        ]
    )


def text_schema(columns: tuple[str, ...], extra: TableSpec) -> dg.TableSchema:
    """The column schema of a raw table: every delivered column as text, then `extra`."""
    delivered = [
        dg.TableColumn(name=name, type="String", description="as delivered") for name in columns
    ]
    return dg.TableSchema(columns=delivered + list(column_schema(extra).columns))


def definition_metadata(schema: dg.TableSchema, **extra: Any) -> dict[str, Any]:
    """Static metadata for an asset definition: its column schema (and e.g. partition_expr)."""
    return {"dagster/column_schema": schema, **extra}


def observed_schema(
    frame: pl.DataFrame | pl.LazyFrame, described: dg.TableSchema
) -> dg.TableSchema:
    """The column schema a frame really has, with the descriptions and constraints of the
    `described` columns it shares; a column the description lacks shows up bare.
    """
    known = {c.name: c for c in described.columns}
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=name,
                type=str(dtype),
                description=known[name].description if name in known else None,
                constraints=known[name].constraints if name in known else None,
            )
            for name, dtype in frame.collect_schema().items()
        ]
    )


def output_metadata(
    frame: pl.DataFrame | pl.LazyFrame,
    described: dg.TableSchema | None = None,
    *,
    rows: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Materialization metadata: the row count, the column schema the frame really has (what
    the schema-change checks compare between materializations), and anything asset-specific.

    A LazyFrame (rows spilled chunk by chunk) is not counted here: pass the `rows` the caller
    counted while producing it.
    """
    if rows is None:
        if isinstance(frame, pl.LazyFrame):
            msg = "output_metadata of a LazyFrame needs the rows counted by the caller"
            raise TypeError(msg)
        rows = frame.height
    metadata: dict[str, Any] = {"dagster/row_count": dg.MetadataValue.int(rows)}
    if described is not None:
        metadata["dagster/column_schema"] = observed_schema(frame, described)
    return {**metadata, **extra}


def daily_metadata(
    context: dg.AssetExecutionContext,
    asset_key: dg.AssetKey,
    rows_per_day: Mapping[date, int],
    metadata: Mapping[str, Any],
) -> dict[str, Any]:
    """The metadata of a daily output's materializations, each partition's its own: returns
    what the output itself carries.

    A run of one day: `metadata` as it is (its figures are that day's). A range run: each
    day gets its own `dagster/row_count` (a day missing from `rows_per_day` has none); the
    run's figures (counts, previews) are not any day's, so they are recorded once, as an
    observation of the asset over the range (its *Events* in the UI); the newest two days
    also carry the column schema, which the UI and the schema-change check read from the
    latest two materializations (copying it to every day cost ~0.9 s of a year's run).

    The UI shows the latest partition's count as the asset's "Row count" without saying so
    (776 for a 336,776-row table): `row_count_of` says whose count it is.
    """
    keys = list(context.partition_keys)
    schema = metadata.get(SCHEMA)
    for key in keys:
        rows = rows_per_day.get(date.fromisoformat(key), 0)
        own: dict[str, Any] = {
            "dagster/row_count": dg.MetadataValue.int(rows),
            "row_count_of": dg.MetadataValue.text(
                f"partition {key} only; the table's total: `lakehouse status`"
            ),
        }
        if len(keys) > 1 and schema is not None and key in keys[-2:]:
            own[SCHEMA] = schema
        context.add_asset_metadata(own, asset_key=asset_key, partition_key=key)
    if len(keys) <= 1:
        return dict(metadata)
    totals = {
        ("rows" if name == "dagster/row_count" else name): value
        for name, value in metadata.items()
        if name != SCHEMA
    }
    context.log_event(
        dg.AssetObservation(
            asset_key=asset_key,
            metadata={
                **totals,
                "totals_of": dg.MetadataValue.text(
                    f"the run over {keys[0]}..{keys[-1]} ({len(keys)} partitions)"
                ),
            },
        )
    )
    return {}


def add_row_counts(context: dg.AssetExecutionContext, frame: pl.DataFrame, column: str) -> None:
    """Give each time partition of a run its own `dagster/row_count`: the rows whose `column`
    (a Date) falls in its window.
    """
    partitions = context.assets_def.partitions_def
    if not isinstance(partitions, dg.TimeWindowPartitionsDefinition):
        return
    for key in context.partition_keys:
        window = partitions.time_window_for_partition_key(key)
        inside = pl.col(column).is_between(window.start.date(), window.end.date(), closed="left")
        rows = frame.filter(inside).height
        context.add_asset_metadata(
            {"dagster/row_count": dg.MetadataValue.int(rows)},
            asset_key=context.asset_key,
            partition_key=key,
        )


def column_lineage(
    lineage: Mapping[str, Mapping[str, list[str]]], inputs: Mapping[str, dg.AssetKey]
) -> dg.TableColumnLineage:
    """The UI's column lineage from `{column: {input name: [upstream columns]}}`."""
    return dg.TableColumnLineage(
        deps_by_column={
            column: [
                dg.TableColumnDep(asset_key=inputs[name], column_name=upstream)
                for name, upstream_columns in deps.items()
                for upstream in upstream_columns
            ]
            for column, deps in lineage.items()
        }
    )


def lineage_metadata(
    lineage: Mapping[str, Mapping[str, list[str]]], inputs: Mapping[str, dg.AssetKey]
) -> dict[str, Any]:
    """Column lineage as Dagster stores it (`dagster/column_lineage`, which the open-source UI
    does not show) and as a table the UI renders on the asset's page (`column_lineage`).
    """
    deps = column_lineage(lineage, inputs)
    return {"dagster/column_lineage": deps, "column_lineage": lineage_table(deps)}


def lineage_table(lineage: dg.TableColumnLineage) -> dg.MetadataValue:
    """A markdown table: each column and the upstream table columns it is computed from."""
    rows = [
        f"| `{column}` | "
        + ", ".join(f"`{dep.asset_key.to_user_string()}.{dep.column_name}`" for dep in deps)
        + " |"
        for column, deps in lineage.deps_by_column.items()
    ]
    return dg.MetadataValue.md("\n".join(["| column | computed from |", "|---|---|", *rows]))


@dataclass(frozen=True)
class ColumnSource:
    """One step of a column's lineage: `column` of `table`, `depth` steps upstream."""

    depth: int
    table: dg.AssetKey
    column: str


def trace_column(
    lineages: Mapping[dg.AssetKey, dg.TableColumnLineage], table: dg.AssetKey, column: str
) -> list[ColumnSource]:
    """Where a column comes from, followed upstream through every table that declares its
    column lineage, depth first; the column itself first.
    """
    found = [ColumnSource(0, table, column)]

    def follow(key: dg.AssetKey, name: str, depth: int) -> None:
        lineage = lineages.get(key)
        for dep in lineage.deps_by_column.get(name, []) if lineage is not None else []:
            found.append(ColumnSource(depth, dep.asset_key, dep.column_name))
            follow(dep.asset_key, dep.column_name, depth + 1)

    follow(table, column, 1)
    return found


def markdown_preview(frame: pl.DataFrame, rows: int = 10) -> dg.MetadataValue:
    """The first rows of a frame as a markdown table."""
    head = frame.head(rows)
    lines = [
        "| " + " | ".join(head.columns) + " |",
        "|" + "---|" * len(head.columns),
        *(
            "| " + " | ".join("" if v is None else str(v) for v in row) + " |"
            for row in head.iter_rows()
        ),
    ]
    return dg.MetadataValue.md("\n".join(lines))
