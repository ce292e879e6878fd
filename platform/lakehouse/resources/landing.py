"""The landing zone as a resource: which files a run reads, and reading them."""

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import polars as pl
from pydantic import Field

from lakehouse.landing import (
    LandingFile,
    LandingFileError,
    landing_path,
    list_landing_files,
    read_delivery,
)
from lakehouse.sources import Source


class LandingZone(dg.ConfigurableResource):
    """The folder deliveries land in: `<root>/<source>/<YYYY-MM-DD>.csv`."""

    root: str = Field(description="Root folder of the landing zone.")

    @property
    def path(self) -> Path:
        """The root as a Path."""
        return Path(self.root)

    def files(self, source: Source) -> list[LandingFile]:
        """Every complete delivery of a source, oldest first."""
        return list_landing_files(self.path, source.name).files

    def daily_files(self, source: Source, days: Sequence[date]) -> list[LandingFile]:
        """The delivery for each of `days`.

        Raises:
            LandingFileError: a day has no delivery; the message names the expected file.
        """
        files = [
            LandingFile(source.name, day, landing_path(self.path, source.name, day)) for day in days
        ]
        missing = [f for f in files if not f.path.exists()]
        if missing:
            shown = ", ".join(str(f.path) for f in missing[:3])
            msg = (
                f"no delivery for {len(missing)} day(s) of this run; expected {shown}"
                f"{' and more' if len(missing) > 3 else ''}. Land them (`lakehouse land`) or "
                "run only the days that arrived"
            )
            raise LandingFileError(source.name, msg)
        return files

    def snapshots(self, source: Source) -> list[LandingFile]:
        """Every dated snapshot of a reference source, oldest first.

        Raises:
            LandingFileError: no snapshot has been delivered; the message names where to put one.
        """
        files = self.files(source)
        if not files:
            msg = (
                f"no snapshot delivered; expected a file like "
                f"{landing_path(self.path, source.name, date(2013, 1, 1))} (`lakehouse land`)"
            )
            raise LandingFileError(source.name, msg)
        return files

    def read(self, source: Source, files: Sequence[LandingFile]) -> pl.DataFrame:
        """Raw rows from `files`, in delivery order: every line after each header, split or
        not (see `read_delivery`).

        Raises:
            LandingFileError: a file is unreadable, empty, or its header is not the source's.
        """
        return pl.concat([rows for _, rows in self.deliveries(source, files)], how="vertical")

    def deliveries(
        self, source: Source, files: Sequence[LandingFile]
    ) -> Iterator[tuple[LandingFile, pl.DataFrame]]:
        """Each file with its raw rows (see `read_delivery`), one file at a time, so a caller
        that writes them as they come holds one delivery, not the range. The rows share one
        `_ingested_at`.

        Raises:
            LandingFileError: a file is unreadable, empty, or its header is not the source's.
        """
        ingested_at = datetime.now(UTC)
        for file in files:
            yield file, read_delivery(file, source, ingested_at=ingested_at)
