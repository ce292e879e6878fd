"""What a source or a mart declares about itself: the schema of its YAML file, and the registry
of every declaration under `lakehouse/defs/`.

A source is one YAML file (`defs/sources/<name>/defs.yaml`, a Dagster Component of type
`lakehouse.components.LandingSource`) stating what a data engineer knows of a feed: where its
files land and how they are named, its partitions, its columns with types, units, descriptions
and rules, its business key, its thresholds and owners. Logic that cannot be declared is a named
Python function the file points to (`steps`). This module is pure (pydantic and Polars): the
Dagster component, the CLI and the tests all read the same declarations.
"""

import functools
import importlib
import re
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Any, Literal

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lakehouse.transforms.spec import LINEAGE, Column, TableSpec

DEFS_DIR = Path(__file__).parent / "defs"
SOURCE_TYPE = "lakehouse.components.LandingSource"
MART_TYPE = "lakehouse.components.Mart"

_SIMPLE_TYPES: dict[str, pl.DataType] = {
    "string": pl.String(),
    "boolean": pl.Boolean(),
    "int8": pl.Int8(),
    "int16": pl.Int16(),
    "int32": pl.Int32(),
    "int64": pl.Int64(),
    "float32": pl.Float32(),
    "float64": pl.Float64(),
    "date": pl.Date(),
}


class Declared(BaseModel):
    """A part of a declaration: unknown keys are errors, so a typo is caught when loading."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnCheck(Declared):
    """One rule a column's values keep (nulls pass; nullability is the column's own rule).

    Exactly one of the rule fields is given; `name` overrides the rule's default name, which
    the quarantine shows as the reason (e.g. `month: in_range(1, 12) = 13`).
    """

    name: str | None = None
    between: tuple[float, float] | None = None
    one_of: list[str] | None = None
    length: int | None = None
    length_between: tuple[int, int] | None = None
    max_length: int | None = None
    pattern: str | None = Field(default=None, description="a regular expression the value matches")
    printable: bool | None = Field(
        default=None, description="printable ASCII only: no control characters, no NUL"
    )
    positive: bool | None = None
    sql: str | None = Field(
        default=None, description="a SQL condition on the column (by its name), true if it holds"
    )

    @model_validator(mode="after")
    def _one_rule(self) -> "ColumnCheck":
        given = [k for k, v in self.model_dump(exclude={"name"}).items() if v not in (None, False)]
        if len(given) != 1:
            msg = f"a check states exactly one rule, got {given or 'none'}"
            raise ValueError(msg)
        if self.pattern is not None:
            re.compile(self.pattern)
        return self


class ColumnDecl(Declared):
    """A column of the staged table.

    Attributes:
        name: Its name.
        type: string, boolean, int8..int64, float32, float64, date or datetime.
        time_zone: For a datetime: its IANA zone (None: a wall clock without zone).
        format: How a delivered date or datetime is written (strftime codes); ISO by default.
        description: What it means (shown in the UI).
        unit: Its unit, shown with the description.
        nullable: Whether it may be null (a null in a column that may not is quarantined).
        added_by: The step that adds it (`stage` by default: delivered or derived while typing;
            `prepare` or `keep` for columns those steps add).
        checks: The rules its values keep.
    """

    name: str
    type: str
    time_zone: str | None = None
    format: str | None = None
    description: str
    unit: str | None = None
    nullable: bool = False
    added_by: Literal["stage", "prepare", "keep"] = "stage"
    checks: list[ColumnCheck] = Field(default_factory=list)

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in _SIMPLE_TYPES and value != "datetime":
            known = ", ".join([*_SIMPLE_TYPES, "datetime"])
            msg = f"unknown column type {value!r}; use one of {known}"
            raise ValueError(msg)
        return value

    @property
    def dtype(self) -> pl.DataType:
        """The Polars type."""
        if self.type == "datetime":
            return pl.Datetime("us", self.time_zone)
        return _SIMPLE_TYPES[self.type]

    @property
    def column(self) -> Column:
        """As a table spec column (the unit appended to the description)."""
        described = f"{self.description} ({self.unit})" if self.unit else self.description
        return Column(self.name, self.dtype, described)


class RowRule(Declared):
    """A rule across columns, as a SQL condition that holds for every valid row."""

    name: str
    sql: str


class Landing(Declared):
    """How deliveries land.

    Attributes:
        header: The columns a delivery carries, in the order the producer writes them.
        null_values: Texts meaning "no value".
        delimiter: The field separator.
    """

    header: list[str]
    null_values: list[str] = Field(default_factory=lambda: ["NA", ""])
    delimiter: str = ","


class KeyDimension(Declared):
    """Static partition keys (one file per key, or per key and period).

    Attributes:
        name: The dimension's name (`symbol`).
        values: Its keys.
        column: The staged column holding a row's key; a row filed under another key than its
            file's is quarantined.
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    values: list[str] = Field(min_length=1)
    column: str

    @field_validator("values")
    @classmethod
    def _file_safe(cls, values: list[str]) -> list[str]:
        bad = [v for v in values if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]*", v)]
        if bad:
            msg = f"keys {bad} cannot name files: use letters, digits, '.' and '-'"
            raise ValueError(msg)
        return values


