"""Time travel from the terminal: `lakehouse history`, `restore`, `vacuum` on Delta tables."""

from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from typer.testing import CliRunner

from lakehouse.cli import app
from lakehouse.resources.lake_io import LakeIOManager
from lakehouse.settings import Settings
from lakehouse.tables import parse_target

DAYS = dg.DailyPartitionsDefinition(start_date="2013-01-01", end_date="2013-01-04")


def write(lake: Path, instance: dg.DagsterInstance, values: dict[str, int]) -> None:
    @dg.asset(key=["staged", "numbers"], partitions_def=DAYS, metadata={"partition_expr": "day"})
    def numbers(context: dg.AssetExecutionContext) -> pl.DataFrame:
        day = context.partition_key
        return pl.DataFrame({"day": [date.fromisoformat(day)], "v": [values[day]]})

    for day in values:
        result = dg.materialize(
            [numbers], resources={"io_manager": LakeIOManager(base_dir=str(lake))},
            partition_key=day, instance=instance,
        )  # fmt: skip
        assert result.success


def test_restore_brings_a_version_back_and_tells_automation_what_changed(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("LAKEHOUSE_HOME", str(settings.home))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        write(settings.lake_dir, instance, {"2013-01-01": 1, "2013-01-02": 2})  # versions 0, 1
        write(settings.lake_dir, instance, {"2013-01-02": 20})  # version 2: a bad re-delivery
    runner = CliRunner()
    listed = runner.invoke(app, ["history", "staged/numbers"])
    assert listed.exit_code == 0, listed.output
    assert listed.output.count("WRITE") == 2
    restored = runner.invoke(app, ["restore", "staged/numbers", "--to", "1"])
    assert restored.exit_code == 0, restored.output
    assert "1 partition(s) changed" in restored.output
    table = pl.read_delta(str(settings.lake_dir / "staged" / "numbers")).sort("day")
    assert table["v"].to_list() == [1, 2]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        latest = instance.get_latest_materialization_event(dg.AssetKey(["staged", "numbers"]))
        assert latest is not None
        materialization = latest.asset_materialization
        assert materialization is not None
        assert materialization.partition == "2013-01-02"
        assert materialization.metadata["restored"].value is True


def test_a_table_that_is_not_a_table_is_named(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKEHOUSE_HOME", str(settings.home))
    result = CliRunner().invoke(app, ["history", "staged/nothing"])
    assert result.exit_code == 1
    assert "staged/nothing is not a Delta table" in result.output.replace("\n", "")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("3", 3), ("2026-12-06T12:00", "2026-12-06 12:00:00+00:00")],
)
def test_a_restore_target_is_a_version_or_a_time(text: str, expected: object) -> None:
    target = parse_target(text)
    assert (target if isinstance(target, int) else str(target)) == expected
    with pytest.raises(ValueError, match="neither a version number nor a timestamp"):
        parse_target("yesterday")
