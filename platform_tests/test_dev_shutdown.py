"""`lakehouse dev` (what `make dev` runs) stops every process it started on Ctrl-C or SIGTERM,
also when it was started in the background, where Ctrl-C arrives ignored.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from platform_tests.production.services import free_port, wait_until
from platform_tests.test_ui_browser import REPO, responds

pytestmark = pytest.mark.slow
TAG = "LAKEHOUSE_TEST_PROCESS_TAG"


def tagged(tag: str) -> list[int]:
    """Live processes whose environment carries `tag`: everything started under the test's
    process, whatever session or group it moved to (zombies do not count).
    """
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            environ = (proc / "environ").read_bytes()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue  # ended while being looked at
        if f"{TAG}={tag}".encode() in environ.split(b"\0") and state != "Z":
            found.append(int(proc.name))
    return found


def started_in_the_background() -> None:
    """What a shell does to a job it starts with `&`: SIGINT ignored, inherited by children."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_dev_stops_every_process_it_started(tmp_path: Path, stop: signal.Signals) -> None:
    dagster_home = tmp_path / ".dagster"
    dagster_home.mkdir()
    shutil.copy(REPO / "dagster.yaml", dagster_home / "dagster.yaml")
    port, tag = free_port(), uuid.uuid4().hex
    env = {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "LAKEHOUSE_HOME": str(tmp_path / "data"),
        TAG: tag,
    }
    command = [str(Path(sys.executable).parent / "lakehouse"), "dev", "--port", str(port)]
    dev = subprocess.Popen(
        [*command, "--workspace", str(REPO / "workspace.yaml"), "--grace", "20"],
        env=env,
        start_new_session=True,
        preexec_fn=started_in_the_background,  # noqa: PLW1509  (sets one signal disposition)
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: responds(f"http://127.0.0.1:{port}/server_info"), "dagster dev", 180)
        # The supervisor, dagster dev, its webserver and daemon, and their code servers.
        assert len(tagged(tag)) >= 4
        dev.send_signal(stop)
        dev.wait(timeout=90)
        deadline = time.monotonic() + 30
        while (left := tagged(tag)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert left == []
        assert not responds(f"http://127.0.0.1:{port}/server_info")
    finally:
        for pid in tagged(tag):
            os.kill(pid, signal.SIGKILL)
