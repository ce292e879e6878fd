"""Real sample days through the whole graph, checked against an independent reading of the files."""

from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from lakehouse.cli import app
from lakehouse.definitions import build_resources, defs
from lakehouse.landing import write_atomic
from lakehouse.runner import materialize_range
from lakehouse.settings import Settings
from lakehouse.simulator.replay import land_sample
from lakehouse.simulator.sample import FLIGHTS
from lakehouse.status import platform_status

pytestmark = pytest.mark.slow
D1, D2, D3 = date(2013, 1, 1), date(2013, 1, 2), date(2013, 1, 3)
MART = dg.AssetKey(["marts", "mart_ontime_daily"])


def run(
    settings: Settings, instance: dg.DagsterInstance, start: date, end: date
) -> dg.ExecuteInProcessResult:
    return materialize_range(defs, start, end, instance, resources=build_resources(settings))


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    """The error of the run's first failed step, as the user sees it."""
    failure = next(e for e in result.all_events if e.is_step_failure)
    return str(failure.step_failure_data.error)  # type: ignore[union-attr]


def expected_from_files(landing: Path) -> pl.DataFrame:
    """Flights and cancellations per day, read independently with Polars' own CSV inference."""
    files = sorted((landing / "flights").glob("*.csv"))
    flights = pl.concat([pl.read_csv(f, null_values="NA") for f in files])
    return (
        flights.group_by(pl.date("year", "month", "day").alias("flight_date"))
        .agg(flights=pl.len(), cancelled=pl.col("dep_time").is_null().sum())
        .sort("flight_date")
    )


def mart_totals(settings: Settings) -> pl.DataFrame:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.sql(
            "SELECT flight_date, sum(flights)::UINT32 AS flights, sum(cancelled)::UINT32 AS "
            "cancelled FROM marts.mart_ontime_daily GROUP BY ALL ORDER BY ALL"
        ).pl()


def rows(settings: Settings) -> dict[str, int]:
    return {f"{t.layer}/{t.table}": t.rows for t in platform_status(settings)}