class Partitions(Declared):
    """How a source is partitioned, and so how its files are named.

    Attributes:
        kind: `daily` (`YYYY-MM-DD.csv`), `monthly` (`YYYY-MM-DD.csv`, the month's first day),
            or `snapshot` (each file a full reference table, named by the day it was taken; the
            table keeps them all). With `keys`, a daily or monthly source is partitioned by
            period and key (`<period>_<key>.csv`).
        start: The first period (daily, monthly).
        end: The last period, inclusive (open-ended when absent).
        column: The staged Date column a row's period is read from; a row dated in another
            period than its file's is quarantined.
        keys: Static keys, the second dimension of a daily or monthly source.
    """

    kind: Literal["daily", "monthly", "snapshot"]
    start: date | None = None
    end: date | None = None
    column: str | None = None
    keys: KeyDimension | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "Partitions":
        periodic = self.kind in {"daily", "monthly"}
        if periodic and (self.start is None or self.column is None):
            msg = f"{self.kind} partitions need a start and the staged Date column (column)"
            raise ValueError(msg)
        if self.kind == "snapshot" and self.keys is not None:
            msg = "snapshot sources have no keys: every snapshot is a whole table"
            raise ValueError(msg)
        if self.start and self.end and self.end < self.start:
            msg = f"partitions end {self.end} is before their start {self.start}"
            raise ValueError(msg)
        return self

    @property
    def periodic(self) -> bool:
        """Partitioned by time (daily or monthly)."""
        return self.kind in {"daily", "monthly"}


class Freshness(Declared):
    """When the staged table is overdue: a warning after `warn_after_hours` without a new
    partition, a failure after `fail_after_hours`.
    """

    warn_after_hours: float = 36
    fail_after_hours: float = 48


class Steps(Declared):
    """Named Python functions (`module:function`) for what cannot be declared.

    Attributes:
        stage: Raw text rows -> typed rows with `_row_errors` (default: typed from the
            declared columns, every delivered field parsed by its type).
        prepare: Typed clean rows (+ the declared inputs, by name) -> rows with the columns
            the contract covers.
        keep: Valid rows -> the rows the table holds (default: the last delivery of each key).
    """

    stage: str | None = None
    prepare: str | None = None
    keep: str | None = None
    summarize: str | None = Field(
        default=None, description="valid rows -> extra metadata of the staged table's output"
    )


