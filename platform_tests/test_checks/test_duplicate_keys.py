"""The business-key guard: keys that occur more than once, counted exactly."""

import polars as pl

from lakehouse.checks.logic import duplicate_keys

KEY = ["day", "flight"]


def test_unique_keys_pass_with_an_empty_sample_of_the_keys() -> None:
    found = duplicate_keys(pl.DataFrame({"day": [1, 1, 2], "flight": [10, 11, 10]}), KEY)
    assert found.passed
    assert (found.keys, found.excess_rows) == (0, 0)
    assert found.sample.schema == pl.Schema(
        {"day": pl.Int64, "flight": pl.Int64, "rows": pl.UInt32}
    )


def test_repeated_keys_are_counted_nulls_included() -> None:
    frame = pl.DataFrame(
        {"day": [1, 1, 1, 2, None, None, 3], "flight": [10, 10, 10, 10, None, None, None]}
    )
    found = duplicate_keys(frame, KEY)
    assert not found.passed
    assert (found.keys, found.excess_rows) == (2, 3)
    assert found.sample.rows() == [(None, None, 2), (1, 10, 3)]
