"""`lakehouse doctor`: is this machine's configuration usable, and if not, what to change.

Each check returns findings in plain words that name the service and the setting to fix, never
a stack trace and never a secret's value. `diagnose()` takes the environment as an argument (the
CLI passes none: this process's), so tests can hand it any configuration.
"""

import json
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from lakehouse.deploy.executor import BROKER_ENV, EXECUTORS, broker_problem
from lakehouse.deploy.instance import INSTANCE_ENV
from lakehouse.settings import Settings

TIMEOUT_SECONDS = 3
# Where doctor remembers the instance's size, to report its growth the next time it runs.
STATE_RECORD = ".lakehouse-doctor-state.json"
# Below this many seconds since the last look, a growth rate says nothing.
GROWTH_MIN_SECONDS = 60


@dataclass(frozen=True)
class Finding:
    """One checked thing: `ok`, or what is wrong and which setting fixes it."""

    area: str
    ok: bool
    message: str


def _ok(area: str, message: str) -> list[Finding]:
    return [Finding(area, True, message)]


def _bad(area: str, message: str) -> list[Finding]:
    return [Finding(area, False, message)]


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def check_folder(area: str, folder: Path, setting: str) -> list[Finding]:
    """The folder exists (or can be created) and this user can write in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-"):
            pass
    except OSError as error:
        return _bad(
            area,
            (
                f"cannot write in {folder} ({error.strerror}); fix {setting} or the folder's "
                "permissions"
            ),
        )
    return _ok(area, f"{folder} is writable")


def instance_storage(env: Mapping[str, str]) -> list[Finding]:
    """DAGSTER_HOME, its dagster.yaml, and the PostgreSQL storage it names (if any)."""
    area = "Dagster instance"
    home = env.get("DAGSTER_HOME")
    if not home:
        return _bad(
            area,
            (
                "DAGSTER_HOME is not set: runs will not be recorded; export "
                "DAGSTER_HOME=<folder with dagster.yaml>"
            ),
        )
    config_file = Path(home) / "dagster.yaml"
    if not config_file.exists():
        return _ok(area, f"{home} has no dagster.yaml: Dagster's defaults (SQLite under {home})")
    try:
        config = yaml.safe_load(config_file.read_text()) or {}
    except yaml.YAMLError as error:
        return _bad(area, f"{config_file} is not valid YAML: {_first_line(error)}")
    db = postgres_db(config)
    if db is None:
        return _ok(area, f"{config_file}: local SQLite storage under {home}")
    findings = (
        [
            Finding(
                area,
                False,
                (
                    f"{config_file} holds a literal PostgreSQL password; use `password: "
                    f"{{env: DAGSTER_PG_PASSWORD}}`"
                ),
            )
        ]
        if isinstance(db.get("password"), str) and db.get("password")
        else []
    )
    values, missing = {}, []
    for key in ("hostname", "port", "username", "password", "db_name"):
        value = db.get(key)
        if isinstance(value, Mapping) and "env" in value:
            if value["env"] not in env:
                missing.append(value["env"])
            values[key] = env.get(value["env"], "")
        else:
            values[key] = "" if value is None else str(value)
    if missing:
        unset = f"{config_file} reads {', '.join(missing)}, not set in this environment"
        return [*findings, *_bad(area, unset)]
    return (
        findings
        + event_writes(env)
        + check_postgres(
            "Dagster instance storage (PostgreSQL)",
            host=values["hostname"],
            port=int(values["port"] or 5432),
            user=values["username"],
            password=values["password"],
            database=values["db_name"],
            settings="DAGSTER_PG_HOST / DAGSTER_PG_PORT",
            login_settings="DAGSTER_PG_USER / DAGSTER_PG_PASSWORD",
        )
    )


def _human_bytes(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(size) < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"  # pragma: no cover


def instance_state(env: Mapping[str, str], now: float | None = None) -> list[Finding]:
    """What the instance keeps: whether it purges old sensor and schedule ticks (a sensor
    ticks every few seconds, so without retention they grow without bound), and for a local
    SQLite instance its size on disk with the growth since doctor last looked.
    """
    area = "Dagster instance state"
    home = env.get("DAGSTER_HOME")
    config_file = Path(home) / "dagster.yaml" if home else None
    if config_file is None or not config_file.exists():
        return []  # instance_storage already says what is missing
    try:
        config = yaml.safe_load(config_file.read_text()) or {}
    except yaml.YAMLError:
        return []  # instance_storage reports the broken file
    retention = config.get("retention") or {}
    forever = [kind for kind in ("sensor", "schedule") if not (retention.get(kind) or {})]
    findings = []
    if forever:
        findings += _bad(
            area,
            (
                f"{config_file} keeps {' and '.join(forever)} ticks forever; add a `retention:` "
                "block with purge_after_days (as in the repository's dagster.yaml)"
            ),
        )
    if postgres_db(config) is not None:
        return findings or _ok(area, "old sensor and schedule ticks are purged")
    return findings + _ok(area, _sqlite_growth(Path(home or "."), now or time.time()))


def postgres_db(config: dict[str, Any]) -> dict[str, Any] | None:
    """The PostgreSQL settings of an instance file (`storage: postgres`, or the event log's
    when each storage is configured apart, as in deploy/dagster.yaml); None for SQLite.
    """
    together = (config.get("storage") or {}).get("postgres")
    if together is not None:
        return together.get("postgres_db") or {}
    apart = ((config.get("event_log_storage") or {}).get("config") or {}).get("postgres_db")
    return apart if isinstance(apart, dict) else None


def _sqlite_growth(home: Path, now: float) -> str:
    """The size of a local instance's files, and how it changed since the last look (which
    this call records for the next one).
    """
    record = home / STATE_RECORD
    size = sum(f.stat().st_size for f in home.rglob("*") if f.is_file() and f != record)
    try:
        last = json.loads(record.read_text())
        before, then = int(last["bytes"]), float(last["at"])
    except (OSError, ValueError, KeyError, TypeError):
        before, then = None, None
    message = f"{_human_bytes(size)} under {home}"
    if before is not None and then is not None and now - then >= GROWTH_MIN_SECONDS:
        days = (now - then) / 86_400
        change = size - before
        sign = "+" if change >= 0 else "-"
        message += (
            f", {sign}{_human_bytes(abs(change))} since doctor last looked "
            f"{days * 24:.1f} h ago ({sign}{_human_bytes(abs(change) / days)} a day)"
        )
    if before is None or then is None or now - then >= GROWTH_MIN_SECONDS:
        record.write_text(json.dumps({"bytes": size, "at": now}))
    return message


def _enabled(name: str, value: str) -> bool:
    """Whether Dagster reads `value` as on: a batch size is a positive integer (anything else
    turns batching off or fails every batched write), a flag is any text but false/none/0.
    """
    if name == "DAGSTER_EVENT_BATCH_SIZE":
        return value.strip().isdigit() and int(value) > 0
    return value.strip().lower() not in {"false", "none", "0", ""}


def event_writes(env: Mapping[str, str]) -> list[Finding]:
    """The environment settings that keep a range run's event-log writes few (`INSTANCE_ENV`)."""
    area = "Dagster event writes"
    unset = [name for name in INSTANCE_ENV if not _enabled(name, env.get(name, ""))]
    if unset:
        exports = " ".join(f"{name}={INSTANCE_ENV[name]}" for name in unset)
        return _bad(
            area,
            (
                f"{', '.join(unset)} not set (or off): a range run writes one event-log row per "
                f"partition and output, each in its own transaction; export {exports} on every "
                "machine"
            ),
        )
    return _ok(area, "planned events per range, materializations written in batches")


