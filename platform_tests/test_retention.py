"""Run retention: old runs whose every record was replaced are deleted with their events and
shard files; a run holding any partition's latest materialization or failure, or a check's
latest verdict, is kept, and what the UI shows of the assets does not change.
"""

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest
from typer.testing import CliRunner

from lakehouse.cli import app
from lakehouse.deploy.instance import INSTANCE_ENV
from lakehouse.deploy.retention import prune_runs
from lakehouse.sensors.retention import run_retention_sensor
from platform_tests.test_instance import REPO, instance_with

DAYS = dg.DailyPartitionsDefinition(start_date="2013-01-01", end_date="2013-01-10")
BROKEN_DAY = "2013-01-04"


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def daily(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    if BROKEN_DAY in context.partition_keys:
        msg = f"{BROKEN_DAY} is broken"
        raise ValueError(msg)
    return dg.MaterializeResult(metadata={"dagster/row_count": len(context.partition_keys)})


@dg.asset_check(asset=daily)
def daily_is_fine() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


@dg.asset
def reference() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"dagster/row_count": 1})


def span(first: str, last: str) -> dict[str, str]:
    return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dg.DagsterInstance]:
    for name, value in INSTANCE_ENV.items():
        monkeypatch.setenv(name, value)
    with instance_with("BatchingSqliteEventLogStorage", tmp_path) as instance:
        yield instance


def run(instance: dg.DagsterInstance, assets: list[object], **kwargs: object) -> str:
    result = dg.materialize(assets, instance=instance, raise_on_error=False, **kwargs)  # type: ignore[arg-type]
    return result.run_id


def what_the_ui_shows(instance: dg.DagsterInstance) -> dict[str, object]:
    status = instance.get_status_by_partition(daily.key, DAYS.get_partition_keys(), DAYS)
    assert status is not None
    latest_check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [daily_is_fine.check_key]
    )
    latest_reference = instance.get_latest_materialization_event(reference.key)
    return {
        "partitions": {k: s.value for k, s in status.items() if s is not None},
        "check": {k.to_user_string(): r.run_id for k, r in latest_check.items()},
        "reference": latest_reference.run_id if latest_reference else None,
    }


def test_only_runs_whose_every_record_was_replaced_are_deleted(
    instance: dg.DagsterInstance,
) -> None:
    checked = [daily, daily_is_fine]
    first = run(instance, checked, tags=span("2013-01-01", "2013-01-03"))
    run(instance, checked, tags=span("2013-01-02", "2013-01-03"))
    run(instance, checked, partition_key="2013-01-01")  # the first's last current partition
    failed = run(instance, checked, partition_key=BROKEN_DAY)
    run(instance, checked, partition_key="2013-01-05")  # the asset's latest attempt is not it
    old_reference = run(instance, [reference])
    run(instance, [reference])
    # A run of the check alone holds nothing but the check's latest verdict.
    verdict = run(instance, checked, selection=dg.AssetSelection.checks(daily_is_fine))
    shard = Path(instance.event_log_storage.path_for_shard(first))  # type: ignore[attr-defined]
    assert shard.exists()
    before = what_the_ui_shows(instance)
    assert before["partitions"] == {
        **{f"2013-01-0{d}": "MATERIALIZED" for d in (1, 2, 3, 5)},
        BROKEN_DAY: "FAILED",
    }

    # Nothing is old enough yet.
    assert prune_runs(instance, [daily_is_fine.check_key], timedelta(days=1)).deleted == []

    dry = prune_runs(instance, [daily_is_fine.check_key], timedelta(0), dry_run=True)
    assert dry.deleted == [first, old_reference]
    assert instance.has_run(first)

    pruned = prune_runs(instance, [daily_is_fine.check_key], timedelta(0))
    assert pruned.deleted == [first, old_reference]
    assert pruned.kept == 6
    assert instance.has_run(verdict)
    assert not instance.has_run(first)
    assert not instance.has_run(old_reference)
    assert instance.has_run(failed)  # the broken day's failure is still what it shows
    assert not shard.exists()
    assert instance.all_logs(first) == []
    history = instance.event_log_storage.get_asset_check_execution_history(
        daily_is_fine.check_key, limit=100
    )
    assert first not in {record.run_id for record in history}
    assert what_the_ui_shows(instance) == before

    # A second pass finds nothing more to delete.
    assert prune_runs(instance, [daily_is_fine.check_key], timedelta(0)).deleted == []


def test_the_sensor_deletes_only_runs_older_than_its_retention(
    instance: dg.DagsterInstance,
) -> None:
    run(instance, [reference])
    run(instance, [reference])
    sensor = run_retention_sensor(days=1)
    result = sensor(dg.build_sensor_context(instance=instance))
    assert isinstance(result, dg.SkipReason)
    assert "deleted 0 run(s)" in (result.skip_message or "")
    assert len(instance.get_run_records()) == 2


def test_the_command_prunes_the_configured_instance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    refused = CliRunner().invoke(app, ["prune-runs"])
    assert refused.exit_code == 1
    assert "DAGSTER_HOME is not set" in refused.output

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        run(instance, [reference])
    shown = CliRunner().invoke(app, ["prune-runs", "--older-than-days", "1", "--dry-run"])
    assert shown.exit_code == 0, shown.output
    assert "would delete 0 run(s) finished over 1 days ago" in shown.output
