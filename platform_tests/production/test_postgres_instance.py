"""The production instance (deploy/dagster.yaml) against a real PostgreSQL server."""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import dagster as dg
import psycopg2
import pytest

from lakehouse.definitions import build_resources, defs
from lakehouse.deploy.instance import INSTANCE_ENV, PlannedRangesMixin
from lakehouse.runner import materialize_range
from lakehouse.settings import Settings
from platform_tests.production.conftest import REPO
from platform_tests.production.services import Postgres
from platform_tests.test_instance import RANGE, automation_sees, watched

pytestmark = [pytest.mark.slow, pytest.mark.production]
D1 = date(2013, 1, 1)


def query(postgres: Postgres, db: str, sql: str, *params: object) -> list[tuple]:
    with psycopg2.connect(postgres.url(db)) as con, con.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def test_production_instance_stores_everything_in_postgres(
    production_home: Path, postgres: Postgres, pg_database: str
) -> None:
    with dg.DagsterInstance.from_config(str(production_home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        storage = instance.event_log_storage
        assert type(storage).__name__ == "PlannedRangesPostgresEventLogStorage"
        assert isinstance(storage, PlannedRangesMixin)
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        # The password reaches the instance through the environment only, never the file.
        assert postgres.password not in (production_home / "dagster.yaml").read_text()


@pytest.mark.usefixtures("production_home")
def test_partitioned_run_and_sensor_tick_are_recorded_in_postgres(
    production_home: Path,
    postgres: Postgres,
    pg_database: str,
    landed: Settings,
    capfd: pytest.CaptureFixture[str],
) -> None:
    with dg.DagsterInstance.from_config(str(production_home)) as instance:
        result = materialize_range(defs, D1, D1, instance, resources=build_resources(landed))
        assert result.success
    # Structured logs: the run's events also went to stderr as JSON lines with their fields.
    logged = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line[:1] == "{"]
    assert {
        "run_id": result.run_id,
        "step": "raw__flights",
        "event": "ASSET_MATERIALIZATION",
        "level": "DEBUG",
    }.items() <= next(
        line
        for line in logged
        if line.get("step") == "raw__flights" and line.get("event") == "ASSET_MATERIALIZATION"
    ).items()
    runs = query(postgres, pg_database, "SELECT run_id, status FROM runs")
    assert runs == [(result.run_id, "SUCCESS")]
    materialized = query(
        postgres,
        pg_database,
        "SELECT asset_key, partition FROM event_logs "
        "WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'",
        result.run_id,
    )
    assert ('["raw", "flights"]', D1.isoformat()) in materialized
    assert ('["marts", "mart_ontime_daily"]', D1.isoformat()) in materialized

    # A changed delivery for the same day: the real daemon ticks the landing sensor, queues the
    # run it requests and launches it (QueuedRunCoordinator), all through Postgres.
    for later in landed.landing_dir.glob("*/2013-01-0[23].csv"):
        later.unlink()  # only D1's change should be planned, so the run needs nothing else
    flights = landed.landing_dir / "flights" / f"{D1.isoformat()}.csv"
    lines = flights.read_text().splitlines(keepends=True)
    flights.write_text("".join(lines[:-1]))
    sensor_run = run_daemon_until_sensor_run(production_home, landed, postgres, pg_database)
    assert sensor_run[1] == "SUCCESS", sensor_run
    ticks = query(
        postgres,
        pg_database,
        "SELECT status FROM job_ticks WHERE type = 'SENSOR' AND tick_body LIKE %s",
        '%"flights_landing"%',
    )
    assert ("SUCCESS",) in ticks
    rows = query(
        postgres,
        pg_database,
        "SELECT count(*) FROM event_logs WHERE run_id = %s "
        "AND dagster_event_type = 'ASSET_MATERIALIZATION' AND partition = %s",
        sensor_run[0],
        D1.isoformat(),
    )
    assert rows[0][0] > 0


def stop_process_group(process: subprocess.Popen[bytes]) -> None:
    """Stop the daemon and everything it started (its code server, a run still going)."""
    process.send_signal(signal.SIGINT)  # the daemon shuts its code server down on Ctrl-C
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=20)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def run_daemon_until_sensor_run(
    home: Path, settings: Settings, postgres: Postgres, db: str, timeout: float = 150
) -> tuple[str, str]:
    """Run `dagster-daemon` until a run requested by the flights sensor has finished."""
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "LAKEHOUSE_HOME": str(settings.home),
        "LAKEHOUSE_START": settings.partition_start.isoformat(),
        "LAKEHOUSE_END": settings.partition_end.isoformat(),
        # One process per step costs ~5 s of imports each; the executor is not under test here.
        "LAKEHOUSE_EXECUTOR": "in_process",
    }
    daemon_bin = shutil.which("dagster-daemon") or str(
        Path(sys.executable).parent / "dagster-daemon"
    )
    log = home / "daemon.log"
    with log.open("w") as out:
        daemon = subprocess.Popen(
            [daemon_bin, "run", "-w", str(REPO / "workspace.yaml")],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                done = query(
                    postgres,
                    db,
                    "SELECT r.run_id, r.status FROM runs r JOIN run_tags t ON t.run_id = r.run_id "
                    "WHERE t.key = 'dagster/sensor_name' AND t.value = 'flights_landing' "
                    "AND r.status IN ('SUCCESS', 'FAILURE', 'CANCELED')",
                )
                if done:
                    return done[0]
                if daemon.poll() is not None:
                    break
                time.sleep(1)
        finally:
            stop_process_group(daemon)
    pytest.fail(
        f"no finished sensor run within {timeout:.0f} s; daemon log:\n{log.read_text()[-3000:]}"
    )


def test_a_range_run_under_way_is_in_progress_on_postgres(
    production_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in INSTANCE_ENV.items():  # as deployed: one planned event for the range
        monkeypatch.setenv(name, value)
    with dg.DagsterInstance.from_config(str(production_home)) as instance:
        job = dg.Definitions(
            assets=[watched], jobs=[dg.define_asset_job("ranges", selection=[watched])]
        ).resolve_job_def("ranges")
        instance.create_run_for_job(job, asset_selection=frozenset([watched.key]), tags=RANGE)
        assert automation_sees(instance, dg.AutomationCondition.in_progress()) == 31
