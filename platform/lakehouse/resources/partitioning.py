"""Which rows of a table a run's partitions are, for every Dagster partitioning.

An IO manager replaces (or reads) exactly the rows of the partitions a run covers. Those rows
are named by the asset's `partition_expr` metadata: the column holding the partition (a dict
of dimension -> column for a multi-partitioned asset, as dagster-duckdb has it). This module
turns a context's partition keys into a `PartitionSlice`, and a slice into a Polars filter, a
SQL WHERE clause with bound values, or Delta partition filters; every IO manager uses it.

Supported: time windows of any granularity (hourly, daily, weekly, monthly, any cron) over a
Date, Datetime (with or without a time zone) or String column; static and dynamic keys over
any column (compared as text); multi-partitions of those. Anything else is refused with a
message naming the asset, its partitioning and what is supported.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import product
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import polars as pl

from lakehouse.sql import quote

PARTITION_EXPR = "partition_expr"
SUPPORTED = (
    "time windows (hourly, daily, weekly, monthly, cron) over a Date, Datetime or String "
    "column; static or dynamic keys; multi-partitions of those"
)


class PartitioningError(Exception):
    """An asset's partitioning or `partition_expr` cannot be stored as declared."""


class MissingPartitionError(Exception):
    """An upstream table or partition a run needs has never been materialized."""


class PartitionMismatchError(Exception):
    """An output holds rows for partitions the run is not writing."""


@dataclass(frozen=True)
class TimeWindows:
    """Rows whose `column` falls in one of `windows`, each [start, end) in the partitions'
    time zone.
    """

    column: str
    windows: tuple[tuple[datetime, datetime], ...]
    timezone: str
    keys: tuple[str, ...]  # the partition keys (what a String column holds)
    daily: bool  # each partition of the definition is one calendar day

    @property
    def whole_days(self) -> bool:
        """Every window starts and ends at midnight: a Date column can hold them."""
        return all(w.time() == time(0) for start, end in self.windows for w in (start, end))

    @property
    def days(self) -> list[date]:
        """Every day the windows cover (whole-day windows only)."""
        return [
            start.date() + timedelta(days=offset)
            for start, end in self.windows
            for offset in range((end.date() - start.date()).days)
        ]


@dataclass(frozen=True)
class KeyValues:
    """Rows whose `column`, as text, is one of `values`."""

    column: str
    values: tuple[str, ...]


Dimension = TimeWindows | KeyValues