def test_sample_days_flow_from_landing_to_the_mart_exactly(landed: Settings) -> None:
    expected = expected_from_files(landed.landing_dir)
    with dg.instance_for_test() as instance:
        result = run(landed, instance, D1, D3)
        assert result.success
        total = int(expected["flights"].sum())
        counts = rows(landed)
        assert counts["raw/flights"] == counts["staged/flights"] == total
        assert counts["raw/airlines"] == counts["staged/airlines"] == 16
        assert counts["raw/airports"] == counts["staged/airports"] == 1458
        assert counts["raw/planes"] == counts["staged/planes"] == 3322
        weather_lines = sum(
            len(f.read_text().splitlines()) - 1
            for f in (landed.landing_dir / "weather").glob("*.csv")
        )
        assert counts["raw/weather"] == counts["staged/weather"] == weather_lines
        assert mart_totals(landed).equals(expected.cast(mart_totals(landed).schema))
        # Every flight survives the star schema: inner joins to every dimension lose none.
        with duckdb.connect(str(landed.warehouse_path), read_only=True) as con:
            star = con.sql(
                "SELECT count(*) FROM marts.fct_flights f "
                "JOIN marts.dim_date d USING (date_sk) "
                "JOIN marts.dim_airline a USING (airline_sk) "
                "JOIN marts.dim_airport o ON o.airport_sk = f.origin_sk "
                "JOIN marts.dim_airport t ON t.airport_sk = f.dest_sk "
                "JOIN marts.dim_plane p USING (plane_sk)"
            ).fetchall()
        assert star == [(total,)]
        # A range run's figures are the run's, recorded once as an observation of the asset.
        fact = instance.fetch_observations(dg.AssetKey(["marts", "fct_flights"]), limit=1)
        fact_metadata = fact.records[0].asset_observation.metadata  # type: ignore[union-attr]
        assert fact_metadata["unknown_plane"].value > 0  # real tail numbers missing from planes
        assert fact_metadata["unknown_airline"].value == 0
        # Each day's materialization carries that day's rows, not the run's total.
        per_day = {d.isoformat(): n for d, n in expected.select("flight_date", "flights").rows()}
        with duckdb.connect(str(landed.warehouse_path), read_only=True) as con:
            mart_rows = dict(
                con.sql(
                    "SELECT strftime(flight_date, '%Y-%m-%d'), count(*) "
                    "FROM marts.mart_ontime_daily GROUP BY ALL"
                ).fetchall()
            )
        for path, day_rows in [
            (["raw", "flights"], per_day),
            (["staged", "flights"], per_day),
            (["marts", "fct_flights"], per_day),
            (["marts", "mart_ontime_daily"], mart_rows),
        ]:
            records = instance.fetch_materializations(dg.AssetKey(path), limit=10).records
            assert {
                r.partition_key: r.asset_materialization.metadata["dagster/row_count"].value  # type: ignore[union-attr]
                for r in records
            } == day_rows, path
        staged = instance.fetch_observations(dg.AssetKey(["staged", "flights"]), limit=1)
        staged_metadata = staged.records[0].asset_observation.metadata  # type: ignore[union-attr]
        assert staged_metadata["cancelled"].value == int(expected["cancelled"].sum()) > 0
        # No day's materialization shows the run's figures as its own.
        days = instance.fetch_materializations(dg.AssetKey(["staged", "flights"]), limit=10)
        assert all("cancelled" not in r.asset_materialization.metadata for r in days.records)  # type: ignore[union-attr]
        checks = result.get_asset_check_evaluations()
        staged_checks = ("business_key_unique", "contract_pass_rate", "reconciliation")
        failed = {(c.asset_key.to_user_string(), c.check_name) for c in checks if not c.passed}
        # A warning: real tail numbers and airports are missing from planes and airports.
        assert failed == {("marts/fct_flights", "referential_integrity")}
        evaluated = {(c.asset_key.to_user_string(), c.check_name) for c in checks}
        assert {
            (f"staged/{t}", name)
            for t in ("flights", "weather", "airlines", "airports", "planes")
            for name in staged_checks
        } <= evaluated
        assert ("staged/flights", "row_count_anomaly") in evaluated
        assert ("marts/mart_routes", "column_schema_change") in evaluated
        assert counts["staged/weather_quarantine"] == 0
        [integrity] = [c for c in checks if c.check_name == "referential_integrity"]
        assert integrity.severity == dg.AssetCheckSeverity.WARN
        assert integrity.metadata["orphans_plane"].value == fact_metadata["unknown_plane"].value
        assert counts["staged/flights_quarantine"] == 0

        events = instance.fetch_materializations(MART, limit=10).records
        assert {e.partition_key for e in events} == {"2013-01-01", "2013-01-02", "2013-01-03"}
        metadata = events[0].asset_materialization.metadata  # type: ignore[union-attr]
        assert metadata["dagster/row_count"].value > 0
        [mart_run] = instance.fetch_observations(MART, limit=10).records
        assert "preview" in mart_run.asset_observation.metadata  # type: ignore[union-attr]

        # Re-running is idempotent: the same rows, no duplicates.
        assert run(landed, instance, D1, D3).success
        assert mart_totals(landed).equals(expected.cast(mart_totals(landed).schema))
        assert rows(landed)["staged/flights"] == total


@pytest.mark.parametrize(
    ("header_change", "problem"),
    [
        ((",tailnum", ""), "missing column(s) tailnum"),
        (("time_hour", "time_hour,gate"), "unexpected column(s) gate"),
    ],
)
def test_a_bad_delivery_fails_by_name_and_damages_nothing(
    landed: Settings, header_change: tuple[str, str], problem: str
) -> None:
    with dg.instance_for_test() as instance:
        assert run(landed, instance, D1, D2).success
        before = mart_totals(landed)
        bad = landed.landing_dir / "flights" / "2013-01-02.csv"
        header, *lines = bad.read_text().splitlines()
        write_atomic(bad, "\n".join([header.replace(*header_change), *lines]).encode())

        result = run(landed, instance, D2, D2)
        assert not result.success
        message = failure_message(result)
        assert "flights/2013-01-02.csv:1" in message
        assert problem in message
        assert mart_totals(landed).equals(before)
        assert rows(landed)["raw/flights"] == int(before["flights"].sum())


def corrupt(day: Path, lines: dict[int, str]) -> None:
    """Replace some lines of a landed file (line 1 is the header)."""
    text = day.read_bytes().decode(errors="replace").splitlines()
    for number, line in lines.items():
        text[number - 1] = line
    write_atomic(day, ("\n".join(text) + "\n").encode())


