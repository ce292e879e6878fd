"""The run-failure sensor's record, and the daily catch-up schedule."""

import os
import time
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from typer.testing import CliRunner

from lakehouse.cli import app
from lakehouse.definitions import SCHEDULES, build_resources, defs
from lakehouse.deploy.instance import INSTANCE_ENV
from lakehouse.failures import read_failures
from lakehouse.landing import content_hash, write_atomic
from lakehouse.partitions import DAILY
from lakehouse.runner import materialize_range
from lakehouse.sensors.failures import record_run_failures
from lakehouse.settings import Settings
from platform_tests.factories import store_daily
from platform_tests.test_sensors.test_landing_sensor import HEADER, day_line


def test_a_failed_run_is_recorded_once_with_its_days_and_error(
    landed: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in INSTANCE_ENV.items():  # as deployed: one planned event per asset
        monkeypatch.setenv(name, value)
    write_atomic(landed.landing_dir / "flights" / "2013-01-02.csv", b"")  # cut off: no header
    resources = build_resources(landed)
    with dg.instance_for_test() as instance:
        result = materialize_range(
            defs, date(2013, 1, 2), date(2013, 1, 3), instance, resources=resources,
            selection=dg.AssetSelection.assets(["raw", "flights"], ["raw", "weather"]),
        )  # fmt: skip
        assert not result.success
        failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
        context = dg.build_run_status_sensor_context(
            sensor_name="run_failures",
            dagster_event=failure,
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            resources={"failure_log": resources["failure_log"]},
        ).for_run_failure()
        record_run_failures(context)
        record_run_failures(context)  # a retried tick records nothing twice
        # The bad day shows as failed in the UI; the good day of the same run does not.
        days = DAILY.get_partition_keys()[1:3]
        status = instance.get_status_by_partition(dg.AssetKey(["raw", "flights"]), days, DAILY)
        assert status == {"2013-01-02": dg.AssetPartitionStatus.FAILED, "2013-01-03": None}
    [recorded] = read_failures(landed.run_failures_path)
    assert recorded.run_id == result.run_id
    assert recorded.partitions == "2013-01-02..2013-01-03"
    assert recorded.failed_steps == ["raw__flights"]
    assert "flights/2013-01-02.csv:1: file is empty" in recorded.message

    shown = CliRunner().invoke(
        app, ["failures"], env={"LAKEHOUSE_HOME": str(landed.home), "COLUMNS": "200"}
    )
    assert shown.exit_code == 0, shown.output
    assert "2013-01-02..2013-01-03" in shown.output
    assert "file is empty" in shown.output


def test_the_catch_up_schedule_requests_what_the_raw_layer_does_not_hold(tmp_path: Path) -> None:
    settings = Settings.from_env().with_home(tmp_path)
    flights = settings.landing_dir / "flights"
    held_body = HEADER + day_line(1)
    for day, body in ((1, held_body), (2, HEADER + day_line(2)), (3, HEADER + day_line(3))):
        write_atomic(flights / f"2013-01-0{day}.csv", body)
    write_atomic(flights / "2013-01-05.csv", b"not,a,header\n")  # unreadable: the sensor's
    write_atomic(flights / "2013-01-06.csv", HEADER)  # nothing flew, and raw holds that
    old = time.time() - 3600
    for name in ("2013-01-01.csv", "2013-01-02.csv", "2013-01-03.csv", "2013-01-05.csv",
                 "2013-01-06.csv"):  # fmt: skip
        os.utime(flights / name, (old, old))  # e.g. restored from a backup
    # May still be written: recent, and no completion marker.
    write_atomic(flights / "2013-01-04.csv", HEADER + day_line(4), mark=False)
    held = pl.DataFrame(
        {"_partition_date": [date(2013, 1, 1)], "_content_hash": [content_hash(held_body)]}
    )
    store_daily(str(settings.lake_dir), ["raw", "flights"], held, "_partition_date")
    nothing_flew = [date(2013, 1, 6)]
    store_daily(
        str(settings.lake_dir), ["raw", "flights"], held.clear(), "_partition_date", nothing_flew
    )
    [schedule] = [s for s in SCHEDULES if s.name == "flights_catch_up"]
    with (
        dg.instance_for_test() as instance,
        dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=datetime(2026, 11, 24, 11, tzinfo=UTC),
            resources=build_resources(settings),
        ) as context,
    ):
        result = schedule.evaluate_tick(context)
    requests = result.run_requests or []
    spans = [
        (r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
        for r in requests
    ]
    assert spans == [("2013-01-02", "2013-01-03")]
    assert requests[0].asset_selection == [dg.AssetKey(["raw", "flights"])]
    assert requests[0].run_key == "catch-up:flights:2013-01-02..2013-01-03:2026-11-24"
