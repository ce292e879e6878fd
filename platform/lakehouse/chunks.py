"""Bounded memory over long ranges: split a run's days into chunks of rows, and spill each
chunk's result to local files so only one chunk is ever held in memory.

A backfill is still one Dagster run and one step per asset (one set of events); only the work
inside the step is chunked.
"""

import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import polars as pl


def rows_per_day(frame: pl.DataFrame | pl.LazyFrame, column: str) -> dict[date, int]:
    """Rows of a frame per day of its Date `column` (a lazy frame reads that column only)."""
    return dict(frame.lazy().group_by(column).len().collect().iter_rows())


def day_chunks(
    days: Sequence[date], rows_per_day: Mapping[date, int], max_rows: int
) -> list[list[date]]:
    """Consecutive days, in order, grouped so each group holds at most `max_rows` rows (a day
    with more rows than that is a group of its own; a day with no count counts as empty).
    """
    chunks: list[list[date]] = []
    held = 0
    for day in sorted(days):
        rows = rows_per_day.get(day, 0)
        if chunks and held + rows <= max_rows:
            chunks[-1].append(day)
            held += rows
        else:
            chunks.append([day])
            held = rows
    return chunks


class Spill:
    """Frames written one by one to private Arrow IPC files, read back as one lazy scan.

    IPC, not Parquet: the files live for one step and are read back whole, and writing them
    costs a quarter of the CPU (a 1M-row chunk of the fact: 0.07 s against 0.24 s).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.parts: list[Path] = []

    def add(self, frame: pl.DataFrame) -> None:
        """Write one chunk's rows (in order, after the chunks before it)."""
        part = self.directory / f"part-{len(self.parts):05d}.arrow"
        frame.write_ipc(part, compression="lz4")
        self.parts.append(part)

    def scan(self, schema: pl.Schema | Mapping[str, pl.DataType]) -> pl.LazyFrame:
        """Every row written so far, in order; an empty frame of `schema` if none was.

        Raises:
            ValueError: the rows written do not have `schema`.
        """
        if not self.parts:
            return pl.LazyFrame(schema=schema)
        scan = pl.scan_ipc([str(p) for p in self.parts])
        found = scan.collect_schema()
        if found != pl.Schema(schema):
            msg = f"spilled rows have columns {found}, expected {schema}"
            raise ValueError(msg)
        return scan


@contextmanager
def spilled() -> Iterator[Spill]:
    """A spill in a private temporary folder (`TMPDIR`), removed on exit, failure included.
    Consume every scan of it before the block ends.
    """
    directory = Path(tempfile.mkdtemp(prefix="lakehouse-spill-"))
    try:
        yield Spill(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
