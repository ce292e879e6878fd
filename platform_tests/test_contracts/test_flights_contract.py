from datetime import timedelta

import polars as pl
import pytest

from lakehouse.contracts.base import FAILED_CHECKS, ContractSchemaError, split_by_contract
from lakehouse.contracts.declared import contract_of
from lakehouse.transforms.flights import add_arrival_utc, stage_flights
from lakehouse.transforms.parsing import ROW_ERRORS
from platform_tests.factories import raw_flights

FLIGHTS_CONTRACT = contract_of("flights")

AIRPORTS = pl.LazyFrame({"faa": ["IAH"], "tzone": ["America/Chicago"]})


def staged(*overrides: dict[str, str]) -> pl.DataFrame:
    """Staged flights, numbered by `flight` so each row's key is unique."""
    rows = [{"flight": str(n), **o} for n, o in enumerate(overrides, start=1)]
    typed = stage_flights(raw_flights(*rows)).drop(ROW_ERRORS)
    return add_arrival_utc(typed, AIRPORTS, ["America/Chicago"]).collect()


def test_clean_rows_all_pass() -> None:
    split = split_by_contract(staged({}, {"tailnum": "NA"}), FLIGHTS_CONTRACT)
    assert (split.valid.height, split.rejected.height) == (2, 0)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (pl.col("month").cast(pl.Int8) * 0 + 13, "month: in_range(1, 12) = 13"),
        (pl.lit("U"), "carrier: two_letter_code = U"),
        (pl.lit("BOS"), "origin: new_york_airport = BOS"),
        (pl.lit(-1, dtype=pl.Int16), "distance: positive = -1"),
        (pl.lit(1275, dtype=pl.Int16), "dep_time: hhmm_clock_time = 1275"),
        (pl.lit(5000, dtype=pl.Int16), "arr_delay: in_range(-2880, 2880) = 5000"),
        (pl.lit("N1\x0023"), "tailnum: matches([A-Z0-9][A-Z0-9-]{1,6}) = N1\\x0023"),
        (pl.lit("NÜ123"), "tailnum: matches([A-Z0-9][A-Z0-9-]{1,6}) = NÜ123"),
        (pl.lit("U\x00"), "carrier: printable_ascii = U\\x00"),
        (pl.lit("ÄTL"), "dest: printable_ascii = ÄTL"),
    ],
)
def test_a_value_breaking_a_rule_rejects_only_its_row_with_the_reason(
    change: pl.Expr, reason: str
) -> None:
    column = reason.split(":")[0]
    frame = staged({}, {}, {})
    broken = frame.with_columns(
        pl.when(pl.col("flight") == 2).then(change).otherwise(pl.col(column)).alias(column)
    )
    split = split_by_contract(broken, FLIGHTS_CONTRACT)
    assert split.valid["flight"].to_list() == [1, 3]
    assert split.rejected["flight"].to_list() == [2]
    assert split.rejected[FAILED_CHECKS].to_list() == [reason]


def test_a_cancelled_flight_with_an_arrival_is_rejected() -> None:
    frame = staged({}).with_columns(cancelled=pl.lit(True))
    split = split_by_contract(frame, FLIGHTS_CONTRACT)
    assert split.rejected[FAILED_CHECKS].to_list() == ["cancelled_has_no_arrival"]


def test_an_arrival_before_its_departure_is_rejected() -> None:
    frame = staged({}).with_columns(arr_utc=pl.col("dep_utc") - timedelta(minutes=5))
    split = split_by_contract(frame, FLIGHTS_CONTRACT)
    assert split.rejected[FAILED_CHECKS].to_list() == ["arrival_after_departure"]


def test_duplicate_keys_are_not_a_contract_matter() -> None:
    """Older deliveries of a key are removed after validation (see settle)."""
    frame = staged({}, {}).with_columns(flight=pl.lit(7, dtype=pl.Int32))
    split = split_by_contract(frame, FLIGHTS_CONTRACT)
    assert (split.valid.height, split.rejected.height) == (2, 0)


def test_a_missing_required_value_is_named_in_the_reason() -> None:
    frame = staged({}).with_columns(distance=pl.lit(None, dtype=pl.Int16))
    [reason] = split_by_contract(frame, FLIGHTS_CONTRACT).rejected[FAILED_CHECKS].to_list()
    assert reason.startswith("distance: ")
    assert reason.endswith("= null")


def test_several_broken_rules_are_all_named() -> None:
    frame = staged({}).with_columns(month=pl.lit(0, dtype=pl.Int8), distance=pl.lit(0, pl.Int16))
    [reasons] = split_by_contract(frame, FLIGHTS_CONTRACT).rejected[FAILED_CHECKS].to_list()
    assert set(reasons.split("; ")) == {"month: in_range(1, 12) = 0", "distance: positive = 0"}


def test_no_row_is_lost_or_doubled() -> None:
    frame = staged({}, {}, {}, {}).with_columns(
        month=pl.Series([1, 13, 1, 0], dtype=pl.Int8),
        distance=pl.Series([1, 1, -5, -5], dtype=pl.Int16),
    )
    split = split_by_contract(frame, FLIGHTS_CONTRACT)
    assert split.valid.height + split.rejected.height == frame.height
    assert sorted(split.valid["flight"].to_list() + split.rejected["flight"].to_list()) == [
        1,
        2,
        3,
        4,
    ]


@pytest.mark.parametrize("broken", ["missing", "retyped", "extra"])
def test_a_schema_break_is_a_batch_error_naming_the_column(broken: str) -> None:
    frame = staged({})
    frame = {
        "missing": frame.drop("distance"),
        "retyped": frame.with_columns(pl.col("distance").cast(pl.String)),
        "extra": frame.with_columns(gate=pl.lit("A1")),
    }[broken]
    with pytest.raises(ContractSchemaError, match="distance|gate"):
        split_by_contract(frame, FLIGHTS_CONTRACT)
