"""Real local services for the production tests and the benchmark: PostgreSQL, Redis and an S3
server on loopback.

Each starts on a free port under a private temporary folder and is stopped (and its folder
removed) when its context ends. Nothing here listens on anything but 127.0.0.1. A service whose
binary is not installed raises `ServiceMissingError`; the test fixtures turn it into a skip (a
failure in CI), the benchmark into a note.
"""

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path


class ServiceMissingError(RuntimeError):
    """A service's binary is not installed; the message names the Debian package."""


def free_port() -> int:
    """A TCP port nobody listens on right now (the service binds it a moment later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_binary(name: str, package: str, *globs: str) -> str:
    """The path of a service binary; ServiceMissingError names the package that provides it."""
    found = shutil.which(name) or next(
        (hit for pattern in globs for hit in sorted(glob.glob(pattern), reverse=True)), None
    )
    if found:
        return found
    msg = f"{name} is not installed (apt-get install {package})"
    raise ServiceMissingError(msg)


def wait_until(ready: Callable[[], bool], what: str, timeout: float = 30) -> None:
    """Poll `ready` until it holds, or fail naming the service that never came up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.1)
    msg = f"{what} did not come up within {timeout:.0f} s"
    raise TimeoutError(msg)


def _as_service_user(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the Debian `postgres` user."""
    if os.geteuid() != 0:
        return argv
    # runuser lives in sbin, which a minimal PATH (CI's, cron's) does not include.
    runuser = find_binary("runuser", "util-linux", "/usr/sbin/runuser", "/sbin/runuser")
    return [runuser, "-u", "postgres", "--", *argv]


@dataclass(frozen=True)
class Postgres:
    """A running PostgreSQL server with a password-protected superuser."""

    host: str
    port: int
    user: str
    password: str

    def instance_env(self, db: str) -> dict[str, str]:
        """The settings `deploy/dagster.yaml` reads to keep a Dagster instance in database `db`."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USER": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_DB": db,
        }

    def url(self, db: str) -> str:
        """A libpq URL for one database of this server."""
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{db}"

    def create_database(self, name: str) -> None:
        """Create a database (the caller picks a fresh name per test)."""
        import psycopg2  # noqa: PLC0415

        con = psycopg2.connect(self.url("postgres"))
        con.autocommit = True
        try:
            with con.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            con.close()


@contextlib.contextmanager
def postgres_server(*, durable: bool = False) -> Iterator[Postgres]:
    """initdb + pg_ctl on a free loopback port. Tests throw the data away, so by default every
    commit skips fsync; `durable` keeps PostgreSQL's defaults, as a production server runs (the
    benchmark measures with them).
    """
    pattern = "/usr/lib/postgresql/*/bin/{}"
    initdb = find_binary("initdb", "postgresql", pattern.format("initdb"))
    pg_ctl = find_binary("pg_ctl", "postgresql", pattern.format("pg_ctl"))
    root = Path(tempfile.mkdtemp(prefix="lakehouse-pg-"))
    port, password = free_port(), "pw-" + os.urandom(8).hex()
    (root / "pwfile").write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        shutil.chown(root / "pwfile", "postgres", "postgres")
    data, log = root / "data", root / "server.log"
    try:
        subprocess.run(
            _as_service_user(
                [
                    initdb,
                    "-D",
                    str(data),
                    "-U",
                    "lakehouse",
                    f"--pwfile={root / 'pwfile'}",
                    "--auth=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
        )
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c max_connections=200"
        if not durable:
            options += " -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        subprocess.run(
            _as_service_user(
                [pg_ctl, "-D", str(data), "-o", options, "-l", str(log), "-w", "start"]
            ),
            check=True,
            capture_output=True,
        )
        yield Postgres("127.0.0.1", port, "lakehouse", password)
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                _as_service_user([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]),
                check=False,
                capture_output=True,
            )
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """redis-server on a free loopback port, without persistence; yields its redis:// URL."""
    binary = find_binary("redis-server", "redis-server")
    port = free_port()
    root = Path(tempfile.mkdtemp(prefix="lakehouse-redis-"))
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(root),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: _accepts(port), f"redis-server on port {port}")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def s3_server() -> Iterator[str]:
    """moto's S3 server on a free loopback port; yields its endpoint URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _http_ok(endpoint), f"moto S3 server on port {port}")
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


class TcpProxy:
    """Forwards a loopback port to a service's port until `cut()`: then open connections are
    closed and new ones refused, as when the network to the service goes away; `restore()`
    brings it back on the same port.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()
        self.restore()

    def restore(self) -> None:
        """Accept connections again."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Drop every connection and stop listening: clients see resets and refusals."""
        with self._lock:
            doomed, self._sockets = self._sockets, []
            if self._listener is not None:
                doomed.append(self._listener)
                self._listener = None
        for sock in doomed:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # the listener was closed by cut()
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def _accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=0.5):  # noqa: S310 (loopback only)
            return True
    except OSError:
        return False
