from datetime import date, timedelta
from typing import Any

import dagster as dg
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from lakehouse.assets.metadata import markdown_preview
from lakehouse.assets.warehouse import ORPHAN_KEYS, fct_flights_asset
from lakehouse.checks.logic import orphans
from lakehouse.transforms.dimensions import UNKNOWN_SK
from lakehouse.transforms.facts import fct_flights
from platform_tests.factories import daily_scan
from platform_tests.test_transforms.test_facts import AIRLINES, AIRPORTS, PLANES, flights

FIRST = date(2013, 4, 1)
NULL_COLUMNS = ["time_hour", "sched_dep_utc", "dep_utc", "arr_utc", "dep_delay", "arr_delay",
                "air_time", "distance", "cancelled"]  # fmt: skip


def staged(days: int, per_day: int) -> pl.LazyFrame:
    """`per_day` flights on each of `days` days; every day has orphans, some sharing a key."""
    rows = [
        {"flight_date": FIRST + timedelta(days=d), "flight": n,
         "carrier": "ZZ" if n % 3 == 0 else "UA",
         "tailnum": ("N999" if d % 2 else None) if n % 4 == 0 else "N1"}
        for d in range(days)
        for n in range(per_day)
    ]  # fmt: skip
    return flights(*rows).with_columns(pl.lit(None).alias(c) for c in NULL_COLUMNS)


def run_fact(
    lf: pl.LazyFrame, days: int, chunk_rows: int, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """Run the asset body; the fact is read while its spill exists (as the IO manager does)."""
    last = FIRST + timedelta(days=days - 1)
    context = dg.build_asset_context(
        partition_key_range=dg.PartitionKeyRange(FIRST.isoformat(), last.isoformat())
    )
    monkeypatch.setenv("LAKEHOUSE_CHUNK_ROWS", str(chunk_rows))
    # A directly invoked asset has no run to attach per-partition metadata to.
    monkeypatch.setattr(
        "lakehouse.assets.warehouse.daily_metadata", lambda _c, _k, _r, metadata: dict(metadata)
    )
    seen: dict[str, Any] = {}
    dims = (AIRLINES.collect(), AIRPORTS.collect(), PLANES.collect())
    run = daily_scan(lf, "flight_date", [FIRST + timedelta(days=d) for d in range(days)])
    for event in fct_flights_asset(context, run, *dims):  # type: ignore[call-arg]
        if isinstance(event, dg.Output):
            assert isinstance(event.value, pl.LazyFrame)
            seen["fact"] = event.value.collect()
            seen["metadata"] = event.metadata
        else:
            seen["check"] = event
    return seen


@pytest.mark.parametrize("chunk_rows", [1, 12, 25, 10_000], ids=["day", "two", "odd", "one"])
def test_the_fact_built_in_chunks_equals_the_fact_built_at_once(
    monkeypatch: pytest.MonkeyPatch, chunk_rows: int
) -> None:
    lf = staged(days=5, per_day=12)
    seen = run_fact(lf, 5, chunk_rows, monkeypatch)
    whole = fct_flights(lf, AIRLINES, AIRPORTS, PLANES).collect()
    # Chunks come out in date order; within a day the order is the transform's own.
    assert seen["fact"]["flight_date"].is_sorted()
    assert_frame_equal(
        seen["fact"].sort("flight_date", "flight"), whole.sort("flight_date", "flight")
    )
    expected_chunks = {1: 5, 12: 5, 25: 3, 10_000: 1}[chunk_rows]
    assert seen["metadata"]["chunks"].value == expected_chunks
    assert seen["metadata"]["dagster/row_count"].value == 60


def test_orphans_of_all_chunks_add_up_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    lf = staged(days=5, per_day=12)
    seen = run_fact(lf, 5, 12, monkeypatch)
    whole = orphans(fct_flights(lf, AIRLINES, AIRPORTS, PLANES).collect(), ORPHAN_KEYS, UNKNOWN_SK)
    check = seen["check"]
    assert {k: v.value for k, v in check.metadata.items() if k.startswith("orphans_")} == {
        f"orphans_{name}": count for name, count in whole.counts.items()
    }
    assert whole.counts == {"airline": 20, "origin": 0, "dest": 0, "plane": 15}
    assert seen["metadata"]["unknown_plane"].value == 15
    # N999 is an orphan on days 2 and 4 (two chunks): its count is the sum over both.
    assert check.metadata["top_orphan_keys"].value == _preview(whole.top_keys)


def _preview(frame: pl.DataFrame) -> str:
    return str(markdown_preview(frame, rows=20).value)
