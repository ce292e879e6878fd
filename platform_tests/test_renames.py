"""Deliveries renamed into a watched landing folder are marked complete; nothing else is."""

import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from watchdog.observers.api import BaseObserver

from lakehouse.landing import marker_path
from lakehouse.renames import RenameWatch


def eventually(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_a_delivery_renamed_in_is_marked_and_files_written_in_place_or_hidden_are_not(
    tmp_path: Path,
) -> None:
    watch = RenameWatch()
    watch.watch(tmp_path)
    (tmp_path / ".2013-01-01.csv.part").write_bytes(b"a,b\n1,2\n")
    (tmp_path / ".2013-01-01.csv.part").rename(tmp_path / "2013-01-01.csv")
    (tmp_path / "2013-01-02.csv").write_bytes(b"a,b\n")  # written in place
    (tmp_path / "2013-01-02.csv").rename(tmp_path / ".2013-01-02.csv.old")  # renamed away
    assert eventually(marker_path(tmp_path / "2013-01-01.csv").exists)
    time.sleep(0.3)  # the other events have been handled by now
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".2013-01-02.csv.old",
        "2013-01-01.csv",
        "2013-01-01.csv.done",
    ]


def test_a_folder_that_cannot_be_watched_is_left_to_the_quiet_period(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise OSError(24, "inotify instance limit reached")

    monkeypatch.setattr(BaseObserver, "schedule", refuse)
    watch = RenameWatch()
    with caplog.at_level(logging.WARNING):
        watch.watch(tmp_path)  # the sensor's tick goes on
        watch.watch(tmp_path)  # and is not tried (nor reported) again
    assert caplog.text.count("cannot watch") == 1
    (tmp_path / ".2013-01-01.csv.part").write_bytes(b"a,b\n")
    (tmp_path / ".2013-01-01.csv.part").rename(tmp_path / "2013-01-01.csv")
    assert not eventually(marker_path(tmp_path / "2013-01-01.csv").exists, seconds=0.5)
