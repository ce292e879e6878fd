"""A daily raw asset: a range run publishes every day it read, or nothing if a day fails."""

from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import pyarrow.parquet as pq
from deltalake import DeltaTable
from polars.testing import assert_frame_equal

from lakehouse.definitions import build_resources, defs
from lakehouse.landing import PARSE_ERROR, landing_path, write_atomic
from lakehouse.resources.lake_io import LakeIOManager
from lakehouse.resources.landing import LandingZone
from lakehouse.runner import materialize_range
from lakehouse.settings import Settings
from lakehouse.simulator.sample import FLIGHTS

RAW = dg.AssetKey(["raw", "flights"])
DAYS = [date(2013, 1, 1), date(2013, 1, 2), date(2013, 1, 3)]


def leftovers(scratch: Path) -> list[Path]:
    """Staging folders of raw ingest still in the temporary folder."""
    return list(scratch.glob("lakehouse-partitions-*"))


def run(
    settings: Settings, instance: dg.DagsterInstance, **resources: object
) -> dg.ExecuteInProcessResult:
    return materialize_range(
        defs, DAYS[0], DAYS[-1], instance,
        resources={**build_resources(settings), **resources},
        selection=dg.AssetSelection.assets(RAW),
    )  # fmt: skip


def stored(settings: Settings) -> pl.DataFrame:
    table = pl.read_delta(str(settings.lake_dir / "raw" / "flights"))
    return table.filter(pl.col("_partition_date").is_in(DAYS)).sort("_partition_date")


def delivered(settings: Settings, day: date) -> Path:
    return landing_path(settings.landing_dir, FLIGHTS.name, day)


def test_a_range_run_stores_every_line_and_reports_it(landed: Settings, scratch: Path) -> None:
    day2 = delivered(landed, DAYS[1])
    write_atomic(day2, day2.read_bytes() + b"garbage\n")
    with dg.instance_for_test() as instance:
        assert run(landed, instance).success
        records = instance.fetch_materializations(RAW, limit=10).records
        [totals] = instance.fetch_observations(RAW, limit=10).records
    landing = LandingZone(root=str(landed.landing_dir))
    expected = landing.read(FLIGHTS, landing.daily_files(FLIGHTS, DAYS))
    rows = stored(landed)
    assert_frame_equal(rows.drop("_ingested_at"), expected.drop("_ingested_at"))
    assert rows["_ingested_at"].n_unique() == 1
    assert len(records) == len(DAYS)
    # Each day's materialization counts that day's lines.
    per_day = {d.isoformat(): n for d, n in expected.group_by("_partition_date").len().rows()}
    assert {
        r.partition_key: r.asset_materialization.metadata["dagster/row_count"].value  # type: ignore[union-attr]
        for r in records
    } == per_day
    # The run's figures are recorded once, as an observation over the range, not as any
    # day's; the newest two days carry the column schema (what the schema check compares).
    for record in records:
        assert "malformed_lines" not in record.asset_materialization.metadata  # type: ignore[union-attr]
    metadata = totals.asset_observation.metadata  # type: ignore[union-attr]
    assert metadata["malformed_lines"].value == 1 == expected[PARSE_ERROR].count()
    assert metadata["files"].value == len(DAYS)
    assert metadata["rows"].value == expected.height
    with_schema = {
        r.partition_key: r.asset_materialization.metadata.get("dagster/column_schema")  # type: ignore[union-attr]
        for r in records
    }
    newest = sorted(with_schema)[-2:]
    assert {k for k, v in with_schema.items() if v is not None} == set(newest)
    schema = with_schema[newest[-1]].value  # type: ignore[union-attr]
    assert [c.name for c in schema.columns] == expected.columns  # type: ignore[union-attr]
    assert leftovers(scratch) == []
    # Text's min/max prune nothing; a raw day's file is written without them.
    for file in DeltaTable(str(landed.lake_dir / "raw" / "flights")).file_uris():
        footer = pq.ParquetFile(file)
        columns = footer.metadata.row_group(0).to_dict()["columns"]
        assert not any(c["statistics"]["has_min_max"] for c in columns)


def test_a_header_only_day_replaces_its_rows_with_none(landed: Settings) -> None:
    with dg.instance_for_test() as instance:
        assert run(landed, instance).success
        day2 = delivered(landed, DAYS[1])
        write_atomic(day2, day2.read_bytes().split(b"\n", 1)[0] + b"\n")
        assert run(landed, instance).success
    rows = stored(landed)
    assert rows.height > 0
    assert DAYS[1] not in rows["_partition_date"].to_list()


def test_a_day_that_fails_publishes_nothing_of_the_run(landed: Settings, scratch: Path) -> None:
    with dg.instance_for_test() as instance:
        assert run(landed, instance).success
        before = stored(landed)
        write_atomic(delivered(landed, DAYS[0]), delivered(landed, DAYS[0]).read_bytes() * 2)
        write_atomic(delivered(landed, DAYS[2]), b"not,a,flights,header\n1,2,3,4\n")
        result = run(landed, instance)
    assert not result.success
    assert "2013-01-03.csv:1: header does not match" in str(result.get_step_failure_events())
    assert_frame_equal(stored(landed), before)  # day 1 was read again, but not published
    assert leftovers(scratch) == []


class FailingLake(LakeIOManager):
    """A lake whose disk fills up while the run publishes."""

    def handle_output(self, context: dg.OutputContext, obj: object) -> None:
        raise OSError("No space left on device")


def test_a_failed_publish_leaves_no_scratch_files(landed: Settings, scratch: Path) -> None:
    with dg.instance_for_test() as instance:
        result = run(landed, instance, lake_io_manager=FailingLake(base_dir=str(landed.lake_dir)))
        assert not result.success
        assert leftovers(scratch) == []
