from pathlib import Path

import dagster as dg
import polars as pl

from lakehouse.definitions import ASSETS, SENSORS, build_resources
from lakehouse.landing import content_hash, write_atomic
from lakehouse.settings import Settings

HEADER = b"year,month,day\n"


def tick(
    instance: dg.DagsterInstance, landing: Path, cursor: str | None
) -> tuple[list[dg.RunRequest], str | None]:
    sensor = SENSORS[0]
    resources = build_resources(Settings.from_env().with_home(landing.parent))
    with dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources=resources,
        definitions=dg.Definitions(assets=ASSETS, sensors=[sensor], resources=resources),
    ) as context:
        result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    return list(result.run_requests or []), result.cursor


def test_new_same_changed_and_bad_files_across_ticks(tmp_path: Path) -> None:
    flights = tmp_path / "landing" / "flights"
    with dg.instance_for_test() as instance:
        requests, cursor = tick(instance, tmp_path / "landing", None)
        assert requests == []  # no landing folder yet: nothing to do, no crash

        write_atomic(flights / "2013-01-01.csv", HEADER + b"2013,1,1\n")
        requests, cursor = tick(instance, tmp_path / "landing", cursor)
        assert [r.partition_key for r in requests] == ["2013-01-01"]

        requests, cursor = tick(instance, tmp_path / "landing", cursor)
        assert requests == []

        write_atomic(flights / "2013-01-01.csv", HEADER + b"2013,1,1\n2013,1,1\n")
        requests, cursor = tick(instance, tmp_path / "landing", cursor)
        assert [r.partition_key for r in requests] == ["2013-01-01"]

        (flights / "notes.txt").write_text("not a delivery")
        (flights / "2015-01-01.csv").write_bytes(HEADER)
        (flights / ".2013-01-02.csv.partial.tmp").write_bytes(HEADER)
        requests, cursor = tick(instance, tmp_path / "landing", cursor)
        assert requests == []


def test_a_batch_of_days_is_one_single_run_backfill(tmp_path: Path) -> None:
    for day in ("01", "02", "03"):
        write_atomic(
            tmp_path / "landing" / "flights" / f"2013-01-{day}.csv",
            HEADER + f"2013,1,{day}\n".encode(),
        )
    with dg.instance_for_test() as instance:
        requests, _ = tick(instance, tmp_path / "landing", None)
    assert len(requests) == 1
    assert requests[0].tags["dagster/asset_partition_range_start"] == "2013-01-01"
    assert requests[0].tags["dagster/asset_partition_range_end"] == "2013-01-03"


def test_files_already_ingested_by_make_run_start_no_run(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    body = HEADER + b"2013,1,1\n"
    write_atomic(landing / "flights" / "2013-01-01.csv", body)
    write_atomic(landing / "flights" / "2013-01-02.csv", HEADER + b"2013,1,2\n")
    held = tmp_path / "lake" / "raw" / "flights" / "date=2013-01-01" / "part-0.parquet"
    held.parent.mkdir(parents=True)
    pl.DataFrame({"_content_hash": [content_hash(body)]}).write_parquet(held)
    with dg.instance_for_test() as instance:
        requests, _ = tick(instance, landing, None)
    assert [r.partition_key for r in requests] == ["2013-01-02"]
