"""Files land, sensors and declarative automation carry them to the marts, and a blocking check
that fails keeps its day out of them: driven tick by tick on a real instance.
"""

import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from lakehouse.definitions import build_resources
from lakehouse.landing import write_atomic
from lakehouse.settings import Settings
from lakehouse.simulator.sample import FLIGHTS
from platform_tests.driving import Daemon
from platform_tests.test_end_to_end import expected_from_files, mart_totals

pytestmark = pytest.mark.slow
DIM_DATE = dg.AssetKey(["marts", "dim_date"])
FACT = dg.AssetKey(["marts", "fct_flights"])
ONTIME = dg.AssetKey(["marts", "mart_ontime_daily"])


def materializations(instance: dg.DagsterInstance, key: dg.AssetKey, day: date) -> int:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[day.isoformat()]), limit=100
    ).records
    return len(records)


def test_a_fresh_instance_builds_only_what_can_succeed(settings: Settings) -> None:
    assert not settings.home.exists()  # `make clean`: no data folder, no warehouse
    with dg.instance_for_test() as instance:
        daemon = Daemon(instance, build_resources(settings))  # automation's first tick
        # The calendar needs only the partition range, so it is built at once; everything
        # else waits for files.
        [run] = daemon.runs
        assert run.success
        built = {e.asset_key for e in run.get_asset_materialization_events()}
        assert built == {DIM_DATE}
        for _ in range(3):  # later ticks, with no file settings, request nothing
            assert daemon.automate() == []
            assert daemon.sense() == 0
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        assert con.sql("SELECT count(*) FROM marts.dim_date").fetchall() == [(365,)]


