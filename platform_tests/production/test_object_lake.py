"""The lake's Delta tables on an S3-compatible store (moto's server on loopback), end to end."""

import threading
from dataclasses import replace
from datetime import date
from typing import Any

import dagster as dg
import fsspec
import polars as pl
import pytest
from deltalake import DeltaTable

from lakehouse.definitions import build_resources, defs
from lakehouse.resources.delta_tables import DeltaStore, storage_options
from lakehouse.resources.lake_io import DailyScan, LakeIOManager
from lakehouse.runner import materialize_range
from lakehouse.settings import Settings
from platform_tests.test_end_to_end import expected_from_files

pytestmark = [pytest.mark.slow, pytest.mark.production]
D1, D2, D3 = date(2013, 1, 1), date(2013, 1, 2), date(2013, 1, 3)
DAYS = dg.DailyPartitionsDefinition(start_date="2013-01-01", end_date="2013-01-04")


def keys(uri: str) -> list[str]:
    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    prefix = fs._strip_protocol(uri)
    return sorted(path.removeprefix(prefix + "/") for path in fs.find(uri))


def read(uri: str, version: int | None = None) -> pl.DataFrame:
    """The table as any Delta reader outside the platform sees it."""
    return pl.read_delta(uri, version=version, storage_options=storage_options(uri))


