"""Sources and marts declared in YAML alone, end to end: the real vega-datasets Seattle weather
through `lakehouse land --from` and `lakehouse materialize --source`, checked against an
independent computation on the published CSV; and a source written only as YAML in a test.
"""

import dagster as dg
import duckdb
import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from lakehouse.cli import app
from lakehouse.components import LandingSource
from lakehouse.declarations import SourceSpec, declared_marts, declared_sources
from lakehouse.definitions import build_resources
from lakehouse.settings import Settings
from lakehouse.vega import vega_file

pytestmark = pytest.mark.slow


def test_seattle_weather_lands_from_its_csv_and_its_monthly_mart_matches_the_csv(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKEHOUSE_HOME", str(settings.home))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    published = vega_file("seattle-weather.csv")
    runner = CliRunner()
    landed = runner.invoke(app, ["land", "--from", str(published), "--source", "seattle_weather"])
    assert landed.exit_code == 0, landed.output
    assert len(list((settings.landing_dir / "seattle_weather").glob("*.csv"))) == 1461
    result = runner.invoke(app, ["materialize", "--source", "seattle_weather"])
    assert result.exit_code == 0, result.output
    # Only the selected source ran: nothing of the flights sources was needed or built.
    assert not (settings.lake_dir / "raw" / "flights").exists()

    with duckdb.connect() as con:
        expected = con.sql(
            f"""
            SELECT CAST(date_trunc('month', strptime(date, '%Y/%m/%d')) AS DATE) AS month,
                   count(*) AS days,
                   count(*) FILTER (WHERE precipitation > 0) AS wet_days,
                   round(sum(precipitation), 6) AS precipitation,
                   round(avg(temp_max), 6) AS mean_temp_max,
                   max(temp_max) AS warmest, min(temp_min) AS coldest,
                   count(*) FILTER (WHERE weather = 'sun') AS sunny_days
            FROM read_csv('{published}', all_varchar = false, types = {{'date': 'VARCHAR'}})
            GROUP BY 1 ORDER BY 1
            """
        ).pl()
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        mart = con.sql(
            "SELECT month, days, wet_days, round(precipitation, 6) AS precipitation, "
            "round(mean_temp_max, 6) AS mean_temp_max, warmest, coldest, sunny_days "
            "FROM marts.seattle_weather_monthly ORDER BY month"
        ).pl()
    assert mart.height == 48
    assert mart.equals(expected.cast(mart.schema)), (mart, expected)


def test_the_declared_mart_and_source_are_in_the_registry() -> None:
    assert "seattle_weather" in declared_sources()
    folder, spec = declared_marts()["seattle_weather_monthly"]
    assert (folder / (spec.sql or "")).exists()


TINY = """
name: readings
description: One meter reading a day.
landing: {header: [day, meter, kwh]}
partitions: {kind: daily, start: 2024-01-01, end: 2024-01-03, column: day}
key: [day, meter]
min_pass_rate: 0.5
columns:
  - {name: day, type: date, description: day of the reading}
  - {name: meter, type: string, description: meter id, checks: [{pattern: "^M[0-9]+$"}]}
  - {name: kwh, type: float64, unit: kWh, description: energy used, checks: [{between: [0, 1000]}]}
"""


def test_a_source_declared_in_yaml_alone_is_built_and_materialized(settings: Settings) -> None:
    spec = SourceSpec.model_validate(yaml.safe_load(TINY))
    built = dg.component_defs(component=LandingSource(spec))
    folder = settings.landing_dir / "readings"
    folder.mkdir(parents=True)
    (folder / "2024-01-01.csv").write_text("day,meter,kwh\n2024-01-01,M1,3.5\n2024-01-01,X9,2\n")
    assets = [a for a in built.assets or [] if isinstance(a, dg.AssetsDefinition)]
    result = dg.materialize(
        assets,
        resources=build_resources(settings),
        partition_key="2024-01-01",
    )
    assert result.success
    staged = pl.read_delta(str(settings.lake_dir / "staged" / "readings"))
    assert staged.select("meter", "kwh").rows() == [("M1", 3.5)]
    quarantine = pl.read_delta(str(settings.lake_dir / "staged" / "readings_quarantine"))
    assert quarantine["reason"].to_list() == ["meter: matches(^M[0-9]+$) = X9"]
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["reconciliation"]
    assert checks["business_key_unique"]
    assert checks["contract_pass_rate"]  # 1 of 2 rows kept: the declared 50 %
