"""Column specifications: one place that names, types and describes a table's columns."""

from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class Column:
    """One column of a table: its name, Polars type and what it means."""

    name: str
    dtype: pl.DataType
    description: str


@dataclass(frozen=True)
class TableSpec:
    """The columns of a table, in output order, and its business key."""

    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()

    @property
    def names(self) -> list[str]:
        """Column names in output order."""
        return [c.name for c in self.columns]

    @property
    def schema(self) -> pl.Schema:
        """The Polars schema the table is written with."""
        return pl.Schema({c.name: c.dtype for c in self.columns})

    def pick(self, *names: str) -> tuple[Column, ...]:
        """Some of the spec's columns, by name, to reuse in a derived table's spec."""
        by_name = {c.name: c for c in self.columns}
        return tuple(by_name[name] for name in names)

    def exprs(self) -> list[pl.Expr]:
        """The spec's columns, in order, cast to the spec's types."""
        return [pl.col(c.name).cast(c.dtype) for c in self.columns]


LINEAGE = (
    Column("_source_file", pl.String(), "landing file the row was delivered in"),
    Column("_line_number", pl.Int32(), "line of the row in that file (the header is line 1)"),
    Column("_ingested_at", pl.Datetime("us", "UTC"), "when the raw layer read the file"),
)
