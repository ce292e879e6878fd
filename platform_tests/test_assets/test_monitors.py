"""Checks that look beyond one run: volume against stored weeks, and schema changes."""

from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import polars as pl

from lakehouse.assets.metadata import column_schema, output_metadata
from lakehouse.assets.staged import Staging, row_count_result
from lakehouse.checks.monitors import schema_change_checks
from lakehouse.declarations import declared
from lakehouse.resources.lake_io import Lake
from lakehouse.transforms.spec import Column, TableSpec
from platform_tests.factories import store_daily

FLIGHTS_STAGING = Staging(declared("flights"))


MONDAY = date(2013, 1, 7)


def store_days(lake: Lake, days: list[date], rows: int) -> None:
    frame = pl.DataFrame({"flight_date": [d for d in days for _ in range(rows)]})
    store_daily(lake.base_dir, FLIGHTS_STAGING.key.path, frame, "flight_date")


def test_stored_counts_come_from_the_partitions_that_exist(tmp_path: Path) -> None:
    lake = Lake(base_dir=str(tmp_path))
    store_days(lake, [MONDAY, MONDAY + timedelta(days=2)], rows=3)
    counts = lake.day_rows(FLIGHTS_STAGING.key, [MONDAY + timedelta(n) for n in range(3)])
    assert counts.rows() == [(MONDAY, 3), (MONDAY + timedelta(days=2), 3)]


def test_the_volume_check_compares_a_run_with_the_stored_weeks_before_it(tmp_path: Path) -> None:
    lake = Lake(base_dir=str(tmp_path))
    store_days(lake, [MONDAY + timedelta(weeks=w) for w in range(4)], rows=10)
    today = MONDAY + timedelta(weeks=4)
    light = pl.DataFrame({"day": [today], "rows": [5]})
    result = row_count_result(FLIGHTS_STAGING, light, [today], lake)
    assert not result.passed
    assert result.severity == dg.AssetCheckSeverity.WARN
    assert result.metadata["anomalous_days"].value == 1

    usual = pl.DataFrame({"day": [today], "rows": [10]})
    assert row_count_result(FLIGHTS_STAGING, usual, [today], lake).passed
    # A day that delivered nothing is judged as zero rows, not skipped.
    assert not row_count_result(FLIGHTS_STAGING, usual.clear(), [today], lake).passed


SPEC = TableSpec(columns=(Column("a", pl.Int64(), "first"), Column("b", pl.String(), "second")))


def test_a_changed_column_schema_warns_on_the_next_materialization() -> None:
    frames = iter(
        [
            pl.DataFrame({"a": [1], "b": ["x"]}),
            pl.DataFrame({"a": [2], "b": ["y"]}),
            pl.DataFrame({"a": [3.5], "b": ["z"], "c": [True]}),
        ]
    )

    @dg.asset
    def table() -> dg.MaterializeResult:
        frame = next(frames)
        return dg.MaterializeResult(metadata=output_metadata(frame, column_schema(SPEC)))

    checks = schema_change_checks([table])
    with dg.instance_for_test() as instance:
        verdicts = []
        for _ in range(3):
            result = dg.materialize([table, *checks], instance=instance)
            [evaluation] = result.get_asset_check_evaluations()
            verdicts.append(evaluation.passed)
    assert verdicts == [True, True, False]
    assert "Added columns: c" in (evaluation.description or "")
    assert "a: Int64 -> Float64" in (evaluation.description or "")
