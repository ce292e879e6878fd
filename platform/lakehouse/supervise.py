"""Run a process tree in the foreground until Ctrl-C or SIGTERM, then stop all of it."""

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def run_supervised(argv: Sequence[str], *, cwd: Path, grace_seconds: float) -> int:
    """Run `argv` in a process group of its own until it exits or this process is asked to
    stop (SIGINT, SIGTERM or SIGHUP), then end every process left in that group: SIGTERM, and
    SIGKILL for any still there `grace_seconds` later.

    `dagster dev` starts a webserver, a daemon and code servers; stopping it alone left some
    of them running, and started in the background (where the shell ignores SIGINT, which
    every child inherits) it ignored Ctrl-C.

    Returns:
        The process's exit code (that of SIGTERM, 143, when it was stopped).
    """
    process = subprocess.Popen(list(argv), cwd=cwd, process_group=0)

    def stop(signum: int, frame: FrameType | None) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
    try:
        return process.wait()
    finally:
        end_group(process.pid, grace_seconds)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def end_group(group: int, grace_seconds: float) -> None:
    """Stop every process of a process group: SIGTERM, then SIGKILL after the grace period."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            return  # nothing left
        deadline = time.monotonic() + grace_seconds
        while time.monotonic() < deadline:
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