def check_postgres(
    area: str,
    *,
    host: str,
    port: int,
    user: str,
    password: str,
    database: str,
    settings: str,
    login_settings: str,
) -> list[Finding]:
    """Connect, and check the login may create tables (Dagster and the warehouse both do)."""
    import psycopg2  # noqa: PLC0415 (only needed when PostgreSQL is configured)

    where = f"{host}:{port}/{database}"
    try:
        con = psycopg2.connect(
            host=host,
            port=port,
            user=user,
            password=password,
            dbname=database,
            connect_timeout=TIMEOUT_SECONDS,
        )
    except psycopg2.OperationalError as error:
        reason = _first_line(error)
        if "password" in reason or "authentication" in reason or "role" in reason:
            return _bad(
                area,
                f"PostgreSQL at {where} refused the login of user {user!r}; check {login_settings}",
            )
        if "does not exist" in reason:
            return _bad(
                area,
                (
                    f"PostgreSQL at {where}: database {database!r} does not exist; create it "
                    "or fix the database setting"
                ),
            )
        return _bad(
            area,
            (
                f"PostgreSQL at {where} is not reachable ({reason}); check {settings} and "
                "that the server is running"
            ),
        )
    try:
        with con.cursor() as cur:
            cur.execute("SELECT has_database_privilege(current_user, current_database(), 'CREATE')")
            row = cur.fetchone()
    finally:
        con.close()
    if not row or not row[0]:
        return _bad(
            area,
            (
                f"user {user!r} may not create schemas in {where}; GRANT CREATE ON DATABASE "
                f"{database} TO {user}"
            ),
        )
    return _ok(area, f"PostgreSQL at {where} accepts user {user!r} with CREATE")