class SourceSpec(Declared):
    """Everything a source declares; see the module docstring."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str
    owners: list[str] = Field(default_factory=lambda: ["team:data-platform"])
    tags: dict[str, str] = Field(default_factory=dict)
    landing: Landing
    partitions: Partitions
    columns: list[ColumnDecl]
    rules: list[RowRule] = Field(default_factory=list)
    key: list[str]
    dedupe: Literal["latest"] = "latest"
    min_pass_rate: float = Field(default=0.95, ge=0, le=1)
    freshness: Freshness | None = None
    steps: Steps = Field(default_factory=Steps)
    inputs: dict[str, str] = Field(
        default_factory=dict, description="input name -> asset key (`staged/airports`)"
    )
    key_within_day: bool = Field(
        default=False,
        description="every business key lies within one day: long ranges stage a chunk of "
        "days at a time",
    )

    @model_validator(mode="after")
    def _names_are_known(self) -> "SourceSpec":
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            msg = f"{self.name}: a column is declared twice"
            raise ValueError(msg)
        unknown = [k for k in self.key if k not in names]
        if self.partitions.column and self.partitions.column not in names:
            unknown.append(self.partitions.column)
        if self.partitions.keys and self.partitions.keys.column not in names:
            unknown.append(self.partitions.keys.column)
        if unknown:
            msg = f"{self.name}: key or partition column(s) {unknown} are not declared columns"
            raise ValueError(msg)
        derived = [
            c.name
            for c in self.columns
            if c.added_by == "stage" and c.name not in self.landing.header
        ]
        needs = {
            "stage": derived,
            "prepare": [c.name for c in self.columns_added_by("prepare")],
            "keep": [c.name for c in self.columns_added_by("keep")],
        }
        for step, columns in needs.items():
            if columns and getattr(self.steps, step) is None:
                msg = (
                    f"{self.name}: column(s) {columns} are not delivered (not in landing.header) "
                    f"and no `{step}` step derives them; deliver them, or name a steps.{step} "
                    "function"
                )
                raise ValueError(msg)
        return self

    @property
    def daily(self) -> bool:
        """A source of one file per day and nothing else: staged a chunk of days at a time."""
        return self.partitions.kind == "daily" and self.partitions.keys is None

    @property
    def snapshot(self) -> bool:
        """A reference source of dated full snapshots."""
        return self.partitions.kind == "snapshot"

    def columns_added_by(self, *steps: str) -> list[ColumnDecl]:
        """The declared columns the given steps add, in table order."""
        return [c for c in self.columns if c.added_by in steps]

    @property
    def staged_spec(self) -> TableSpec:
        """The staged table: every declared column, then the lineage columns."""
        return self._spec("stage", "prepare", "keep")

    @property
    def typed_spec(self) -> TableSpec:
        """What staging yields before `prepare` adds its columns (with the lineage columns)."""
        return self._spec("stage")

    @property
    def contract_spec(self) -> TableSpec:
        """The columns the contract covers: all but those `keep` adds after validation."""
        return self._spec("stage", "prepare")

    def _spec(self, *steps: str) -> TableSpec:
        columns = tuple(c.column for c in self.columns_added_by(*steps))
        return TableSpec(columns=(*columns, *LINEAGE), key=tuple(self.key))

    @property
    def nullable(self) -> set[str]:
        """The columns that may be null."""
        return {c.name for c in self.columns if c.nullable}

    def step(self, name: str) -> Callable[..., Any] | None:
        """The Python function a step names, or None if the step is not declared."""
        target = getattr(self.steps, name)
        return resolve(target, f"{self.name}.steps.{name}") if target else None


def resolve(target: str, where: str) -> Callable[..., Any]:
    """The function `module:function` names.

    Raises:
        ValueError: it cannot be imported; the message names the declaration and the target.
    """
    module_name, _, function = target.partition(":")
    try:
        found = getattr(importlib.import_module(module_name), function)
    except (ImportError, AttributeError) as error:
        msg = f"{where}: cannot import {target!r} ({error}); write it as module.path:function"
        raise ValueError(msg) from error
    if not callable(found):
        msg = f"{where}: {target!r} is not a function"
        raise TypeError(msg)
    return found


class MartSpec(Declared):
    """A mart declared in YAML: a SQL file (DuckDB) over its inputs, or a Polars function.

    Attributes:
        name: The mart's table (`marts/<name>`).
        description: What a row is.
        query: The SQL (DuckDB) itself; each input is a table named by its input name.
        sql: Or a SQL file beside the YAML holding it.
        function: Or a Polars function (`module:function`) taking the inputs as LazyFrames.
        inputs: Input name -> asset key (`staged/seattle_weather`).
        grain: The columns one row is unique on.
        partitions: `monthly` or `daily` (the mart's own partitions) or none.
        partition_column: The Date column holding a row's partition.
        start: The first partition.
        end: The last partition, inclusive (open-ended when absent).
        columns: Its columns, described (the result must have exactly these).
        owners: Who answers for it.
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str
    query: str | None = None
    sql: str | None = None
    function: str | None = None
    inputs: dict[str, str]
    grain: list[str]
    partitions: Literal["daily", "monthly"] | None = None
    partition_column: str | None = None
    start: date | None = None
    end: date | None = None
    columns: list[ColumnDecl]
    owners: list[str] = Field(default_factory=lambda: ["team:data-platform"])

    @model_validator(mode="after")
    def _one_body(self) -> "MartSpec":
        bodies = [b for b in (self.query, self.sql, self.function) if b is not None]
        if len(bodies) != 1:
            msg = f"mart {self.name}: give exactly one of query (SQL), sql (a file) or function"
            raise ValueError(msg)
        if self.partitions and (self.partition_column is None or self.start is None):
            msg = f"mart {self.name}: partitions need a partition_column and a start"
            raise ValueError(msg)
        return self

    @property
    def spec(self) -> TableSpec:
        """Its columns and grain."""
        return TableSpec(columns=tuple(c.column for c in self.columns), key=tuple(self.grain))


def _declarations(kind: str, root: Path) -> list[tuple[Path, dict[str, Any]]]:
    found = []
    for file in sorted(root.rglob("defs.yaml")):
        document = yaml.safe_load(file.read_text()) or {}
        if document.get("type") == kind:
            found.append((file, document.get("attributes") or {}))
    return found


@functools.cache
def declared_sources(root: Path = DEFS_DIR) -> dict[str, SourceSpec]:
    """Every source declared under `root`, by name.

    Raises:
        ValueError: a declaration is invalid; the message names its file.
    """
    sources: dict[str, SourceSpec] = {}
    for file, attributes in _declarations(SOURCE_TYPE, root):
        try:
            spec = SourceSpec.model_validate(attributes)
        except ValueError as error:
            msg = f"{file}: {error}"
            raise ValueError(msg) from error
        if spec.name in sources:
            msg = f"{file}: source {spec.name!r} is declared twice"
            raise ValueError(msg)
        sources[spec.name] = spec
    return sources


@functools.cache
def declared_marts(root: Path = DEFS_DIR) -> dict[str, tuple[Path, MartSpec]]:
    """Every mart declared under `root`, by name, with the folder of its declaration."""
    marts = {}
    for file, attributes in _declarations(MART_TYPE, root):
        try:
            marts[attributes.get("name", "")] = (file.parent, MartSpec.model_validate(attributes))
        except ValueError as error:
            msg = f"{file}: {error}"
            raise ValueError(msg) from error
    return marts


def declared(name: str) -> SourceSpec:
    """One declared source.

    Raises:
        KeyError: no source of that name is declared.
    """
    sources = declared_sources()
    if name not in sources:
        msg = f"no source {name!r} is declared; declared: {', '.join(sources)}"
        raise KeyError(msg)
    return sources[name]


def source_inputs(spec: SourceSpec) -> Mapping[str, list[str]]:
    """Input name -> asset key parts."""
    return {name: key.split("/") for name, key in spec.inputs.items()}