@dataclass(frozen=True)
class PartitionSlice:
    """The rows of a run's partitions: one constraint per partition dimension.

    For a multi-partitioned asset whose keys are not every combination of their dimensions'
    values, `combinations` lists the exact ones (an OR of ANDs); otherwise it is empty and
    the dimensions' constraints are ANDed.

    Attributes:
        asset: The asset, for messages.
        dimensions: One constraint per dimension, in the definition's order.
        combinations: The exact (value per dimension) combinations, when not rectangular.
    """

    asset: str
    dimensions: tuple[Dimension, ...]
    combinations: tuple[tuple[Dimension, ...], ...] = ()

    @property
    def columns(self) -> list[str]:
        """The partition columns, in dimension order."""
        return [d.column for d in self.dimensions]

    @property
    def is_empty(self) -> bool:
        """No partition at all (the first partition of a self-dependent asset)."""
        return any(
            not (d.windows if isinstance(d, TimeWindows) else d.values) for d in self.dimensions
        )

    def filter(self, schema: Mapping[str, pl.DataType]) -> pl.Expr:
        """A Polars expression true for exactly the slice's rows of a frame of `schema`.

        Raises:
            PartitioningError: a partition column is missing or cannot hold the partitions.
        """
        if self.combinations:
            return pl.any_horizontal(
                pl.all_horizontal(_polars_condition(d, self._dtype(d, schema)) for d in combo)
                for combo in self.combinations
            )
        return pl.all_horizontal(
            _polars_condition(d, self._dtype(d, schema)) for d in self.dimensions
        )

    def where(self, schema: Mapping[str, pl.DataType]) -> tuple[str, list[Any]]:
        """A SQL condition (DuckDB or PostgreSQL) with `?` placeholders, and its values.

        Raises:
            PartitioningError: a partition column is missing or cannot hold the partitions.
        """
        groups = self.combinations or (self.dimensions,)
        clauses, params = [], []
        for group in groups:
            parts = [_sql_condition(d, self._dtype(d, schema)) for d in group]
            clauses.append(" AND ".join(f"({sql})" for sql, _ in parts))
            params += [p for _, values in parts for p in values]
        if len(clauses) == 1:
            return clauses[0], params
        return " OR ".join(f"({c})" for c in clauses), params

    def check(self, schema: Mapping[str, pl.DataType]) -> None:
        """Refuse a frame schema that lacks a partition column or whose type cannot hold the
        partitions (an hourly window in a Date column, say).

        Raises:
            PartitioningError: naming the asset, the column and what would do.
        """
        for dimension in self.dimensions:
            _polars_condition(dimension, self._dtype(dimension, schema))

    def _dtype(self, dimension: Dimension, schema: Mapping[str, pl.DataType]) -> pl.DataType:
        dtype = schema.get(dimension.column)
        if dtype is None:
            msg = (
                f"{self.asset}: its '{PARTITION_EXPR}' names column {dimension.column!r}, "
                f"which the table does not have (columns: {', '.join(schema) or 'none'}); "
                "add the column or fix the metadata"
            )
            raise PartitioningError(msg)
        if isinstance(dimension, TimeWindows):
            if dtype == pl.Date and not dimension.whole_days:
                msg = (
                    f"{self.asset}: column {dimension.column!r} is a Date but its partitions "
                    "are shorter than a day; store the partition in a Datetime column"
                )
                raise PartitioningError(msg)
            if not (dtype == pl.Date or isinstance(dtype, pl.Datetime) or dtype == pl.String):
                msg = (
                    f"{self.asset}: column {dimension.column!r} is {dtype}, which cannot hold "
                    "time-window partitions; use a Date, Datetime or String column"
                )
                raise PartitioningError(msg)
        return dtype

    def outside(self, frame: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
        """The rows of `frame` outside the slice, counted per partition-column value (one
        streaming pass over those columns only).
        """
        schema = frame.collect_schema()
        inside = self.filter(schema)
        return (
            frame.lazy()
            .select(self.columns)
            .filter(~inside.fill_null(value=False))
            .group_by(self.columns)
            .len()
            .sort(self.columns, nulls_last=True)
            .collect()
        )

    def refuse_outside(self, frame: pl.DataFrame | pl.LazyFrame) -> None:
        """Rows outside the partitions being replaced would be written without their old rows
        being removed: refuse them, naming a few.

        Raises:
            PartitionMismatchError: some rows lie outside the run's partitions.
        """
        outside = self.outside(frame)
        if outside.height:
            rows = int(outside["len"].sum())
            shown = "; ".join(
                ", ".join(f"{c}={v}" for c, v in zip(self.columns, row[:-1], strict=True))
                for row in outside.head(5).iter_rows()
            )
            msg = (
                f"{self.asset}: {rows} row(s) lie outside this run's partitions ({shown}); "
                "fix the transform or the partition mapping"
            )
            raise PartitionMismatchError(msg)


def _time_bounds(windows: TimeWindows, dtype: pl.DataType) -> list[tuple[Any, Any]]:
    """Each window's bounds as values of a column of `dtype`."""
    if dtype == pl.Date:
        return [(start.date(), end.date()) for start, end in windows.windows]
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:  # a wall clock in the partitions' zone
            return [(s.replace(tzinfo=None), e.replace(tzinfo=None)) for s, e in windows.windows]
        zone = ZoneInfo(dtype.time_zone)
        return [(s.astimezone(zone), e.astimezone(zone)) for s, e in windows.windows]
    msg = f"no time bounds for {dtype}"
    raise PartitioningError(msg)


def _polars_condition(dimension: Dimension, dtype: pl.DataType) -> pl.Expr:
    column = pl.col(dimension.column)
    if isinstance(dimension, KeyValues):
        return column.cast(pl.String).is_in(list(dimension.values))
    if dtype == pl.String:  # the column holds the partition keys themselves
        return column.is_in(list(dimension.keys))
    bounds = _time_bounds(dimension, dtype)
    if not bounds:
        return pl.lit(value=False)
    return pl.any_horizontal(
        (column >= pl.lit(start, dtype=dtype)) & (column < pl.lit(end, dtype=dtype))
        for start, end in bounds
    )


def _sql_condition(dimension: Dimension, dtype: pl.DataType) -> tuple[str, list[Any]]:
    column = quote(dimension.column)
    if isinstance(dimension, KeyValues) or dtype == pl.String:
        values = list(dimension.values if isinstance(dimension, KeyValues) else dimension.keys)
        if not values:
            return "FALSE", []
        cast = column if dtype == pl.String else f"CAST({column} AS VARCHAR)"
        return f"{cast} IN ({', '.join('?' for _ in values)})", values
    bounds = _time_bounds(dimension, dtype)
    if not bounds:
        return "FALSE", []
    sql = " OR ".join(f"({column} >= ? AND {column} < ?)" for _ in bounds)
    return sql, [value for pair in bounds for value in pair]


def merge_windows(
    windows: Sequence[tuple[datetime, datetime]],
) -> tuple[tuple[datetime, datetime], ...]:
    """Sorted windows, adjacent or overlapping ones joined: a range of keys is one window."""
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(windows):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return tuple(merged)


def _describe(partitions_def: dg.PartitionsDefinition) -> str:
    if isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        return f"time windows ({partitions_def.cron_schedule}, {partitions_def.timezone})"
    return type(partitions_def).__name__.removesuffix("Definition")


def _is_daily(partitions_def: dg.TimeWindowPartitionsDefinition) -> bool:
    first = partitions_def.get_first_partition_window()
    if first is None:
        return False
    start, end = first.start, first.end
    return (
        start.time() == time(0) and end.time() == time(0) and (end.date() - start.date()).days == 1
    )


def _dimension(
    asset: str, partitions_def: dg.PartitionsDefinition, column: str, keys: Sequence[str]
) -> Dimension:
    if isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        windows = [partitions_def.time_window_for_partition_key(k) for k in keys]
        return TimeWindows(
            column=column,
            windows=merge_windows([(w.start, w.end) for w in windows]),
            timezone=partitions_def.timezone,
            keys=tuple(keys),
            daily=_is_daily(partitions_def),
        )
    if isinstance(partitions_def, dg.StaticPartitionsDefinition | dg.DynamicPartitionsDefinition):
        return KeyValues(column=column, values=tuple(keys))
    msg = (
        f"{asset} is partitioned by {_describe(partitions_def)}, which this IO manager cannot "
        f"store; supported: {SUPPORTED}"
    )
    raise PartitioningError(msg)


def partition_slice(
    asset: str,
    partitions_def: dg.PartitionsDefinition,
    partition_expr: object,
    keys: Sequence[str],
) -> PartitionSlice:
    """The slice of an asset's table that `keys` (partition keys of `partitions_def`) are.

    Args:
        asset: The asset, for messages.
        partitions_def: Its partitions definition.
        partition_expr: Its `partition_expr` metadata: a column name, or for a
            multi-partitioned asset a mapping of dimension name -> column.
        keys: The partition keys (possibly none: a self-dependent asset's first partition).

    Raises:
        PartitioningError: no or malformed `partition_expr`, or an unsupported partitioning.
    """
    if not partition_expr:
        example = (
            "{'date': 'day_column', 'color': 'color_column'}"
            if isinstance(partitions_def, dg.MultiPartitionsDefinition)
            else "'day_column'"
        )
        msg = (
            f"{asset} is partitioned ({_describe(partitions_def)}) but has no "
            f"'{PARTITION_EXPR}' metadata naming the column that holds its partition; add "
            f"metadata={{'{PARTITION_EXPR}': {example}}} to the asset"
        )
        raise PartitioningError(msg)
    if not isinstance(partitions_def, dg.MultiPartitionsDefinition):
        if not isinstance(partition_expr, str):
            msg = f"{asset}: '{PARTITION_EXPR}' must be one column name, not {partition_expr!r}"
            raise PartitioningError(msg)
        return PartitionSlice(asset, (_dimension(asset, partitions_def, partition_expr, keys),))
    dims = partitions_def.partitions_defs
    names = [d.name for d in dims]
    if not isinstance(partition_expr, Mapping) or sorted(partition_expr) != sorted(names):
        msg = (
            f"{asset} is multi-partitioned by {', '.join(names)}: '{PARTITION_EXPR}' must map "
            f"each dimension to its column, e.g. {{{', '.join(repr(n) + ': ...' for n in names)}}}"
            f"; got {partition_expr!r}"
        )
        raise PartitioningError(msg)
    split = [partitions_def.get_partition_key_from_str(k).keys_by_dimension for k in keys]
    per_dim = [sorted({s[d.name] for s in split}) for d in dims]
    dimensions = tuple(
        _dimension(asset, d.partitions_def, str(partition_expr[d.name]), values)
        for d, values in zip(dims, per_dim, strict=True)
    )
    rectangular = len(split) == math.prod(len(v) for v in per_dim)
    if rectangular:
        return PartitionSlice(asset, dimensions)
    combinations = tuple(
        tuple(
            _dimension(asset, d.partitions_def, str(partition_expr[d.name]), [s[d.name]])
            for d in dims
        )
        for s in split
    )
    return PartitionSlice(asset, dimensions, combinations)


def context_slice(context: dg.InputContext | dg.OutputContext) -> PartitionSlice | None:
    """The slice an IO context reads or writes; None for an unpartitioned asset.

    An input's slice is of the upstream asset (its definition's `partition_expr`).

    Raises:
        PartitioningError: as `partition_slice`.
    """
    if not context.has_asset_partitions:
        return None
    asset = context.asset_key.to_user_string()
    partitions_def = context.asset_partitions_def
    if isinstance(context, dg.InputContext):
        upstream = context.upstream_output
        metadata = upstream.definition_metadata if upstream is not None else {}
        keys = _input_keys(context)
    else:
        metadata = context.definition_metadata
        keys = list(context.asset_partition_keys)
    return partition_slice(asset, partitions_def, (metadata or {}).get(PARTITION_EXPR), keys)


def _input_keys(context: dg.InputContext) -> list[str]:
    """The upstream keys an input maps to; none for the first partition of an asset that
    depends on its own previous partition (Dagster raises instead of returning none).
    """
    try:
        return list(context.asset_partition_keys)
    except dg.DagsterInvariantViolationError:
        return []


def key_aligned_columns(slice_: PartitionSlice, schema: Mapping[str, pl.DataType]) -> bool:
    """Whether every partition of the slice is exactly one value of its columns, so a table
    can keep one folder (Delta partition) per partition key: daily windows in a Date column,
    keys in a String column.
    """
    for dimension in slice_.dimensions:
        dtype = schema.get(dimension.column)
        if isinstance(dimension, KeyValues):
            if dtype != pl.String:
                return False
        elif not (dtype == pl.Date and dimension.daily):
            return False
    return True


def partition_values(
    slice_: PartitionSlice,
) -> list[tuple[str, ...]]:
    """The partition values (as Delta stores them: ISO dates, keys) of every partition of a
    key-aligned slice, one tuple per partition, in dimension order.
    """
    if slice_.combinations:
        return [tuple(_values(d)[0] for d in combo) for combo in slice_.combinations]
    return list(product(*(_values(d) for d in slice_.dimensions)))


def _values(dimension: Dimension) -> list[str]:
    if isinstance(dimension, KeyValues):
        return list(dimension.values)
    return [day.isoformat() for day in dimension.days]


def numbered_placeholders(sql: str) -> str:
    """`?` placeholders as PostgreSQL's `$1, $2, ...` (the conditions here hold no `?` text)."""
    parts = sql.split("?")
    return "".join(
        part + (f"${index}" if index < len(parts) else "") for index, part in enumerate(parts, 1)
    )
