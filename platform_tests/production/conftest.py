"""Session-scoped real services (PostgreSQL, Redis, an S3 server), each started on first use."""

import contextlib
import os
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TypeVar

import fsspec
import pytest

from platform_tests.production.services import (
    Postgres,
    ServiceMissingError,
    postgres_server,
    redis_server,
    s3_server,
)

REPO = Path(__file__).resolve().parents[2]
PRODUCTION_INSTANCE = REPO / "deploy" / "dagster.yaml"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
T = TypeVar("T")


@contextlib.contextmanager
def started(service: AbstractContextManager[T]) -> Iterator[T]:
    """A running service, or skip its tests when it is not installed (fail in CI, where
    .ci/run installs it).
    """
    with contextlib.ExitStack() as stack:
        try:
            running = stack.enter_context(service)
        except ServiceMissingError as missing:
            if IN_CI:
                pytest.fail(f"{missing}; .ci/run must install it", pytrace=False)
            pytest.skip(str(missing))
        yield running


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One PostgreSQL server for the session; tests create their own databases in it."""
    with started(postgres_server()) as server:
        yield server


@pytest.fixture
def pg_database(postgres: Postgres) -> str:
    """A fresh, empty database in the session's server."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    postgres.create_database(name)
    return name


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """One Redis server for the session."""
    with started(redis_server()) as url:
        yield url


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """One S3-compatible server (moto) for the session."""
    with s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def production_home(
    tmp_path: Path, postgres: Postgres, pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A DAGSTER_HOME holding the production dagster.yaml, its settings in the environment."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(PRODUCTION_INSTANCE.read_text())
    for name, value in postgres.instance_env(pg_database).items():
        monkeypatch.setenv(name, value)
    return home


@pytest.fixture
def lake_uri(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket; credentials and endpoint only in the standard AWS variables."""
    for name, value in {
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": "lakehouse-test",
        "AWS_SECRET_ACCESS_KEY": "lakehouse-test-secret",
        "AWS_REGION": "us-east-1",
        "AWS_ALLOW_HTTP": "true",
    }.items():
        monkeypatch.setenv(name, value)
    bucket = f"lake-{uuid.uuid4().hex[:10]}"
    fsspec.filesystem("s3", skip_instance_cache=True).mkdir(bucket)
    return f"s3://{bucket}/lake"
