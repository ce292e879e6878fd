"""The reusable text rules of contracts (pattern, length, characters), and how a failing value
is shown in a reason.
"""

import io

import pandera.polars as pa
import polars as pl
import pytest

from lakehouse.contracts.base import (
    FAILED_CHECKS,
    matches,
    max_length,
    no_control_characters,
    printable_ascii,
    shown_value,
    split_by_contract,
)
from lakehouse.contracts.declared import contract_of
from lakehouse.simulator.sample import FLIGHTS, sample_bytes


def schema(check: pa.Check) -> pa.DataFrameSchema:
    return pa.DataFrameSchema({"code": pa.Column(pl.String, checks=[check], nullable=True)})


@pytest.mark.parametrize(
    ("check", "passing", "failing"),
    [
        (matches("[A-Z]{2}"), ["UA", "BB", None], ["U", "UAL", "ua", "U\x00", "UA\n"]),
        (max_length(3), ["", "JFK", "é" * 3, None], ["ABCD", "é" * 4]),
        (printable_ascii(), ["UA", "a b~", "", None], ["U\x00", "U\t", "Ü", "日本", "A\x7f"]),
        (no_control_characters(), ["UA", "Zürich", "日本", None], ["U\x00", "a\tb", "\x1b[31m"]),
    ],
    ids=["matches", "max_length", "printable_ascii", "no_control_characters"],
)
def test_a_text_rule_rejects_exactly_the_values_that_break_it(
    check: pa.Check, passing: list[str | None], failing: list[str]
) -> None:
    frame = pl.DataFrame({"code": [*passing, *failing]}, schema={"code": pl.String})
    split = split_by_contract(frame, schema(check))
    assert split.valid["code"].to_list() == passing
    assert split.rejected["code"].to_list() == failing
    reasons = split.rejected[FAILED_CHECKS].to_list()
    assert all(reason.startswith(f"code: {check.name} = ") for reason in reasons)


def test_a_pattern_must_match_the_whole_value() -> None:
    split = split_by_contract(
        pl.DataFrame({"code": ["N123", "xN123", "N123x"]}), schema(matches("N[0-9]+"))
    )
    assert split.valid["code"].to_list() == ["N123"]


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "null"),
        ("N123", "N123"),
        ("N1\x0023", "N1\\x0023"),
        ("Nü", "Nü"),
        ("N" * 10_000_000, "N" * 40 + "... (10,000,000 characters)"),
    ],
    ids=["null", "plain", "nul-byte", "non-ascii", "10-mb"],
)
def test_a_failing_value_is_shown_short_and_with_control_characters_escaped(
    value: str | None, shown: str
) -> None:
    assert shown_value(value) == shown


def test_every_tail_number_of_the_2013_sample_keeps_the_flights_rule() -> None:
    """The rule must not quarantine a real flight: the README's 2013 figures depend on it."""
    flights = pl.read_csv(
        io.BytesIO(sample_bytes(FLIGHTS)),
        columns=["tailnum"],
        schema_overrides={"tailnum": pl.String},
    )
    tails = flights.filter(pl.col("tailnum") != "NA")  # NA is null once staged
    assert tails.height > 330_000
    [tail_number] = contract_of("flights").columns["tailnum"].checks
    assert tail_number.name == "matches([A-Z0-9][A-Z0-9-]{1,6})"
    split = split_by_contract(tails, schema(tail_number).rename_columns({"code": "tailnum"}))
    assert split.rejected.height == 0
