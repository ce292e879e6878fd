"""Contracts built from declarations: each column's checks and the row rules of a source's YAML
become one pandera schema (strict, typed, nullability per column).
"""

import functools

import pandera.polars as pa
import polars as pl

from lakehouse.contracts.base import (
    PRINTABLE_ASCII,
    contract,
    fully_matches,
    in_range,
    row_check,
    value_check,
)
from lakehouse.declarations import ColumnCheck, SourceSpec, declared


def column_check(check: ColumnCheck, column: str) -> pa.Check:
    """The pandera check a declared rule is, named as the quarantine will show it."""
    if check.between is not None:
        low, high = check.between
        built = in_range(low, high)
        return built if check.name is None else value_check(check.name, _between(low, high))
    rules: list[tuple[str, object]] = [
        (f"one_of({', '.join(check.one_of or [])})", check.one_of),
        (f"length({check.length})", check.length),
        (f"length_between({check.length_between})", check.length_between),
        (f"max_length({check.max_length})", check.max_length),
        (f"matches({check.pattern})", check.pattern),
        ("printable_ascii", check.printable),
        ("positive", check.positive),
        ("sql", check.sql),
    ]
    default, _ = next((name, value) for name, value in rules if value not in (None, False))
    return value_check(check.name or default, _passes(check, column))


def _between(low: float, high: float) -> "functools.partial[pl.Expr]":
    return functools.partial(lambda v, lo, hi: (v >= lo) & (v <= hi), lo=low, hi=high)


def _passes(check: ColumnCheck, column: str) -> "functools.partial[pl.Expr]":
    def passes(value: pl.Expr) -> pl.Expr:
        if check.one_of is not None:
            return value.is_in(check.one_of)
        if check.length is not None:
            return value.str.len_chars() == check.length
        if check.length_between is not None:
            return value.str.len_chars().is_between(*check.length_between)
        if check.max_length is not None:
            return value.str.len_chars() <= check.max_length
        if check.pattern is not None:
            return fully_matches(value, check.pattern)
        if check.printable:
            return value.str.contains(PRINTABLE_ASCII)
        if check.positive:
            return value > 0
        assert check.sql is not None  # noqa: S101  (the declaration holds exactly one rule)
        # The condition names the column itself; it reads the value under check.
        return pl.sql_expr(check.sql).fill_null(value=False)

    return functools.partial(passes)


def source_contract(spec: SourceSpec) -> pa.DataFrameSchema:
    """The contract of a declared source (version in its name, e.g. `staged_flights_v1`)."""
    covered = {c.name for c in spec.columns_added_by("stage", "prepare")}
    return contract(
        spec.contract_spec,
        name=f"staged_{spec.name}_v1",
        nullable=spec.nullable & covered,
        column_checks={
            c.name: [column_check(check, c.name) for check in c.checks]
            for c in spec.columns
            if c.checks and c.name in covered
        },
        row_checks=[row_check(rule.name, pl.sql_expr(rule.sql)) for rule in spec.rules],
    )


def contract_of(spec: SourceSpec | str) -> pa.DataFrameSchema:
    """The contract of a declared source (or of the one so named), built once."""
    found = declared(spec) if isinstance(spec, str) else spec
    return _contract(found.model_dump_json())


@functools.cache
def _contract(spec_json: str) -> pa.DataFrameSchema:
    return source_contract(SourceSpec.model_validate_json(spec_json))