def daily(values: dict[date, list[int]]) -> dg.AssetsDefinition:
    @dg.asset(
        key=["raw", "t"],
        partitions_def=DAYS,
        metadata={"partition_expr": "d"},
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def t(context: dg.AssetExecutionContext) -> pl.DataFrame:
        days = [date.fromisoformat(k) for k in context.partition_keys]
        return pl.DataFrame(
            {
                "d": [d for d in days for _ in values.get(d, [])],
                "x": [v for d in days for v in values.get(d, [])],
            },  # noqa: E501
            schema={"d": pl.Date, "x": pl.Int64},
        )

    return t


def write(lake_uri: str, values: dict[date, list[int]], first: date, last: date) -> Any:
    tags = {
        "dagster/asset_partition_range_start": first.isoformat(),
        "dagster/asset_partition_range_end": last.isoformat(),
    }
    return dg.materialize(
        [daily(values)],
        resources={"io_manager": LakeIOManager(base_dir=lake_uri)},
        tags=tags,
        raise_on_error=False,
    )


def test_landing_to_marts_with_the_lake_on_s3(landed: Settings, lake_uri: str) -> None:
    # LAKEHOUSE_LAKE_URI is the only change from the local setup.
    resources = build_resources(replace(landed, lake_uri=lake_uri))
    assert isinstance(resources["lake_io_manager"], LakeIOManager)
    with dg.instance_for_test() as instance:
        result = materialize_range(defs, D1, D2, instance, resources=resources)
    assert result.success
    for landing in landed.landing_dir.glob("*/2013-01-03.csv"):
        landing.unlink()  # the run covered D1..D2: compare with exactly those deliveries
    expected = expected_from_files(landed.landing_dir)
    # The marts are Delta tables on the store too (DuckDB reads no object store offline).
    totals = (
        read(f"{lake_uri}/marts/mart_ontime_daily")
        .group_by("flight_date")
        .agg(pl.col("flights").sum(), pl.col("cancelled").sum())
        .sort("flight_date")
    )
    assert totals.equals(expected.cast(totals.schema))
    assert not landed.lake_dir.exists(), "nothing may be written to the local lake"
    stored = keys(lake_uri)
    assert "raw/flights/_delta_log/00000000000000000000.json" in stored
    assert any(k.startswith("staged/flights/flight_date=2013-01-02/part-") for k in stored)
    assert not any("_manifest" in k for k in stored)
    flights = read(f"{lake_uri}/staged/flights")
    assert flights.height == int(expected["flights"].sum())


def test_replacing_partitions_on_s3_is_one_commit_each(lake_uri: str) -> None:
    for generation in range(3):
        assert write(lake_uri, {D1: [generation] * 2}, D1, D2).success
    table = f"{lake_uri}/raw/t"
    assert read(table)["x"].to_list() == [2, 2]
    assert read(table, version=0)["x"].to_list() == [0, 0]
    store = DeltaStore(lake_uri)
    assert store.present_partitions(store.require(table)) == {
        ("2013-01-01",): 2,
        ("2013-01-02",): 0,
    }
    assert len(store.history(table)) == 3


def test_a_commit_that_fails_after_the_files_are_placed_keeps_the_previous_version(
    lake_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store fails the commit after the new data files are in place: the write fails, every
    reader still gets the old version, and the next run replaces the partition as usual.
    """
    assert write(lake_uri, {D1: [1, 2, 3]}, D1, D1).success

    def store_unreachable(*args: object, **kwargs: object) -> None:
        msg = "Generic S3 error: Error performing PUT ... connection reset"
        raise OSError(msg)

    with monkeypatch.context() as patched:
        patched.setattr(DeltaTable, "create_write_transaction", store_unreachable)
        assert not write(lake_uri, {D1: [9]}, D1, D1).success
    table = f"{lake_uri}/raw/t"
    assert read(table)["x"].to_list() == [1, 2, 3]
    assert len([k for k in keys(table) if k.endswith(".parquet")]) == 2  # placed, not committed
    assert write(lake_uri, {D1: [7]}, D1, D1).success
    assert read(table)["x"].to_list() == [7]


def test_concurrent_commits_to_one_table_on_s3_all_land(lake_uri: str) -> None:
    """Writers of different days commit at once; the store's conditional PUT lets exactly one
    win each log entry and delta-rs retries the others on the new version: no commit is lost.
    """
    assert write(lake_uri, {D1: [0], D2: [0], D3: [0]}, D1, D3).success
    results: dict[date, bool] = {}

    def writer(day: date) -> None:
        results[day] = write(lake_uri, {day: [day.day] * 3}, day, day).success

    threads = [threading.Thread(target=writer, args=(day,)) for day in (D1, D2, D3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {D1: True, D2: True, D3: True}
    table = read(f"{lake_uri}/raw/t")
    assert sorted(table["x"].to_list()) == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert len(DeltaStore(lake_uri).history(f"{lake_uri}/raw/t")) == 4


def test_rows_outside_the_run_commit_nothing_on_s3(lake_uri: str) -> None:
    assert write(lake_uri, {D1: [1]}, D1, D1).success

    @dg.asset(key=["raw", "t"], partitions_def=DAYS, metadata={"partition_expr": "d"})
    def stray() -> pl.DataFrame:
        return pl.DataFrame({"d": [D1, D3], "x": [5, 6]})

    result = dg.materialize(
        [stray], resources={"io_manager": LakeIOManager(base_dir=lake_uri)},
        partition_key="2013-01-01", raise_on_error=False,
    )  # fmt: skip
    assert not result.success
    assert read(f"{lake_uri}/raw/t")["x"].to_list() == [1]
    assert not any("2013-01-03" in k for k in keys(f"{lake_uri}/raw/t"))


def test_a_daily_scan_on_s3_reads_chunks_of_the_loaded_version(lake_uri: str) -> None:
    assert write(lake_uri, {D1: [1], D2: [2]}, D1, D2).success
    got: dict[str, DailyScan] = {}

    @dg.asset(
        key=["s", "reader"],
        partitions_def=DAYS,
        ins={"t": dg.AssetIn(["raw", "t"])},
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def reader(t: DailyScan) -> None:
        got["scan"] = t

    tags = {
        "dagster/asset_partition_range_start": "2013-01-01",
        "dagster/asset_partition_range_end": "2013-01-02",
    }
    assert dg.materialize(
        [daily({}), reader], selection=[reader.key], tags=tags,
        resources={"io_manager": LakeIOManager(base_dir=lake_uri)},
    ).success  # fmt: skip
    assert got["scan"].scan([D2]).collect()["x"].to_list() == [2]
