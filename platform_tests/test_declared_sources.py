"""Sources and marts declared in YAML alone, end to end: the real vega-datasets Seattle weather
through `lakehouse land --from` and `lakehouse materialize --source`, checked against an
independent computation on the published CSV; and a source written only as YAML in a test.
"""

import os
from datetime import date

import dagster as dg
import duckdb
import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from lakehouse.cli import app
from lakehouse.components import LandingSource
from lakehouse.declarations import DEFS_DIR, SourceSpec, declared_marts, declared_sources
from lakehouse.definitions import ASSETS, SENSORS, build_resources
from lakehouse.landing import write_atomic
from lakehouse.runner import RANGE_END, RANGE_START
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


def test_a_new_daily_source_with_its_mart_is_two_files_and_under_80_lines() -> None:
    # The bar for "sources as data": Seattle's weather, contract and mart included.
    assert "seattle_weather" in declared_sources()
    folder, spec = declared_marts()["seattle_weather_monthly"]
    assert spec.query is not None
    files = [
        *DEFS_DIR.joinpath("sources", "seattle_weather").iterdir(),
        *folder.iterdir(),
    ]
    files = [f for f in files if f.is_file()]
    assert len(files) == 2
    assert sum(len(f.read_text().splitlines()) for f in files) <= 80


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
    delivery = b"day,meter,kwh\n2024-01-01,M1,3.5\n2024-01-01,X9,2\n"
    write_atomic(settings.landing_dir / "readings" / "2024-01-01.csv", delivery)  # and its marker
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


def test_stocks_by_month_and_symbol_land_from_their_csv_and_the_mart_matches_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKEHOUSE_HOME", str(settings.home))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    runner = CliRunner()
    landed = runner.invoke(app, ["land", "--from", "vega:stocks.csv", "--source", "stocks"])
    assert landed.exit_code == 0, landed.output
    files = sorted(p.name for p in (settings.landing_dir / "stocks").glob("*.csv"))
    assert len(files) == 560  # GOOG from 2004-08 only: no filler files for the months before
    assert files[0] == "2000-01-01_AAPL.csv"
    result = runner.invoke(app, ["materialize", "--source", "stocks"])
    assert result.exit_code == 0, result.output

    with duckdb.connect() as con:
        expected = con.sql(
            f"""
            SELECT strptime(date, '%b %d %Y')::DATE AS month, count(*) AS symbols,
                   round(sum(price), 6) AS basket, max(price) AS highest,
                   arg_max(symbol, price) AS highest_symbol
            FROM read_csv('{vega_file("stocks.csv")}', types = {{'date': 'VARCHAR'}})
            GROUP BY 1 ORDER BY 1
            """
        ).pl()
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        mart = con.sql(
            "SELECT month, symbols, round(basket, 6) AS basket, highest, highest_symbol "
            "FROM marts.stock_prices_monthly ORDER BY month"
        ).pl()
    assert mart.height == 123
    assert mart.equals(expected.cast(mart.schema)), (mart, expected)

    # The landing sensor's first look (`make dev` after `make run`) starts no run for the 560
    # files already ingested, and one for a file delivered again with new content.
    sensor = next(s for s in SENSORS if s.name == "stocks_landing")
    resources = build_resources(settings)
    sensor_defs = dg.Definitions(assets=ASSETS, sensors=[sensor], resources=resources)

    def tick(cursor: str | None) -> dg.SensorResult:
        with (
            dg.instance_for_test() as instance,
            dg.build_sensor_context(
                instance=instance, cursor=cursor, resources=resources, definitions=sensor_defs
            ) as context,
        ):
            result = sensor(context)
        assert isinstance(result, dg.SensorResult)
        return result

    first = tick(None)
    assert first.run_requests == []
    changed = settings.landing_dir / "stocks" / "2010-03-01_IBM.csv"
    write_atomic(changed, changed.read_bytes().replace(b"IBM,Mar 1 2010,", b"IBM,Mar 1 2010,1"))
    [request] = tick(first.cursor).run_requests or []
    assert request.partition_key == dg.MultiPartitionKey({"period": "2010-03-01", "symbol": "IBM"})


