"""Building contracts from table specs, and splitting frames by them."""

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

import pandera.polars as pa
import polars as pl
from pandera.api.polars.types import PolarsData
from pandera.config import ValidationDepth, config_context

from lakehouse.transforms.spec import TableSpec

FAILED_CHECKS = "_failed_checks"
# A failing value is shown in a reason up to this many characters.
SHOWN_CHARACTERS = 40
_ROW = "_contract_row"


class ContractSchemaError(Exception):
    """A frame whose columns or types break the contract: a batch error, never quarantined."""


def value_check(name: str, passes: Callable[[pl.Expr], pl.Expr]) -> pa.Check:
    """A check of one column's values; `passes(column)` is true where the value keeps the rule.
    Nulls pass: whether a column may be null is the contract's `nullable` rule.
    """

    def _check(data: PolarsData) -> pl.LazyFrame:
        value = pl.col(data.key)
        return data.lazyframe.select(value.is_null() | passes(value))

    return pa.Check(_check, name=name)


def in_range(low: float, high: float) -> pa.Check:
    """Values from low to high, both included."""
    return value_check(f"in_range({low:g}, {high:g})", lambda v: (v >= low) & (v <= high))


# Printable ASCII, space to `~`: no control character (NUL included), nothing outside ASCII.
PRINTABLE_ASCII = r"^[\x20-\x7E]*$"


def fully_matches(value: pl.Expr, pattern: str) -> pl.Expr:
    """Whether text matches the regular expression `pattern` whole (anchored at both ends, so
    a pattern for a code does not pass a 10 MB value that merely contains one).
    """
    return value.str.contains(f"^(?:{pattern})$")


def matches(pattern: str) -> pa.Check:
    """Text that matches the regular expression `pattern` whole."""
    return value_check(f"matches({pattern})", lambda v: fully_matches(v, pattern))


def max_length(characters: int) -> pa.Check:
    """Text of at most `characters` characters."""
    return value_check(f"max_length({characters})", lambda v: v.str.len_chars() <= characters)


def printable_ascii() -> pa.Check:
    """Text of printable ASCII characters only: no control character (a NUL byte, a tab, a
    line break), no letter outside ASCII; for codes and identifiers.
    """
    return value_check("printable_ascii", lambda v: v.str.contains(PRINTABLE_ASCII))


def no_control_characters() -> pa.Check:
    """Text without control characters (a NUL byte, a tab, a line break, an escape); letters
    outside ASCII are allowed: for names and free text.
    """
    return value_check("no_control_characters", lambda v: ~v.str.contains(r"\p{Cc}"))


def row_check(name: str, passes: pl.Expr) -> pa.Check:
    """A check across columns: `passes` is true for every row that keeps the rule."""

    def _check(data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(passes)

    return pa.Check(_check, name=name)


def contract(
    spec: TableSpec,
    *,
    nullable: Collection[str],
    column_checks: Mapping[str, Sequence[pa.Check]],
    row_checks: Sequence[pa.Check] = (),
    name: str,
) -> pa.DataFrameSchema:
    """A pandera schema from a table spec: its columns and types (strict), which may be null,
    the value rules per column and the rules across columns.

    The business key's uniqueness is not a contract rule: rows are validated before older
    deliveries of a key are removed, so that a bad new row never displaces a good old one; the
    `business_key_unique` check then asserts the rows written are unique.
    """
    unknown = (set(nullable) | set(column_checks)) - set(spec.names)
    if unknown:
        msg = f"contract {name} names columns not in its table: {sorted(unknown)}"
        raise ValueError(msg)
    return pa.DataFrameSchema(
        {
            c.name: pa.Column(
                c.dtype,
                nullable=c.name in nullable,
                checks=list(column_checks.get(c.name, ())),
                description=c.description,
            )
            for c in spec.columns
        },
        checks=list(row_checks),
        strict=True,
        name=name,
    )


@dataclass(frozen=True)
class ContractSplit:
    """A frame split by its contract; together the two hold every input row exactly once.

    Attributes:
        valid: Rows that keep every rule, in input order.
        rejected: Rows that break at least one, with every column plus `_failed_checks`
            (e.g. `month: in_range(1, 12) = 13; cancelled_has_no_arrival`).
    """

    valid: pl.DataFrame
    rejected: pl.DataFrame


def split_by_contract(frame: pl.DataFrame, schema: pa.DataFrameSchema) -> ContractSplit:
    """Validate every row of `frame` (data checks included) and split it.

    Raises:
        ContractSchemaError: a column is missing, extra or of the wrong type; the message names
            it. Such a frame is not row data to quarantine but a broken batch.
    """
    # pandera skips data checks unless the depth says otherwise (verified for LazyFrames).
    with config_context(validation_depth=ValidationDepth.SCHEMA_AND_DATA):
        try:
            schema.validate(frame, lazy=True)
        except pa.errors.SchemaErrors as errors:
            cases = errors.failure_cases
        else:
            return ContractSplit(valid=frame, rejected=_with_reasons(frame.clear(), None))
    batch = cases.filter(pl.col("index").is_null())
    if batch.height:
        problems = "; ".join(
            f"{column or schema.name}: {check} ({case})"
            for column, check, case in batch.select("column", "check", "failure_case").iter_rows()
        )
        msg = f"{schema.name} contract: {problems}"
        raise ContractSchemaError(msg)
    return _split(frame, cases)


def shown_value(value: str | None) -> str:
    r"""A failing value as a reason shows it: control characters escaped (`\x00`), and a long
    value cut to its first `SHOWN_CHARACTERS` with its length, so a 10 MB field makes a short
    reason.
    """
    if value is None:
        return "null"
    escaped = "".join(
        c if c.isprintable() else f"\\x{ord(c):02x}" for c in value[:SHOWN_CHARACTERS]
    )
    if len(value) > SHOWN_CHARACTERS:
        escaped += f"... ({len(value):,} characters)"
    return escaped


def _split(frame: pl.DataFrame, cases: pl.DataFrame) -> ContractSplit:
    shown = pl.col("failure_case").map_elements(
        shown_value, return_dtype=pl.String, skip_nulls=False
    )
    reasons = (
        cases.with_columns(
            reason=pl.when(pl.col("schema_context") == "Column")
            .then(pl.format("{}: {} = {}", "column", "check", shown))
            .otherwise(pl.col("check"))
        )
        .group_by(pl.col("index").cast(pl.UInt32).alias(_ROW))
        .agg(pl.col("reason").unique(maintain_order=True).str.join("; ").alias(FAILED_CHECKS))
    )
    numbered = frame.with_row_index(_ROW)
    rejected = numbered.join(reasons, on=_ROW, how="inner", maintain_order="left").drop(_ROW)
    valid = numbered.join(reasons, on=_ROW, how="anti", maintain_order="left").drop(_ROW)
    return ContractSplit(valid=valid, rejected=rejected)


def _with_reasons(frame: pl.DataFrame, reason: str | None) -> pl.DataFrame:
    return frame.with_columns(pl.lit(reason, dtype=pl.String).alias(FAILED_CHECKS))
