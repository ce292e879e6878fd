"""Deliveries renamed into the landing zone are complete the moment they appear.

A producer that writes under a hidden name and renames the file into place (the landing
convention) has finished writing, but nothing in the file's timestamps says so: the rename sets
its change time to the same clock tick as its last write. The operating system does say so, as
a rename event (inotify on Linux, through watchdog). The landing sensors keep a watch on their
folders while their process lives, and a delivery renamed in gets its completion marker at
once, as if its producer had written one; every reader (sensor, run, catch-up schedule) then
judges it by the one marker rule. A rename the watch missed (the platform was down) is taken
after the quiet period, as a file written in place is.
"""

import contextlib
import logging
import threading
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

from lakehouse.landing import marker_path, may_be_delivery


class _MarkRenamedIn(FileSystemEventHandler):
    def on_moved(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            return
        path = Path(str(event.dest_path))
        if not may_be_delivery(path.name) or not path.is_file():
            return
        # A write after this makes the file newer than its marker, and incomplete again.
        marker_path(path).touch()


class RenameWatch:
    """Watches landing folders for deliveries renamed in, for the life of the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._observer: BaseObserver | None = None
        self._watches: dict[Path, ObservedWatch] = {}
        self._unwatchable: set[Path] = set()

    def watch(self, folder: Path) -> None:
        """Mark deliveries renamed into `folder` from now on (no-op once watched, or while the
        folder does not exist); watches of folders since removed are dropped.
        """
        folder = folder.resolve()
        with self._lock:
            if folder in self._watches or folder in self._unwatchable or not folder.is_dir():
                return
            try:
                if self._observer is None:
                    self._observer = Observer()
                    self._observer.start()
                for gone in [f for f in self._watches if not f.is_dir()]:
                    with contextlib.suppress(KeyError):  # its watch ended with the folder
                        self._observer.unschedule(self._watches.pop(gone))
                self._watches[folder] = self._observer.schedule(_MarkRenamedIn(), str(folder))
            except OSError as error:
                # No inotify here (its limits reached, a network file system): renamed files
                # are then taken after the quiet period, as files written in place are.
                self._unwatchable.add(folder)
                logging.getLogger(__name__).warning(
                    "cannot watch %s for renamed deliveries (%s); they are taken after the "
                    "quiet period (LAKEHOUSE_LANDING_QUIET_SECONDS)",
                    folder,
                    error,
                )


RENAMES = RenameWatch()
"""The process's watch: sensors of every source share it (one observer thread)."""
