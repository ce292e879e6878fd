"""Running one implementation in a subprocess and measuring its wall time and peak memory."""

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from bench import LAUNCH_ENV

# Fast enough to see a Polars or DuckDB allocation burst of a few hundred milliseconds; the
# kernel's per-process high-water mark (wait4 maxrss) is taken as well, so a shorter peak of a
# single process is not missed either. A poll costs ~0.7 ms of CPU (listing the tree reads all
# of /proc): every 20 ms that took ~4 % of a core from an implementation that keeps both busy,
# and nothing from a single-threaded one.
POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Measured:
    """What one subprocess did: wall time, peak memory, and the JSON report it printed."""

    wall_s: float
    peak_rss_bytes: int  # max of (sum of RSS over the process tree, polled) and maxrss
    tree_rss_bytes: int  # polled sum over the tree
    maxrss_bytes: int  # kernel high-water mark of the largest single process
    report: dict[str, Any]
    failure: str | None = None  # why it did not finish; None when it did


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.NoSuchProcess:
            continue  # exited between listing and reading
    return total


def run_measured(
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    log: Path,
    cwd: Path | None = None,
    max_rss_bytes: int | None = None,
) -> Measured:
    """Run `python <args>` with `env` added, polling the RSS of its whole process tree.

    The child prints one JSON object on its last stdout line (its own internal timings and
    figures); stderr goes to `log`. A child whose tree passes `max_rss_bytes` is killed (the
    machine is shared; better our child than the kernel's OOM killer picking someone's).
    A failed child's `failure` says why, with the tail of its log.
    """
    full_env = {**LAUNCH_ENV, **env}
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as err:
        start = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, *args], env=full_env, stdout=subprocess.PIPE, stderr=err, cwd=cwd
        )
        watched = psutil.Process(child.pid)
        peak = 0
        over_limit = False
        done = threading.Event()

        def poll() -> None:
            nonlocal peak, over_limit
            while not done.is_set():
                peak = max(peak, _tree_rss(watched))
                if max_rss_bytes is not None and peak > max_rss_bytes and not over_limit:
                    over_limit = True
                    try:
                        for member in [*watched.children(recursive=True), watched]:
                            member.kill()
                    except psutil.NoSuchProcess:
                        pass  # already gone
                time.sleep(POLL_SECONDS)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        assert child.stdout is not None  # noqa: S101  (PIPE was requested)
        out = child.stdout.read()
        # wait4 reaps the child and returns its own resource usage (maxrss in KiB on Linux).
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        done.set()
        poller.join()
        child.returncode = os.waitstatus_to_exitcode(status)
    maxrss = usage.ru_maxrss * 1024
    failure = None
    if over_limit and max_rss_bytes is not None:
        failure = (
            f"stopped at {peak / 1e9:.1f} GB RSS, over the limit of {max_rss_bytes / 1e9:.1f} GB"
        )
    elif child.returncode != 0:
        killed = " (killed: out of memory?)" if child.returncode == -9 else ""
        failure = f"exited {child.returncode}{killed}; log {log}: {log.read_text()[-1500:]}"
    lines = out.decode().strip().splitlines()
    report = json.loads(lines[-1]) if lines and not failure else {}
    return Measured(
        wall_s=wall,
        peak_rss_bytes=max(peak, maxrss),
        tree_rss_bytes=peak,
        maxrss_bytes=maxrss,
        report=report,
        failure=failure,
    )


def emit(report: Mapping[str, Any]) -> None:
    """Print a child's report as the last stdout line (what run_measured reads)."""
    sys.stdout.write(json.dumps(report, default=str) + "\n")
    sys.stdout.flush()
