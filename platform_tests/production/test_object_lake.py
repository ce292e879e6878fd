"""The Parquet IO manager on an S3-compatible store (moto's server on loopback), end to end."""

from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import dagster as dg
import fsspec
import polars as pl
import pytest
import s3fs

from lakehouse.definitions import build_resources, defs
from lakehouse.resources import object_lake
from lakehouse.resources.parquet_io import (
    DailyScan,
    MissingPartitionError,
    ParquetIOManager,
    PartitionMismatchError,
    StagedPartitions,
    scan_files,
)
from lakehouse.runner import materialize_range
from lakehouse.settings import Settings
from platform_tests.production.services import TcpProxy
from platform_tests.test_end_to_end import expected_from_files, mart_totals

pytestmark = [pytest.mark.slow, pytest.mark.production]
D1, D2, D3 = date(2013, 1, 1), date(2013, 1, 2), date(2013, 1, 3)


def keys(uri: str) -> list[str]:
    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    prefix = fs._strip_protocol(uri)
    return sorted(path.removeprefix(prefix + "/") for path in fs.find(uri))


def scan(table_uri: str, days: list[date]) -> pl.LazyFrame:
    return scan_files(object_lake.partition_files(table_uri, days))


def frame(day: date, values: list[int]) -> pl.LazyFrame:
    return pl.LazyFrame({"d": [day] * len(values), "x": values})


def test_landing_to_marts_with_the_lake_on_s3(landed: Settings, lake_uri: str) -> None:
    # LAKEHOUSE_LAKE_URI is the only change from the local setup.
    resources = build_resources(replace(landed, lake_uri=lake_uri))
    assert isinstance(resources["lake_io_manager"], ParquetIOManager)
    with dg.instance_for_test() as instance:
        result = materialize_range(defs, D1, D2, instance, resources=resources)
    assert result.success
    for landing in landed.landing_dir.glob("*/2013-01-03.csv"):
        landing.unlink()  # the run covered D1..D2: compare with exactly those deliveries
    expected = expected_from_files(landed.landing_dir)
    assert mart_totals(landed).equals(expected.cast(mart_totals(landed).schema))
    assert not landed.lake_dir.exists(), "nothing may be written to the local lake"
    stored = keys(lake_uri)
    assert "raw/flights/date=2013-01-01/_manifest.json" in stored
    assert "staged/flights/date=2013-01-02/_manifest.json" in stored
    assert "staged/airports/_manifest.json" in stored
    flights = scan(f"{lake_uri}/staged/flights", [D1, D2]).collect()
    assert flights.height == int(expected["flights"].sum())


def test_replacing_a_partition_publishes_by_manifest_and_keeps_one_generation(
    lake_uri: str,
) -> None:
    table = f"{lake_uri}/staged/t"
    for generation in range(3):
        object_lake.write_partitions(frame(D1, [generation] * 2), table, "d", [D1, D2])
    assert scan(table, [D1]).collect()["x"].to_list() == [2, 2]
    # D2 had no rows: an empty partition with the schema, replacing whatever was there.
    assert scan(table, [D2]).collect().schema == {
        "d": pl.Date,
        "x": pl.Int64,
    }
    files = [k for k in keys(table) if k.startswith("date=2013-01-01/part-")]
    assert len(files) == 2, "the current and the previous file; older ones are deleted"


@pytest.fixture
def fresh_s3_clients() -> Iterator[None]:
    """s3fs keeps one client per configuration and reads the endpoint variable only when it
    builds one: start with none cached, and leave none bound to this test's proxy.
    """
    s3fs.S3FileSystem.clear_instance_cache()
    yield
    s3fs.S3FileSystem.clear_instance_cache()