def test_bad_lines_are_quarantined_with_reasons_and_everything_else_reaches_the_marts(
    landed: Settings,
) -> None:
    day = landed.landing_dir / "flights" / "2013-01-01.csv"
    good = day.read_text().splitlines()[1]
    fields = good.split(",")
    distance = FLIGHTS.columns.index("distance")
    negative = ",".join(fields[:distance] + ["-1"] + fields[distance + 1 :])
    corrupt(day, {2: "2013,1,1,garbage", 3: good.replace(",UA,", ",UA,", 1).replace(
        fields[3], "12x", 1), 4: negative})  # fmt: skip
    lines = day.read_bytes().split(b"\n")
    lines[4] = lines[4][:-1] + b"\xff"  # line 5 ends in a byte that is not UTF-8
    write_atomic(day, b"\n".join(lines))
    delivered = len(lines) - 2  # without the header and the final newline
    with dg.instance_for_test() as instance:
        result = run(landed, instance, D1, D1)
        assert result.success
        quarantine = (
            pl.read_delta(str(landed.lake_dir / "staged" / "flights_quarantine"))
            .filter(pl.col("_partition_date") == D1)
            .sort("_line_number")
        )
        assert quarantine.select("_line_number", "stage").rows() == [
            (2, "parse"),
            (3, "staging"),
            (4, "contract"),
            (5, "parse"),
        ]
        assert quarantine["reason"].to_list()[:3] == [
            "expected 19 fields, found 4",
            "dep_time='12x'",
            "distance: positive = -1",
        ]
        assert quarantine["reason"][3].startswith("is not valid UTF-8 (byte 0xff at column")
        assert quarantine["record"][0] == "2013,1,1,garbage"
        assert quarantine["run_id"].unique().to_list() == [result.run_id]
        [balance] = [
            c
            for c in result.get_asset_check_evaluations()
            if (c.asset_key.to_user_string(), c.check_name) == ("staged/flights", "reconciliation")
        ]
        assert balance.passed
        assert balance.metadata["raw"].value == delivered
        assert balance.metadata["quarantined"].value == 4
        assert int(mart_totals(landed)["flights"].sum()) == delivered - 4

    # The CLI shows the quarantine and, once the file is fixed, replays it away.
    cli = CliRunner()
    listed = cli.invoke(app, ["quarantine", "list"], env=cli_env(landed))
    assert listed.exit_code == 0, listed.output
    assert "distance: positive = -1" in listed.output
    shown = cli.invoke(app, ["quarantine", "show", "--day", "2013-01-01"], env=cli_env(landed))
    assert "flights/2013-01-01.csv:4" in shown.output
    corrupt(day, {2: good, 3: good, 4: good, 5: good})  # fixed (duplicates of one flight)
    replayed = cli.invoke(app, ["quarantine", "replay"], env=cli_env(landed))
    assert replayed.exit_code == 0, replayed.output
    after = cli.invoke(app, ["quarantine", "list"], env=cli_env(landed))
    assert "Nothing is quarantined." in after.output
    # Lines 2-5 now hold one flight four times: three copies are removed as duplicates.
    assert int(mart_totals(landed)["flights"].sum()) == delivered - 3


def cli_env(settings: Settings) -> dict[str, str | None]:
    return {"LAKEHOUSE_HOME": str(settings.home), "DAGSTER_HOME": None, "COLUMNS": "200"}


def test_a_failed_blocking_check_keeps_the_marts_from_being_built(landed: Settings) -> None:
    day = landed.landing_dir / "flights" / "2013-01-01.csv"
    lines = day.read_text().splitlines()
    carrier = FLIGHTS.columns.index("carrier")

    def bad_carrier(line: str) -> str:
        fields = line.split(",")
        return ",".join(fields[:carrier] + ["XXX"] + fields[carrier + 1 :])

    corrupt(day, {n: bad_carrier(lines[n - 1]) for n in range(2, 120)})  # ~14% of the day
    with dg.instance_for_test() as instance:
        result = run(landed, instance, D1, D1)
        assert not result.success
        verdicts = {
            c.check_name: c.passed
            for c in result.get_asset_check_evaluations()
            if c.asset_key.to_user_string() == "staged/flights"
        }
        assert verdicts == {  # the fact never ran, so neither did its integrity check
            "business_key_unique": True,
            "contract_pass_rate": False,
            "reconciliation": True,
        }
        assert "staged/flights was not updated" in failure_message(result)
        assert "flights/2013-01-01.csv (" in failure_message(result)
        assert instance.fetch_materializations(MART, limit=1).records == []
        staged = dg.AssetKey(["staged", "flights"])
        assert instance.fetch_materializations(staged, limit=1).records == []  # not published
        quarantine = dg.AssetKey(["staged", "flights_quarantine"])
        assert instance.fetch_materializations(quarantine, limit=1).records  # the evidence
        fact = dg.AssetKey(["marts", "fct_flights"])
        assert instance.fetch_materializations(fact, limit=1).records == []


