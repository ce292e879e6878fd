"""Deliveries still being written, by real writers: a thread that pauses mid-file and a process
that keeps appending. A delivery is read only once complete, and a file that changes while it
is read is read again or refused by name; nothing half-written reaches the raw layer.
"""

import os
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import pytest

import lakehouse.landing as landing
from lakehouse.definitions import build_resources
from lakehouse.landing import LandingFile, LandingFileError, marker_path, read_delivery
from lakehouse.runner import RANGE_END, RANGE_START
from lakehouse.settings import Settings
from lakehouse.simulator.sample import FLIGHTS
from platform_tests.driving import Daemon
from platform_tests.test_end_to_end import failure_message, rows, run

pytestmark = pytest.mark.slow
D1, D2 = date(2013, 1, 1), date(2013, 1, 2)
RAW_FLIGHTS = dg.AssetKey(["raw", "flights"])


class PausingWriter(threading.Thread):
    """Writes a delivery in place, as a producer without the landing convention does: the
    first half of its lines, then a pause until `resume` is set, then the rest (and the
    completion marker if `mark`).
    """

    def __init__(self, path: Path, body: bytes, *, mark: bool) -> None:
        super().__init__(daemon=True)
        self.path, self.body, self.mark = path, body, mark
        self.half_written, self.resume = threading.Event(), threading.Event()

    def run(self) -> None:
        lines = self.body.splitlines(keepends=True)
        with self.path.open("wb") as handle:
            handle.write(b"".join(lines[: len(lines) // 2]))
            handle.flush()
            self.half_written.set()
            self.resume.wait(timeout=120)
            handle.write(b"".join(lines[len(lines) // 2 :]))
        if self.mark:
            marker_path(self.path).touch()

    def start_and_pause(self) -> None:
        self.start()
        assert self.half_written.wait(timeout=10)

    def finish(self) -> None:
        self.resume.set()
        self.join(timeout=10)
        assert not self.is_alive()


def patient(settings: Settings) -> Settings:
    """Settings that wait an hour for a file without a completion marker, so that only the
    marker, or a file left untouched that long, completes a delivery during the test.
    """
    return replace(settings, landing_quiet_seconds=3600.0)


def untouched_for_an_hour(path: Path) -> None:
    """The quiet period passing, without the test waiting for it."""
    an_hour_ago = time.time() - 3601
    os.utime(path, (an_hour_ago, an_hour_ago))


def redeliver_in_place(settings: Settings, day: date, *, mark: bool) -> tuple[PausingWriter, int]:
    """Remove a landed sample day and start writing it again in place, paused half-way.

    Returns:
        The writer and the number of lines the whole day has after its header.
    """
    path = settings.landing_dir / "flights" / f"{day}.csv"
    body = path.read_bytes()
    path.unlink()
    marker_path(path).unlink()
    writer = PausingWriter(path, body, mark=mark)
    writer.start_and_pause()
    return writer, body.count(b"\n") - 1


@pytest.mark.parametrize("mark", [True, False], ids=["marker", "quiet-period"])
def test_materialize_refuses_a_half_written_file_and_takes_it_once_complete(
    landed: Settings, mark: bool
) -> None:
    settings = patient(landed)
    writer, lines = redeliver_in_place(settings, D1, mark=mark)
    with dg.instance_for_test() as instance:
        half = run(settings, instance, D1, D1)
        assert not half.success
        message = failure_message(half)
        assert "flights/2013-01-01.csv" in message
        assert "may still be being written" in message
        assert "raw/flights" not in rows(settings)

        writer.finish()
        if not mark:
            # Complete but just written, and no marker: still refused.
            assert not run(settings, instance, D1, D1).success
            untouched_for_an_hour(writer.path)
        whole = run(settings, instance, D1, D1)
        assert whole.success
        assert rows(settings)["raw/flights"] == rows(settings)["staged/flights"] == lines


@pytest.mark.parametrize("mark", [True, False], ids=["marker", "quiet-period"])
def test_the_sensor_waits_out_a_writer_that_pauses_longer_than_a_tick(
    landed: Settings, mark: bool
) -> None:
    settings = patient(landed)
    # Day 2 is complete and landed long ago: the first tick takes it; day 1 is being written.
    untouched_for_an_hour(settings.landing_dir / "flights" / f"{D2}.csv")
    writer, lines = redeliver_in_place(settings, D1, mark=mark)
    with dg.instance_for_test() as instance:
        daemon = Daemon(instance, build_resources(settings))
        assert daemon.sense() >= 1
        started = len(daemon.runs)
        # Ticks while the writer pauses: the file looks the same each time, and is not taken.
        for _ in range(2):
            assert daemon.sense() == 0
        assert "flights/2013-01-01.csv" not in daemon.rejected

        writer.finish()
        if not mark:
            assert daemon.sense() == 0  # just finished, no marker: still waiting
            untouched_for_an_hour(writer.path)
        assert daemon.sense() == 1
        assert len(daemon.runs) == started + 1
        last = daemon.runs[-1]
        assert last.success
        assert (last.dagster_run.tags[RANGE_START], last.dagster_run.tags[RANGE_END]) == (
            str(D1),
            str(D1),
        )
        ingested = instance.fetch_materializations(RAW_FLIGHTS, limit=10).records
        day1 = [r for r in ingested if r.partition_key == str(D1)]
        assert len(day1) == 1  # taken once, whole
        metadata = day1[0].asset_materialization.metadata  # type: ignore[union-attr]
        assert metadata["dagster/row_count"].value == lines


APPENDER = """
import sys
from pathlib import Path
path, line = Path(sys.argv[1]), sys.argv[2].encode() + b"\\n"
with path.open("ab") as handle:
    for _ in sys.stdin:  # one request, one line appended, then an acknowledgement
        handle.write(line)
        handle.flush()
        print("appended", flush=True)
"""


class Appender:
    """A producer process that appends a line to a delivery whenever it is asked, so that a
    test can have it write exactly while the raw layer reads the file.
    """

    def __init__(self, path: Path, line: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", APPENDER, str(path), line],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def append(self) -> None:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        assert self.process.stdout.readline() == "appended\n"

    def close(self) -> None:
        out, _ = self.process.communicate(timeout=10)  # closes both pipes
        assert (out, self.process.returncode) == ("", 0)


@pytest.mark.parametrize(("appends", "refused"), [(1, False), (landing.READ_ATTEMPTS, True)])
def test_a_file_that_changes_while_it_is_read_is_read_again_or_refused_by_name(
    landed: Settings, monkeypatch: pytest.MonkeyPatch, appends: int, refused: bool
) -> None:
    """The producer appends right after the raw layer has read the file: once (the next
    attempt reads the file whole) or on every attempt (the file is refused by name).
    """
    monkeypatch.setattr(landing, "READ_PAUSE_SECONDS", 0.01)
    path = landed.landing_dir / "flights" / f"{D1}.csv"
    line = path.read_text().splitlines()[1]
    appender = Appender(path, line)
    pending = [appends]
    read_bytes = Path.read_bytes

    def read_while_written(self: Path) -> bytes:
        data = read_bytes(self)
        if self == path and pending[0] > 0:
            pending[0] -= 1
            appender.append()  # the rest of the file arrives just after this read
        return data

    monkeypatch.setattr(Path, "read_bytes", read_while_written)
    file = LandingFile("flights", D1, path)
    try:
        if refused:
            with pytest.raises(LandingFileError, match="changed while it was read") as error:
                read_delivery(file, FLIGHTS, ingested_at=datetime.now(UTC))
            assert str(error.value).startswith("flights/2013-01-01.csv: ")
            assert f"write {D1}.csv.done once it is" in str(error.value)
        else:
            rows_read = read_delivery(file, FLIGHTS, ingested_at=datetime.now(UTC))
            assert rows_read.height == path.read_bytes().count(b"\n") - 1
            assert rows_read["_line_number"].max() == rows_read.height + 1
        assert pending == [0]
    finally:
        appender.close()