@pytest.mark.usefixtures("fresh_s3_clients")
def test_store_unreachable_mid_write_keeps_the_previous_partition(
    lake_uri: str, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The network to the store goes away after the new data files are written and before the
    manifests: the write fails, and once the store is back the old partition is what readers get.
    """
    proxy = TcpProxy(int(s3_endpoint.rsplit(":", 1)[1]))
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{proxy.port}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # fail in seconds, not after minutes of retries
    table = f"{lake_uri}/raw/t"
    object_lake.write_partitions(frame(D1, [1, 2, 3]), table, "d", [D1])
    publish = object_lake.publish

    def network_lost_then_publish(fs: object, files: dict[str, tuple[str, int]]) -> None:
        proxy.cut()
        publish(fs, files)

    monkeypatch.setattr(object_lake, "publish", network_lost_then_publish)
    with pytest.raises(Exception, match=r"(?i)connect"):
        object_lake.write_partitions(frame(D1, [9]), table, "d", [D1])
    proxy.restore()
    assert scan(table, [D1]).collect()["x"].to_list() == [1, 2, 3]
    proxy.cut()


def test_rows_outside_the_run_publish_nothing(lake_uri: str) -> None:
    table = f"{lake_uri}/raw/t"
    object_lake.write_partitions(frame(D1, [1]), table, "d", [D1])
    with pytest.raises(object_lake.ObjectStorePartitionError, match="outside the partitions"):
        object_lake.write_partitions(pl.concat([frame(D1, [5]), frame(D3, [6])]), table, "d", [D1])
    assert scan(table, [D1]).collect()["x"].to_list() == [1]
    assert not any("2013-01-03" in k for k in keys(table)), "stray files are removed"
    with pytest.raises(object_lake.ObjectStoreMissingError, match="2013-01-02"):
        scan(table, [D1, D2])


def staged_output_context(table: str, first: date, last: date) -> dg.OutputContext:
    return dg.build_output_context(
        asset_key=dg.AssetKey(["raw", table]),
        definition_metadata={"partition_expr": "d"},
        asset_partitions_def=dg.DailyPartitionsDefinition(start_date="2013-01-01"),
        asset_partition_key_range=dg.PartitionKeyRange(first.isoformat(), last.isoformat()),
    )


def test_staged_partitions_missing_a_day_publish_nothing_on_s3(
    lake_uri: str, tmp_path: Path
) -> None:
    # As on a local lake: a producer that staged no file for a day of the run must not have
    # that day published as an empty partition over its good rows.
    manager = ParquetIOManager(base_dir=lake_uri)
    day1, day2 = tmp_path / "d1.parquet", tmp_path / "d2.parquet"
    frame(D1, [1, 2]).collect().write_parquet(day1)
    frame(D2, [3]).collect().write_parquet(day2)
    manager.handle_output(staged_output_context("t", D1, D1), StagedPartitions({D1: day1}))
    with pytest.raises(PartitionMismatchError, match=r"1 day\(s\) \(2013-01-01\)"):
        manager.handle_output(staged_output_context("t", D1, D2), StagedPartitions({D2: day2}))
    table = f"{lake_uri}/raw/t"
    assert scan(table, [D1]).collect()["x"].to_list() == [1, 2]
    with pytest.raises(object_lake.ObjectStoreMissingError, match="2013-01-02"):
        scan(table, [D2])


def test_a_daily_scan_on_s3_reads_each_chunk_of_days_from_the_files_found_at_load(
    lake_uri: str,
) -> None:
    object_lake.write_partitions(
        pl.concat([frame(D1, [1]), frame(D2, [2])]), f"{lake_uri}/raw/t", "d", [D1, D2]
    )
    days = dg.DailyPartitionsDefinition(start_date="2013-01-01", end_date="2013-01-04")

    def load(end: date) -> object:
        return ParquetIOManager(base_dir=lake_uri).load_input(
            dg.build_input_context(
                asset_key=["raw", "t"],
                dagster_type=dg.PythonObjectDagsterType(DailyScan),
                asset_partitions_def=days,
                asset_partition_key_range=dg.PartitionKeyRange(D1.isoformat(), end.isoformat()),
            )
        )

    scan = load(D2)
    assert isinstance(scan, DailyScan)
    assert scan.scan([D2]).collect()["x"].to_list() == [2]
    with pytest.raises(MissingPartitionError, match=r"\(2013-01-03\)"):
        load(D3)