def test_a_row_filed_under_another_symbol_or_month_is_quarantined(settings: Settings) -> None:
    spec = declared_sources()["stocks"]
    write_atomic(  # delivered whole, with its completion marker
        settings.landing_dir / "stocks" / "2000-01-01_MSFT.csv",
        b"symbol,date,price\nMSFT,Jan 1 2000,39.81\nIBM,Jan 1 2000,100.52\nMSFT,Feb 1 2000,36.35\n",
    )
    built = dg.component_defs(component=LandingSource(spec))
    assets = [a for a in built.assets or [] if isinstance(a, dg.AssetsDefinition)]
    result = dg.materialize(
        assets, resources=build_resources(settings), partition_key="2000-01-01|MSFT",
        raise_on_error=False,
    )  # fmt: skip
    quarantine = pl.read_delta(str(settings.lake_dir / "staged" / "stocks_quarantine"))
    reasons = dict(zip(quarantine["_line_number"], quarantine["reason"], strict=True))
    assert reasons == {
        3: "row is for IBM but was delivered in the file for MSFT",
        4: "row is dated 2000-02-01 but was delivered in the file for 2000-01-01",
    }
    assert quarantine["_partition_key"].unique().to_list() == ["MSFT"]
    # 1 of 3 rows kept: below the 95 % pass rate, so nothing of the run was published.
    assert not result.success
    assert not (settings.lake_dir / "staged" / "stocks" / "_delta_log").exists()


def test_the_sensor_of_a_keyed_source_requests_one_partition_per_new_file(
    settings: Settings,
) -> None:
    spec = declared_sources()["stocks"]
    folder = settings.landing_dir / "stocks"
    folder.mkdir(parents=True)
    header = "symbol,date,price\n"
    (folder / "2000-01-01_MSFT.csv").write_text(header + "MSFT,Jan 1 2000,39.81\n")
    (folder / "2000-02-01_IBM.csv").write_text(header + "IBM,Feb 1 2000,110.0\n")
    (folder / "2000-01-01_TSLA.csv").write_text(header + "TSLA,Jan 1 2000,1.0\n")
    (folder / "notes.csv").write_text("a file that is no partition\n")
    built = dg.component_defs(component=LandingSource(spec))
    sensor = next(s for s in built.sensors or [] if isinstance(s, dg.SensorDefinition))
    old = 1_700_000_000
    for path in folder.iterdir():
        os.utime(path, (old, old))  # long untouched: complete
    resources = build_resources(settings)
    with (
        dg.instance_for_test() as instance,
        dg.build_sensor_context(
            instance=instance,
            resources=resources,
            definitions=dg.Definitions(assets=built.assets, sensors=[sensor], resources=resources),
        ) as context,
    ):
        result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    keys = sorted(str(r.partition_key) for r in result.run_requests or [])
    assert keys == ["2000-01-01|MSFT", "2000-02-01|IBM"]
    rejected = {
        e.metadata["rejected_file"].value: e.metadata["reason"].value for e in result.asset_events
    }
    assert "not one of stocks's symbols" in str(rejected["stocks/2000-01-01_TSLA.csv"])
    assert "stocks/notes.csv" in rejected


def test_the_whole_stocks_history_landed_under_the_daemon_is_three_range_runs(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKEHOUSE_HOME", str(settings.home))
    landed = CliRunner().invoke(app, ["land", "--from", "vega:stocks.csv", "--source", "stocks"])
    assert landed.exit_code == 0, landed.output
    sensor = next(s for s in SENSORS if s.name == "stocks_landing")
    resources = build_resources(settings)
    defs = dg.Definitions(assets=ASSETS, sensors=[sensor], resources=resources)
    with dg.instance_for_test() as instance:
        with dg.build_sensor_context(
            instance=instance, resources=resources, definitions=defs
        ) as context:
            result = sensor(context)
        assert isinstance(result, dg.SensorResult)
        # 560 files, one per month and symbol; GOOG (between AMZN and IBM) starts in 2004-08.
        ranges = sorted((r.tags[RANGE_START], r.tags[RANGE_END]) for r in result.run_requests or [])
        assert ranges == [
            ("2000-01-01|AAPL", "2010-03-01|AMZN"),
            ("2000-01-01|IBM", "2010-03-01|MSFT"),
            ("2004-08-01|GOOG", "2010-03-01|GOOG"),
        ]
        for request in result.run_requests or []:
            assert set(request.asset_selection or []) >= {
                dg.AssetKey(["raw", "stocks"]),
                dg.AssetKey(["staged", "stocks"]),
            }
            run = dg.materialize(
                [a for a in ASSETS if isinstance(a, dg.AssetsDefinition)],
                instance=instance,
                resources=resources,
                tags=request.tags,
                selection=request.asset_selection,
            )
            assert run.success
    staged = pl.read_delta(str(settings.lake_dir / "staged" / "stocks"))
    assert staged.height == 560
    assert staged.filter(pl.col("symbol") == "GOOG")["date"].min() == date(2004, 8, 1)