def warehouse(settings: Settings, env: Mapping[str, str]) -> list[Finding]:
    """The DuckDB file's folder, or the shared PostgreSQL warehouse."""
    area = "warehouse"
    if not settings.warehouse_url:
        return check_folder(area, settings.warehouse_path.parent, "LAKEHOUSE_HOME")
    from lakehouse.resources.postgres_warehouse_io import PASSWORD_ENV, URL_ENV  # noqa: PLC0415

    if PASSWORD_ENV not in env:
        return _bad(
            area,
            (
                f"{PASSWORD_ENV} is not set (the warehouse password is read from it; set it, "
                "empty if none)"
            ),
        )
    url = urlsplit(settings.warehouse_url)
    if url.scheme not in {"postgresql", "postgres"} or not url.hostname:
        return _bad(area, f"{URL_ENV} must look like postgresql://user@host:port/database")
    if url.password:
        return _bad(area, f"{URL_ENV} contains a password; move it to {PASSWORD_ENV}")
    return check_postgres(
        "warehouse (PostgreSQL)",
        host=url.hostname,
        port=url.port or 5432,
        user=url.username or "",
        password=env[PASSWORD_ENV],
        database=url.path.lstrip("/"),
        settings=URL_ENV,
        login_settings=f"the user in {URL_ENV} and {PASSWORD_ENV}",
    )


def lake(settings: Settings, env: Mapping[str, str]) -> list[Finding]:
    """The local lake folder, or the object store: reachable, and writable by these credentials."""
    if not settings.lake_uri:
        return check_folder("lake", settings.lake_dir, "LAKEHOUSE_HOME")
    area = "lake (object store)"
    import fsspec  # noqa: PLC0415

    endpoint = env.get("AWS_ENDPOINT_URL", "the provider's default endpoint")
    probe = f"{settings.lake_uri.rstrip('/')}/.doctor-{uuid.uuid4().hex}"
    try:
        fs: Any = fsspec.filesystem(
            settings.lake_uri.split("://")[0],
            skip_instance_cache=True,
            config_kwargs={"connect_timeout": TIMEOUT_SECONDS, "retries": {"max_attempts": 1}},
        )
        fs.pipe(probe, b"doctor")
        fs.rm(probe)
    except PermissionError:
        return _bad(
            area,
            (
                "the credentials in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY may not write "
                f"to {settings.lake_uri}"
            ),
        )
    except FileNotFoundError:
        return _bad(
            area,
            f"the bucket of LAKEHOUSE_LAKE_URI={settings.lake_uri} does not exist at {endpoint}",
        )
    except Exception as error:  # noqa: BLE001 (any failure is reported in words)
        return _bad(
            area,
            (
                f"object store at {endpoint} is not reachable for {settings.lake_uri} "
                f"({_first_line(error)}); check AWS_ENDPOINT_URL and that the service is up"
            ),
        )
    return _ok(area, f"{settings.lake_uri} is writable (at {endpoint})")


def executor(settings: Settings, env: Mapping[str, str]) -> list[Finding]:
    """The executor name, and for Celery the Redis broker."""
    area = "executor"
    if settings.executor not in EXECUTORS:
        return _bad(
            area, f"LAKEHOUSE_EXECUTOR={settings.executor!r} is not one of {', '.join(EXECUTORS)}"
        )
    if settings.executor != "celery":
        return _ok(area, f"{settings.executor}: steps run on this machine")
    broker = env.get(BROKER_ENV)
    if not broker:
        return _bad(area, f"LAKEHOUSE_EXECUTOR=celery needs {BROKER_ENV}=redis://host:port/0")
    where = f"{urlsplit(broker).hostname}:{urlsplit(broker).port or 6379}"
    problem = broker_problem(broker, TIMEOUT_SECONDS)
    if problem:
        return _bad("executor (Redis broker)", problem)
    return _ok("executor (Redis broker)", f"celery: Redis at {where} answers")


def diagnose(environ: Mapping[str, str] | None = None) -> list[Finding]:
    """Every check, in the order a person would fix them, on `environ` (default: this process's
    environment, which is what doctor inspects).
    """
    env = os.environ if environ is None else environ
    try:
        settings = Settings.from_env(env)
    except ValueError as error:
        return _bad("settings", _first_line(error))
    checks: list[Callable[[], list[Finding]]] = [
        lambda: check_folder("data home", settings.home, "LAKEHOUSE_HOME"),
        lambda: instance_storage(env),
        lambda: instance_state(env),
        lambda: lake(settings, env),
        lambda: warehouse(settings, env),
        lambda: executor(settings, env),
    ]
    return [finding for check in checks for finding in check()]


def render(findings: list[Finding]) -> str:
    """One line per finding, problems marked, then a verdict."""
    lines = [f"{'ok ' if f.ok else 'FIX'}  {f.area}: {f.message}" for f in findings]
    problems = sum(not f.ok for f in findings)
    lines.append("all good" if not problems else f"{problems} problem(s) to fix")
    return "\n".join(lines)