def test_a_planes_change_and_a_redelivered_day_are_reflected_exactly(settings: Settings) -> None:
    first, change = date(2013, 3, 31), date(2013, 4, 1)  # 2013-04-01: a planes snapshot with refits
    land_sample(settings.landing_dir, first, change)
    with dg.instance_for_test() as instance:
        assert run(settings, instance, first, change).success
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            versions = con.sql(
                "SELECT f.flight_date, p.valid_from, count(*) FROM marts.fct_flights f "
                "JOIN marts.dim_plane p USING (plane_sk) WHERE f.plane_sk <> -1 "
                "AND NOT (f.flight_date >= p.valid_from AND f.flight_date < p.valid_to) "
                "GROUP BY ALL"
            ).fetchall()
            refitted = con.sql(
                "SELECT count(*) FROM marts.fct_flights f JOIN marts.dim_plane p "
                "USING (plane_sk) WHERE p.valid_from = DATE '2013-04-01'"
            ).fetchall()
        assert versions == []  # every flight points to the version valid on its date
        assert refitted[0][0] > 0  # refitted planes flying on the change day use the new version

        # Re-deliver the first day with ten flights gone and every arrival 60 minutes later.
        day = settings.landing_dir / "flights" / f"{first}.csv"
        header, *lines = day.read_text().splitlines()
        arr_delay = header.split(",").index("arr_delay")

        def later(line: str) -> str:
            fields = line.split(",")
            if fields[arr_delay] != "NA":
                fields[arr_delay] = str(int(fields[arr_delay]) + 60)
            return ",".join(fields)

        write_atomic(day, "\n".join([header, *map(later, lines[10:])]).encode() + b"\n")
        assert run(settings, instance, first, first).success
        expected = expected_from_files(settings.landing_dir)
        assert mart_totals(settings).equals(expected.cast(mart_totals(settings).schema))
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            delays = con.sql(
                "SELECT sum(arr_delay) FROM marts.fct_flights WHERE flight_date = ?", params=[first]
            ).fetchall()
        redelivered = pl.read_csv(day, null_values="NA")
        assert delays == [(redelivered["arr_delay"].sum(),)]


def test_a_header_only_day_is_empty_and_an_empty_file_is_a_named_error(landed: Settings) -> None:
    flights = landed.landing_dir / "flights"
    header = (flights / "2013-01-02.csv").read_text().splitlines()[0]
    with dg.instance_for_test() as instance:
        assert run(landed, instance, D1, D2).success
        before = mart_totals(landed)

        write_atomic(flights / "2013-01-02.csv", (header + "\n").encode())  # nothing flew
        result = run(landed, instance, D2, D2)
        assert result.success
        staged = pl.read_delta(str(landed.lake_dir / "staged" / "flights"))
        assert staged.filter(pl.col("flight_date") == D2).height == 0
        assert mart_totals(landed)["flight_date"].to_list() == [D1]  # the day emptied, D1 kept

        write_atomic(flights / "2013-01-01.csv", b"")  # a delivery cut off before its header
        failed = run(landed, instance, D1, D1)
        assert not failed.success
        message = failure_message(failed)
        assert "flights/2013-01-01.csv:1: file is empty" in message
        assert mart_totals(landed).equals(before.filter(pl.col("flight_date") == D1))


def test_a_reference_row_breaking_its_contract_is_quarantined_and_the_rest_staged(
    landed: Settings,
) -> None:
    airports = landed.landing_dir / "airports" / "2013-01-01.csv"
    header, first, *rest = airports.read_text().splitlines()
    lat = header.split(",").index("lat")
    fields = first.split(",")
    fields[lat] = "100"
    write_atomic(airports, "\n".join([header, ",".join(fields), *rest]).encode() + b"\n")
    with dg.instance_for_test() as instance:
        result = run(landed, instance, D1, D1)
    assert result.success
    counts = rows(landed)
    assert counts["raw/airports"] == 1458
    assert counts["staged/airports"] == 1457
    quarantined = pl.read_delta(str(landed.lake_dir / "staged" / "airports_quarantine")).row(
        0, named=True
    )
    assert quarantined["_source_file"] == "airports/2013-01-01.csv"
    assert quarantined["_line_number"] == 2
    assert quarantined["stage"] == "contract"
    assert "lat: in_range(-90, 90) = 100.0" in quarantined["reason"]
    assert quarantined["record"] == ",".join(fields)
    [balance] = [
        c
        for c in result.get_asset_check_evaluations()
        if (c.asset_key.to_user_string(), c.check_name) == ("staged/airports", "reconciliation")
    ]
    assert balance.passed
    assert balance.metadata["quarantined"].value == 1
    listed = CliRunner().invoke(app, ["quarantine", "list"], env=cli_env(landed))
    assert listed.exit_code == 0, listed.output
    assert "airports" in listed.output
    assert "lat: in_range(-90, 90) = 100.0" in listed.output
