"""`lakehouse doctor`: plain-words findings against real services, up, down and misconfigured."""

import os
from pathlib import Path

import pytest

from lakehouse.deploy.doctor import Finding, diagnose, render
from lakehouse.deploy.instance import INSTANCE_ENV
from platform_tests.production.conftest import PRODUCTION_INSTANCE
from platform_tests.production.services import Postgres, free_port

pytestmark = pytest.mark.production
SECRET = "not-in-any-message"


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text(PRODUCTION_INSTANCE.read_text())
    return {
        "DAGSTER_HOME": str(home),
        "LAKEHOUSE_HOME": str(tmp_path / "data"),
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_PORT": str(free_port()),
        "DAGSTER_PG_USER": "lakehouse",
        "DAGSTER_PG_PASSWORD": SECRET,
        "DAGSTER_PG_DB": "dagster",
        **INSTANCE_ENV,
        **overrides,
    }


def problems(findings: list[Finding]) -> dict[str, str]:
    return {f.area: f.message for f in findings if not f.ok}


def test_services_down_are_named_with_the_setting_to_fix(tmp_path: Path) -> None:
    env = production_env(
        tmp_path,
        LAKEHOUSE_EXECUTOR="celery",
        LAKEHOUSE_CELERY_BROKER=f"redis://:{SECRET}@127.0.0.1:{free_port()}/0",
        LAKEHOUSE_WAREHOUSE_URL=f"postgresql://lakehouse@127.0.0.1:{free_port()}/warehouse",
        LAKEHOUSE_WAREHOUSE_PASSWORD=SECRET,
    )
    found = problems(diagnose(env))
    port = env["DAGSTER_PG_PORT"]
    assert found["Dagster instance storage (PostgreSQL)"].startswith(
        f"PostgreSQL at 127.0.0.1:{port}/dagster is not reachable"
    )
    assert (
        "check DAGSTER_PG_HOST / DAGSTER_PG_PORT" in found["Dagster instance storage (PostgreSQL)"]
    )
    assert "check LAKEHOUSE_WAREHOUSE_URL" in found["warehouse (PostgreSQL)"]
    assert "Redis broker at 127.0.0.1:" in found["executor (Redis broker)"]
    assert "check LAKEHOUSE_CELERY_BROKER" in found["executor (Redis broker)"]
    report = render(diagnose(env))
    assert SECRET not in report
    assert "Traceback" not in report
    assert report.endswith("3 problem(s) to fix")


def test_configuration_mistakes_are_explained(tmp_path: Path) -> None:
    env = production_env(tmp_path, LAKEHOUSE_EXECUTOR="threads")
    del env["DAGSTER_PG_PASSWORD"]
    env["LAKEHOUSE_WAREHOUSE_URL"] = "postgresql://u:inline@127.0.0.1/w"
    found = problems(diagnose(env))
    assert "DAGSTER_PG_PASSWORD, not set" in found["Dagster instance"]
    assert "LAKEHOUSE_WAREHOUSE_PASSWORD is not set" in found["warehouse"]
    assert "'threads' is not one of multiprocess, in_process, celery" in found["executor"]
    yaml = Path(env["DAGSTER_HOME"]) / "dagster.yaml"
    yaml.write_text(
        yaml.read_text()
        .replace("env: DAGSTER_PG_PASSWORD", "")
        .replace("      password:\n", f"      password: {SECRET}\n")
    )
    assert "literal PostgreSQL password" in problems(diagnose(env))["Dagster instance"]
    del env["DAGSTER_EVENT_BATCH_SIZE"]
    assert (
        "export DAGSTER_EVENT_BATCH_SIZE=1000 on every machine"
        in (problems(diagnose(env))["Dagster event writes"])
    )
    assert (
        "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"
        not in (problems(diagnose(env))["Dagster event writes"])
    )
    for off in ("yes", "-1", "0"):  # Dagster fails on the first or turns batching off
        env["DAGSTER_EVENT_BATCH_SIZE"] = off
        assert "DAGSTER_EVENT_BATCH_SIZE=1000" in problems(diagnose(env))["Dagster event writes"]
    env["DAGSTER_EVENT_BATCH_SIZE"] = "500"
    env["DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"] = "false"
    assert "PLANNED_EVENTS=1" in problems(diagnose(env))["Dagster event writes"]
    assert problems(diagnose({**env, "LAKEHOUSE_END": "2012-01-01"})) == {
        "settings": "LAKEHOUSE_END=2012-01-01 is before LAKEHOUSE_START=2013-01-01; set an end "
        "on or after the start."
    }


@pytest.mark.slow
def test_all_good_against_the_real_services(
    tmp_path: Path,
    postgres: Postgres,
    pg_database: str,
    redis_url: str,
    lake_uri: str,
) -> None:
    env = {  # os.environ: the AWS_* variables the lake_uri fixture set
        **os.environ,
        **production_env(
            tmp_path,
            DAGSTER_PG_PORT=str(postgres.port),
            DAGSTER_PG_PASSWORD=postgres.password,
            DAGSTER_PG_DB=pg_database,
            LAKEHOUSE_LAKE_URI=lake_uri,
            LAKEHOUSE_WAREHOUSE_URL=f"postgresql://lakehouse@127.0.0.1:{postgres.port}/{pg_database}",
            LAKEHOUSE_WAREHOUSE_PASSWORD=postgres.password,
            LAKEHOUSE_EXECUTOR="celery",
            LAKEHOUSE_CELERY_BROKER=redis_url,
        ),
    }
    findings = diagnose(env)
    assert problems(findings) == {}, render(findings)
    assert len(findings) == 7
    # A wrong password and a missing bucket, each named with what to fix.
    found = problems(
        diagnose(
            {
                **env,
                "DAGSTER_PG_PASSWORD": "wrong",
                "LAKEHOUSE_LAKE_URI": "s3://no-such-bucket/lake",
            }
        )
    )
    assert (
        "refused the login of user 'lakehouse'; check DAGSTER_PG_USER / DAGSTER_PG_PASSWORD"
        in (found["Dagster instance storage (PostgreSQL)"])
    )
    assert "s3://no-such-bucket/lake" in found["lake (object store)"]
    assert "does not exist" in found["lake (object store)"]


def test_cli_doctor_exits_1_and_names_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from lakehouse.cli import app

    for name, value in production_env(tmp_path).items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, ["doctor"])
    assert result.exit_code == 1
    assert "check DAGSTER_PG_HOST / DAGSTER_PG_PORT" in result.output
    assert "1 problem(s) to fix" in result.output
    assert SECRET not in result.output