def test_landed_days_reach_the_marts_on_their_own_and_a_failed_check_holds_its_day_back(
    settings: Settings, landed_sample: Path
) -> None:
    d2 = date(2013, 1, 2)
    with dg.instance_for_test() as instance:
        # As in the README's demo: `make clean && make dev`, then the days land.
        daemon = Daemon(instance, build_resources(settings))
        shutil.copytree(landed_sample, settings.landing_dir)
        daemon.settle()
        assert all(run.success for run in daemon.runs)
        expected = expected_from_files(settings.landing_dir)
        assert mart_totals(settings).equals(expected.cast(mart_totals(settings).schema))
        routes = instance.fetch_materializations(dg.AssetKey(["marts", "mart_routes"]), limit=1)
        assert routes.records  # the unpartitioned mart followed the days present

        # A re-delivered day where a sixth of the carriers are unknown: the contract pass rate
        # fails, and nothing downstream of staged/flights is rebuilt for that day.
        day = settings.landing_dir / "flights" / f"{d2}.csv"
        header, *lines = day.read_text().splitlines()
        carrier = FLIGHTS.columns.index("carrier")
        bad = [
            ",".join(f[:carrier] + ["XXX"] + f[carrier + 1 :]) if n % 6 == 0 else line
            for n, line in enumerate(lines)
            if (f := line.split(","))
        ]
        write_atomic(day, "\n".join([header, *bad]).encode() + b"\n")
        before = mart_totals(settings)
        facts_before = materializations(instance, FACT, d2)
        marts_before = materializations(instance, ONTIME, d2)
        runs_before = len(daemon.runs)
        daemon.settle()
        failed = [run for run in daemon.runs[runs_before:] if not run.success]
        assert failed  # the staged run stopped at its blocking check
        verdicts = {
            (e.asset_key.to_user_string(), e.check_name): e.passed
            for run in failed
            for e in run.get_asset_check_evaluations()
        }
        assert verdicts[("staged/flights", "contract_pass_rate")] is False
        assert materializations(instance, FACT, d2) == facts_before
        assert materializations(instance, ONTIME, d2) == marts_before
        assert mart_totals(settings).equals(before)  # the marts keep the last good day
        # Later ticks still build nothing from it, even when a new airlines snapshot makes
        # every day of the fact due: while staged/flights carries a failed blocking check, the
        # fact waits (one verdict covers the run's days) and the marts keep the last good data.
        assert daemon.automate() == []
        airlines = settings.landing_dir / "airlines"
        write_atomic(airlines / f"{d2}.csv", (airlines / "2013-01-01.csv").read_bytes())
        d1 = date(2013, 1, 1)
        d1_before = materializations(instance, FACT, d1)
        daemon.settle()
        assert materializations(instance, FACT, d1) == d1_before
        assert materializations(instance, FACT, d2) == facts_before
        assert mart_totals(settings).equals(before)

        # Another day passing its checks releases the held days: every day of the fact is
        # rebuilt, the rejected one from its last good staged rows, never from the bad ones.
        d3_file = settings.landing_dir / "flights" / "2013-01-03.csv"
        d3_body = d3_file.read_bytes()
        write_atomic(d3_file, d3_body + d3_body.split(b"\n")[1] + b"\n")  # one repeated flight
        daemon.settle()
        assert materializations(instance, FACT, d1) == d1_before + 1
        assert materializations(instance, FACT, d2) == facts_before + 1
        assert mart_totals(settings).equals(before)  # the duplicate is removed, d2 is the good one

        # The producer fixes the file: the day flows through again, exactly.
        write_atomic(day, "\n".join([header, *lines]).encode() + b"\n")
        daemon.settle()
        assert materializations(instance, FACT, d2) == facts_before + 2
        assert mart_totals(settings).equals(expected.cast(mart_totals(settings).schema))

        # A new planes snapshot dated d3 (every plane gets two more seats) flows into dim_plane
        # as new versions valid from d3, and the days of the fact from d3 on are rebuilt
        # against them, in the snapshot's run: the days before keep their versions.
        planes = settings.landing_dir / "planes"
        header, *rows = (planes / "2013-01-01.csv").read_text().splitlines()
        seats = header.split(",").index("seats")
        refit = [
            ",".join(f[:seats] + [str(int(f[seats]) + 2)] + f[seats + 1 :])
            for row in rows
            if (f := row.split(","))
        ]
        write_atomic(planes / "2013-01-03.csv", "\n".join([header, *refit]).encode() + b"\n")
        d3 = date(2013, 1, 3)
        d3_before = materializations(instance, FACT, d3)
        runs_before = len(daemon.runs)
        daemon.settle()
        assert len(daemon.runs) == runs_before + 1  # the snapshot's run; automation adds none
        assert materializations(instance, FACT, d1) == d1_before + 1
        assert materializations(instance, FACT, d2) == facts_before + 2
        assert materializations(instance, FACT, d3) == d3_before + 1
        assert materializations(instance, ONTIME, d3) > 0
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            [(new_versions,)] = con.sql(
                "SELECT count(*) FROM marts.dim_plane WHERE valid_from = DATE '2013-01-03'"
            ).fetchall()
            [(on_new,)] = con.sql(
                "SELECT count(*) FROM marts.fct_flights f JOIN marts.dim_plane p USING (plane_sk) "
                "WHERE f.flight_date = DATE '2013-01-03' AND p.valid_from = DATE '2013-01-03'"
            ).fetchall()
            # Every flight is keyed to the plane's version valid on its date.
            [(misdated,)] = con.sql(
                "SELECT count(*) FROM marts.fct_flights f JOIN marts.dim_plane p USING (plane_sk) "
                "WHERE f.flight_date < p.valid_from OR f.flight_date >= p.valid_to"
            ).fetchall()
        assert new_versions == len(rows)
        assert on_new > 0
        assert misdated == 0

        # A snapshot dated after every day the fact holds changes none of them: its run
        # rebuilds only the fact's last day (so that it targets the fact and automation
        # leaves the others), not the history.
        write_atomic(planes / "2013-02-01.csv", "\n".join([header, *rows]).encode() + b"\n")
        runs_before = len(daemon.runs)
        daemon.settle()
        assert len(daemon.runs) == runs_before + 1
        assert materializations(instance, FACT, d1) == d1_before + 1
        assert materializations(instance, FACT, d3) == d3_before + 2
