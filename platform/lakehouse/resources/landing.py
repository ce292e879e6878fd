"""The landing zone as a resource: which files a run reads, and reading them."""

import time
from collections import deque
from collections.abc import Generator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import ClassVar

import dagster as dg
import polars as pl
from pydantic import Field

from lakehouse.declarations import SourceSpec
from lakehouse.landing import (
    LandingFile,
    LandingFileError,
    incomplete,
    landing_path,
    list_landing_files,
    read_delivery,
)
from lakehouse.periods import FilePartition, file_name
from lakehouse.sources import Source


class LandingZone(dg.ConfigurableResource):
    """The folder deliveries land in: `<root>/<source>/<YYYY-MM-DD>.csv`."""

    root: str = Field(description="Root folder of the landing zone.")
    quiet_seconds: float = Field(
        default=60.0,
        description="How long a delivery without a completion marker (<file>.done) must be "
        "untouched before it is read: it may still be being written until then.",
    )
    # Files parsed at once by `deliveries` (on 2 cores: ~1.5 s less per 50x year than one).
    PARSERS: ClassVar[int] = 3

    @property
    def path(self) -> Path:
        """The root as a Path."""
        return Path(self.root)

    @property
    def quiet_ns(self) -> int:
        """The quiet period in nanoseconds, the clock of file modification times."""
        return int(self.quiet_seconds * 1_000_000_000)

    def check_complete(self, files: Sequence[LandingFile]) -> None:
        """Refuse to read files that may still be being written.

        Raises:
            LandingFileError: a file has no completion marker newer than it and changed within
                the quiet period; the message names it and says when it will be taken.
        """
        problem = incomplete(files, now_ns=time.time_ns(), quiet_ns=self.quiet_ns)
        if problem is not None:
            raise LandingFileError(files[0].source, problem)

    def files(self, source: Source) -> list[LandingFile]:
        """Every complete delivery of a source, oldest first."""
        return list_landing_files(self.path, source.name).files

    def daily_files(self, source: Source, days: Sequence[date]) -> list[LandingFile]:
        """The delivery for each of `days`.

        Raises:
            LandingFileError: a day has no delivery, or a file may still be being written; the
                message names every such file (`ready_daily_files`).
        """
        files, problems = self.ready_daily_files(source, days)
        if problems:
            raise LandingFileError(source.name, "; ".join(problems[d] for d in sorted(problems)))
        return files

    def ready_daily_files(
        self, source: Source, days: Sequence[date]
    ) -> tuple[list[LandingFile], dict[date, str]]:
        """The delivery of each of `days` that can be read now, and for every other day why
        not (no delivery, or one that may still be being written), so a run can name them all.
        """
        now_ns = time.time_ns()
        ready: list[LandingFile] = []
        problems: dict[date, str] = {}
        for day in days:
            file = LandingFile(source.name, day, landing_path(self.path, source.name, day))
            if not file.path.exists():
                problems[day] = f"{file.path}: no delivery. Land it (`lakehouse land`)"
            elif (waiting := incomplete([file], now_ns=now_ns, quiet_ns=self.quiet_ns)) is not None:
                problems[day] = f"{source.name}: {waiting}"
            else:
                ready.append(file)
        return ready, problems

    def partition_files(
        self, spec: SourceSpec, partitions: Sequence[FilePartition]
    ) -> dict[FilePartition, LandingFile]:
        """The delivery of each partition of a monthly or keyed source that has one.

        A keyed source is sparse by nature (a stock not yet listed, a meter not yet installed):
        its partitions without a delivery are left out. A monthly source without keys needs
        every one.

        Raises:
            LandingFileError: a monthly partition has no delivery, or a file may still be being
                written; the message names the files.
        """
        files = {
            p: LandingFile(spec.name, p.period, self.path / spec.name / file_name(spec, p))
            for p in partitions
        }
        missing = [f for f in files.values() if not f.path.exists()]
        if spec.partitions.keys is not None:
            present = {p: f for p, f in files.items() if f.path.exists()}
            self.check_complete(list(present.values()))
            return present
        if missing:
            shown = ", ".join(str(f.path) for f in missing[:3])
            msg = (
                f"no delivery for {len(missing)} partition(s) of this run; expected {shown}"
                f"{' and more' if len(missing) > 3 else ''}. Land them (`lakehouse land --from`) "
                "or run only the partitions that arrived"
            )
            raise LandingFileError(spec.name, msg)
        self.check_complete(list(files.values()))
        return files

    def snapshots(self, source: Source) -> list[LandingFile]:
        """Every dated snapshot of a reference source, oldest first.

        Raises:
            LandingFileError: no snapshot has been delivered (the message names where to put
                one), or one may still be being written.
        """
        files = self.files(source)
        if not files:
            msg = (
                f"no snapshot delivered; expected a file like "
                f"{landing_path(self.path, source.name, date(2013, 1, 1))} (`lakehouse land`)"
            )
            raise LandingFileError(source.name, msg)
        self.check_complete(files)
        return files

    def read(self, source: Source, files: Sequence[LandingFile]) -> pl.DataFrame:
        """Raw rows from `files`, in delivery order: every line after each header, split or
        not (see `read_delivery`).

        Raises:
            LandingFileError: a file is unreadable, empty, or its header is not the source's.
        """
        return pl.concat([rows for _, rows in self.deliveries(source, files)], how="vertical")

    def deliveries(
        self,
        source: Source,
        files: Sequence[LandingFile],
        refused: dict[LandingFile, LandingFileError] | None = None,
    ) -> Generator[tuple[LandingFile, pl.DataFrame], None, None]:
        """Each file with its raw rows (see `read_delivery`), in order, so a caller that writes
        them as they come holds a few deliveries, not the range. The rows share one
        `_ingested_at`.

        `PARSERS` files are read side by side: one file's parse keeps only ~1.3 cores busy
        (its Python checks hold the GIL and Polars' CSV reader splits lines on one thread).

        Args:
            source: The source the files were delivered for.
            files: The deliveries to read, in order.
            refused: Where to put each file that cannot be read, with its error, and go on
                with the next (None: raise on the first).

        Raises:
            LandingFileError: without `refused`, a file is unreadable, empty, or its header is
                not the source's (when its turn comes: the files before it are yielded first).
        """

        def taken(file: LandingFile, read: Future[pl.DataFrame]) -> pl.DataFrame | None:
            try:
                return read.result()
            except LandingFileError as error:
                if refused is None:
                    raise
                refused[file] = error
                return None

        ingested_at = datetime.now(UTC)
        with ThreadPoolExecutor(self.PARSERS, thread_name_prefix="landing-parser") as parsers:
            # At most one file per parser is submitted, so none waits in the pool's queue: a
            # failed file or a caller that stops early leaves only running parses to finish.
            reading: deque[tuple[LandingFile, Future[pl.DataFrame]]] = deque()
            for file in files:
                read = parsers.submit(read_delivery, file, source, ingested_at=ingested_at)
                reading.append((file, read))
                if len(reading) == self.PARSERS:
                    done, read = reading.popleft()
                    if (rows := taken(done, read)) is not None:
                        yield done, rows
            while reading:
                done, read = reading.popleft()
                if (rows := taken(done, read)) is not None:
                    yield done, rows
