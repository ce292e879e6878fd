"""What the platform holds: row and partition counts per table, read straight from storage."""

from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from lakehouse.resources.delta_tables import DeltaStore
from lakehouse.settings import Settings
from lakehouse.sql import table_name


@dataclass(frozen=True)
class TableStatus:
    """One table's size and where it lives."""

    layer: str
    table: str
    rows: int
    partitions: int | None  # None for an unpartitioned table
    location: str


def lake_tables(lake_dir: Path) -> list[TableStatus]:
    """Every Delta table in the lake, by layer then name (rows and partitions from the log)."""
    store = DeltaStore(str(lake_dir))
    found = []
    for layer, name in store.tables():
        table = store.open(store.uri([layer, name]))
        if table is None:
            continue
        present = store.present_partitions(table)
        rows = (
            sum(present.values())
            if present
            else int(store.scan(table).select(pl.len()).collect().item())
        )
        found.append(
            TableStatus(
                layer=layer,
                table=name,
                rows=rows,
                partitions=len(present) if present else None,
                location=str((lake_dir / layer / name).relative_to(lake_dir.parent)),
            )
        )
    return found


def warehouse_tables(warehouse: Path) -> list[TableStatus]:
    """Every table in the warehouse, by schema then name (none if it does not exist yet)."""
    if not warehouse.exists():
        return []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        names = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' ORDER BY 1, 2"
        ).fetchall()
        return [
            TableStatus(
                layer=schema,
                table=table,
                rows=_row_count(con, schema, table),
                partitions=None,
                location=f"{warehouse.name}:{schema}.{table}",
            )
            for schema, table in names
        ]


def _row_count(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> int:
    [(rows,)] = con.execute(f"SELECT count(*) FROM {table_name(schema, table)}").fetchall()
    return int(rows)


def platform_status(settings: Settings) -> list[TableStatus]:
    """All tables of the lake and the warehouse."""
    return lake_tables(settings.lake_dir) + warehouse_tables(settings.warehouse_path)


QUARANTINE_SUFFIX = "_quarantine"


def quarantine_frames(lake_dir: Path) -> dict[str, pl.LazyFrame]:
    """Each source's quarantine table in the lake (source name -> rows), if materialized."""
    store = DeltaStore(str(lake_dir))
    found = {}
    for layer, name in store.tables():
        if layer != "staged" or not name.endswith(QUARANTINE_SUFFIX):
            continue
        table = store.open(store.uri([layer, name]))
        if table is not None:
            found[name.removesuffix(QUARANTINE_SUFFIX)] = store.scan(table)
    return found


def quarantine_summary(rows: pl.LazyFrame) -> pl.DataFrame:
    """Quarantined rows per stage and reason, most frequent first, with the days they span."""
    return (
        rows.group_by("stage", "reason")
        .agg(
            rows=pl.len(),
            first_day=pl.col("_partition_date").min(),
            last_day=pl.col("_partition_date").max(),
        )
        .sort("rows", "stage", "reason", descending=[True, False, False])
        .collect()
    )
