"""Chunking a long range by rows, and spilling chunks to disk."""

from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from lakehouse.chunks import day_chunks, spilled
from lakehouse.settings import Settings

DAYS = [date(2013, 1, 1) + timedelta(days=n) for n in range(6)]


def test_days_are_grouped_in_order_up_to_the_row_budget() -> None:
    rows = dict(zip(DAYS, [400, 500, 300, 900, 100, 50], strict=True))

    chunks = day_chunks(list(reversed(DAYS)), rows, max_rows=1000)

    assert chunks == [DAYS[0:2], DAYS[2:3], DAYS[3:5], DAYS[5:6]]
    assert all(sum(rows[d] for d in chunk) <= 1000 for chunk in chunks)


def test_a_day_larger_than_the_budget_is_a_chunk_alone_and_unknown_days_are_empty() -> None:
    chunks = day_chunks(DAYS[:3], {DAYS[1]: 5000}, max_rows=1000)

    assert chunks == [DAYS[0:1], DAYS[1:2], DAYS[2:3]]
    assert day_chunks(DAYS, {}, max_rows=1) == [DAYS]


def test_a_spill_reads_back_every_chunk_in_order_and_is_removed_even_on_failure() -> None:
    schema = pl.Schema({"n": pl.Int64()})
    seen: list[Path] = []

    def spill_then_fail() -> None:
        with spilled() as spill:
            seen.append(spill.directory)
            assert spill.scan(schema).collect().schema == schema
            spill.add(pl.DataFrame({"n": [1, 2]}))
            spill.add(pl.DataFrame({"n": [3]}))
            assert spill.scan(schema).collect()["n"].to_list() == [1, 2, 3]
            raise RuntimeError

    with pytest.raises(RuntimeError):
        spill_then_fail()
    assert not seen[0].exists()


@pytest.mark.parametrize("value", ["0", "-5", "lots"])
def test_a_bad_chunk_size_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(ValueError, match="LAKEHOUSE_CHUNK_ROWS"):
        Settings.from_env({"LAKEHOUSE_CHUNK_ROWS": value})


def test_the_chunk_size_is_read_from_the_environment() -> None:
    assert Settings.from_env({"LAKEHOUSE_CHUNK_ROWS": "5000"}).chunk_rows == 5000
    assert Settings.from_env({}).chunk_rows == 1_000_000


@pytest.mark.parametrize("value", ["-1", "soon", "nan"])
def test_a_landing_quiet_period_that_is_not_a_duration_is_refused_by_name(value: str) -> None:
    with pytest.raises(ValueError, match="LAKEHOUSE_LANDING_QUIET_SECONDS"):
        Settings.from_env({"LAKEHOUSE_LANDING_QUIET_SECONDS": value})


def test_the_landing_quiet_period_is_read_in_seconds() -> None:
    assert (
        Settings.from_env({"LAKEHOUSE_LANDING_QUIET_SECONDS": "2.5"}).landing_quiet_seconds == 2.5
    )
    assert Settings.from_env({}).landing_quiet_seconds == 60.0
