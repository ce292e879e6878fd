"""Scale-out: a multi-partition run's steps on two Celery workers (Redis broker, Postgres
instance), compared table by table with the in-process run; then a worker killed mid-step.
"""

import contextlib
import faulthandler
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from lakehouse.definitions import build_resources, defs
from lakehouse.deploy.executor import BrokerUnavailableError
from lakehouse.deploy.jobs import all_assets_job
from lakehouse.runner import materialize_range, range_tags
from lakehouse.settings import Settings
from platform_tests.production.conftest import REPO
from platform_tests.production.services import free_port, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.production]
D1, D2 = date(2013, 1, 1), date(2013, 1, 2)
FACT = dg.AssetKey(["marts", "fct_flights"])
# Columns that differ between any two runs by design: when and by which run a row was written.
RUN_SPECIFIC = {"_ingested_at", "run_id"}


def warehouse_tables(settings: Settings) -> dict[str, pl.DataFrame]:
    """Every warehouse table, sorted on all its columns, without run-specific columns."""
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        names = con.sql(
            "SELECT table_schema, table_name FROM information_schema.tables ORDER BY ALL"
        ).fetchall()
        tables = {f"{s}.{t}": con.sql(f'SELECT * FROM "{s}"."{t}"').pl() for s, t in names}
    return {
        name: frame.drop(RUN_SPECIFIC & set(frame.columns)).sort(pl.all())
        for name, frame in tables.items()
    }


def assert_same_tables(settings: Settings, expected: dict[str, pl.DataFrame]) -> None:
    actual = warehouse_tables(settings)
    assert sorted(actual) == sorted(expected)
    for name, frame in expected.items():
        assert_frame_equal(actual[name], frame, check_row_order=True)


@contextlib.contextmanager
def celery_workers(env: dict[str, str], log_dir: Path, count: int = 2) -> Iterator[None]:
    """`count` Celery workers (one process each executing steps), stopped with their children."""
    celery = shutil.which("celery") or str(Path(sys.executable).parent / "celery")
    workers, logs = [], []
    for number in range(1, count + 1):
        log = (log_dir / f"worker{number}.log").open("w")
        logs.append(log)
        workers.append(
            subprocess.Popen(
                [
                    celery, "-A", "platform_tests.production.celery_worker", "worker",
                    "-Q", "dagster", "--concurrency", "1", "--prefetch-multiplier", "1",
                    "-n", f"w{number}@%h", "--without-gossip", "--without-mingle",
                    "-l", "INFO",
                ],
                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        )  # fmt: skip
    try:
        for number in range(1, count + 1):
            log = log_dir / f"worker{number}.log"
            wait_until(lambda log=log: "ready." in log.read_text(), f"celery worker {number}", 60)
        yield
    finally:
        for worker in workers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(timeout=5)
        for log in logs:
            log.close()


@pytest.fixture
def hang_guard() -> Iterator[None]:
    """A lost Celery result would block a run for ever: end the session loudly instead."""
    faulthandler.dump_traceback_later(300, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


def celery_run(
    instance: dg.DagsterInstance, only: dg.AssetKey | None = None
) -> dg.JobExecutionResult:
    return dg.execute_job(
        dg.reconstructable(all_assets_job),
        instance=instance,
        tags=range_tags(D1, D2),
        asset_selection=[only] if only else None,
    )


@pytest.mark.usefixtures("hang_guard")
def test_celery_workers_match_the_in_process_run_and_survive_a_killed_worker(
    tmp_path: Path,
    landed_sample: Path,
    production_home: Path,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    homes = {}
    for name in ("in_process", "celery"):
        # The default 2013 range on both sides: dim_date covers the partition range.
        homes[name] = replace(Settings.from_env(), home=tmp_path / name)
        shutil.copytree(landed_sample, homes[name].landing_dir)
    with dg.instance_for_test() as instance:
        reference = materialize_range(
            defs, D1, D2, instance, resources=build_resources(homes["in_process"])
        )
    assert reference.success
    expected = warehouse_tables(homes["in_process"])

    kill_flag = tmp_path / "kill-next-fct-flights-writer"
    for name, value in {
        "DAGSTER_HOME": str(production_home),
        "LAKEHOUSE_HOME": str(homes["celery"].home),
        "LAKEHOUSE_EXECUTOR": "celery",
        "LAKEHOUSE_CELERY_BROKER": redis_url,
        "LAKEHOUSE_TEST_KILL_FLAG": str(kill_flag),
        "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'platform'}",
    }.items():
        monkeypatch.setenv(name, value)
    with (
        celery_workers(dict(os.environ), tmp_path),
        dg.DagsterInstance.from_config(str(production_home)) as instance,
    ):
        first = celery_run(instance)
        assert first.success
        assert_same_tables(homes["celery"], expected)
        workers = set()
        for record in instance.all_logs(first.run_id):
            event = record.dagster_event
            if event and event.is_engine_event and "in celery worker" in record.message:
                worker = event.engine_event_data.metadata["Celery worker"].value
                workers.add(str(worker).split("@")[0])
        assert workers == {"w1", "w2"}, "steps ran on both workers"

        # The worker writing the fact dies after placing its files, before its Delta commit.
        kill_flag.touch()
        second = celery_run(instance, only=FACT)
        assert not second.success
        assert not kill_flag.exists(), "the fault fired"
        failure = instance.get_run_by_id(second.run_id)
        assert failure is not None
        assert failure.status == dg.DagsterRunStatus.FAILURE
        assert_same_tables(homes["celery"], expected)  # the killed write left no trace

        # The dead step still holds its "warehouse" pool slot. In production the daemon frees
        # it (run_monitoring.free_slots_after_run_end_seconds in deploy/dagster.yaml); here the
        # test does what that daemon iteration does, or the re-run would wait for ever.
        def holders() -> set[str]:
            info = instance.event_log_storage.get_concurrency_info("warehouse")
            return {slot.run_id for slot in info.claimed_slots}

        assert second.run_id in holders()
        instance.event_log_storage.free_concurrency_slots_for_run(second.run_id)
        assert second.run_id not in holders()

        third = celery_run(instance, only=FACT)
        assert third.success
        assert_same_tables(homes["celery"], expected)  # re-run: no duplicate or lost row


def test_a_run_started_while_redis_is_down_fails_naming_the_broker_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "broker-secret"
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("LAKEHOUSE_EXECUTOR", "celery")
    monkeypatch.setenv("LAKEHOUSE_CELERY_BROKER", f"redis://:{secret}@127.0.0.1:{free_port()}/0")
    with dg.instance_for_test() as instance, pytest.raises(BrokerUnavailableError) as caught:
        celery_run(instance)
    message = str(caught.value)
    assert message.startswith("Redis broker at 127.0.0.1:")
    assert "check LAKEHOUSE_CELERY_BROKER and that redis-server is running" in message
    assert secret not in message
