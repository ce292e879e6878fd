"""The landing zone: where delivery files live, how they are named, written and parsed.

Deliveries are never modified here. Parsing keeps every field as the text that was delivered;
typing belongs to the staged layer.
"""

import _csv
import codecs
import csv
import hashlib
import itertools
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import polars as pl

from lakehouse.sources import Source

CSV_SUFFIX = ".csv"
# A producer that cannot deliver under a hidden name and rename says a file is complete by
# writing an empty `<file>.done` beside it once the file is written (after any rewrite too).
COMPLETE_MARKER = ".done"
# A file that changed while it was read is read again this often, this far apart, before the
# run fails on it.
READ_ATTEMPTS = 3
READ_PAUSE_SECONDS = 0.5
LINEAGE_COLUMNS = ("_source_file", "_line_number", "_ingested_at", "_content_hash")
PARTITION_COLUMN = "_partition_date"
PARTITION_KEY = "_partition_key"  # a keyed source's file key (a stock symbol, say)
# What the raw layer reports as the delivery it holds for a day whose partition has no rows
# (a header-only delivery leaves no row to carry its hash).
EMPTY_PARTITION = "<empty>"
# A line that could not be split into fields is kept as a raw row: its text and the reason.
RAW_LINE = "_raw_line"
PARSE_ERROR = "_parse_error"


class LandingFileError(Exception):
    """A delivery that cannot be ingested; the message names the file, the line and the fix."""

    def __init__(self, source_file: str, problem: str, *, line: int | None = None) -> None:
        where = f"{source_file}:{line}" if line is not None else source_file
        super().__init__(f"{where}: {problem}")
        self.source_file = source_file
        self.line = line
        self.problem = problem


@dataclass(frozen=True)
class LandingFile:
    """A delivery file found in the landing zone."""

    source: str
    day: date
    path: Path

    @property
    def name(self) -> str:
        """The file's name relative to the landing root, as recorded in `_source_file`."""
        return f"{self.source}/{self.path.name}"


@dataclass(frozen=True)
class MalformedLine:
    """A delivered line that could not be split into the source's fields."""

    line_number: int
    text: str
    reason: str


@dataclass(frozen=True)
class Delivery:
    """A parsed delivery: its rows as text with lineage columns, plus the lines it could not
    split. Together they account for every line after the header.
    """

    rows: pl.DataFrame
    malformed: list[MalformedLine] = field(default_factory=list)


def landing_path(root: Path, source: str, day: date) -> Path:
    """Where the delivery of `source` for `day` lands."""
    return root / source / f"{day.isoformat()}{CSV_SUFFIX}"


def day_of(file_name: str) -> date | None:
    """The day a landing file is for, from its name (`2013-01-01.csv`); None if not so named."""
    path = Path(file_name)
    stem, suffix = path.stem, path.suffix
    if suffix != CSV_SUFFIX:
        return None
    try:
        return date.fromisoformat(stem) if len(stem) == len("YYYY-MM-DD") else None
    except ValueError:
        return None


def is_in_flight(file_name: str) -> bool:
    """Hidden names are files still being written (our producer's temp files start with '.')."""
    return file_name.startswith(".")


def may_be_delivery(file_name: str) -> bool:
    """Whether a landing folder's entry may be a delivery: neither a file still being written
    nor a completion marker.
    """
    return not is_in_flight(file_name) and not file_name.endswith(COMPLETE_MARKER)


def marker_path(path: Path) -> Path:
    """The completion marker of a delivery file (`2013-01-01.csv.done`)."""
    return path.with_name(path.name + COMPLETE_MARKER)


def marker_mtime_ns(path: Path) -> int | None:
    """When the delivery's completion marker was written; None if it has none."""
    try:
        return marker_path(path).stat().st_mtime_ns
    except FileNotFoundError:
        return None


def is_complete(mtime_ns: int, marker_ns: int | None, *, now_ns: int, quiet_ns: int) -> bool:
    """Whether a delivery may be read: its completion marker was written after its last change,
    or it has been untouched for the quiet period (for producers that write no marker).

    A file that merely looks the same twice is not complete: a writer that pauses longer than
    a sensor tick would get half its file ingested.
    """
    marked = marker_ns is not None and marker_ns >= mtime_ns
    return marked or now_ns - mtime_ns >= quiet_ns


def incomplete(files: Sequence[LandingFile], *, now_ns: int, quiet_ns: int) -> str | None:
    """Why some of `files` cannot be read yet (they may still be being written), naming them
    and what to do; None when all are complete.
    """
    waiting = []
    for file in files:
        mtime = file.path.stat().st_mtime_ns
        if not is_complete(mtime, marker_mtime_ns(file.path), now_ns=now_ns, quiet_ns=quiet_ns):
            waiting.append(f"{file.name} (changed {max(now_ns - mtime, 0) / 1e9:.1f} s ago)")
    if not waiting:
        return None
    return (
        f"{len(waiting)} delivery file(s) may still be being written: {', '.join(waiting[:3])}"
        f"{' and more' if len(waiting) > 3 else ''}. A file is taken once its completion marker "
        f"(<file>{COMPLETE_MARKER}) is newer than it, or once it has been untouched for "
        f"{quiet_ns / 1e9:g} s (LAKEHOUSE_LANDING_QUIET_SECONDS); run again then"
    )


@dataclass(frozen=True)
class Listing:
    """The landing folder of one source: complete date-named deliveries, oldest day first, and
    the names of files that are not named as a delivery.
    """

    files: list[LandingFile]
    unrecognized: list[str]


def list_landing_files(root: Path, source: str) -> Listing:
    """List the deliveries of `source`, skipping files still being written."""
    folder = root / source
    if not folder.is_dir():
        return Listing(files=[], unrecognized=[])
    files, unrecognized = [], []
    for entry in sorted(folder.iterdir()):
        if not may_be_delivery(entry.name) or not entry.is_file():
            continue
        day = day_of(entry.name)
        if day is None:
            unrecognized.append(entry.name)
        else:
            files.append(LandingFile(source=source, day=day, path=entry))
    return Listing(files=sorted(files, key=lambda f: f.day), unrecognized=unrecognized)


def content_hash(data: bytes) -> str:
    """The SHA-256 of a delivery's bytes: its identity for idempotent re-delivery."""
    return hashlib.sha256(data).hexdigest()


def write_atomic(path: Path, data: bytes, *, again: bool = False, mark: bool = True) -> bool:
    """Write `data` to `path` so that readers see the old file or the whole new one, then its
    completion marker, so the landing sensor takes it at once.

    Args:
        path: The file.
        data: Its new bytes.
        again: Write even when the file holds these bytes already (a duplicated delivery).
        mark: Write the completion marker (`<file>.done`); False for a file that is not a
            delivery.

    Returns:
        False if the file already held exactly these bytes and nothing was written.
    """
    if not again and path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if mark:
        # Written after the rename, so its mtime is never older than the file's.
        marker_path(path).touch()
    return True


def read_whole(path: Path, source_file: str) -> bytes:
    """A file's bytes, read only if it held still while it was read: the same inode, size and
    mtime before and after, and as many bytes as it says. A file that changed is read again
    (`READ_ATTEMPTS`, `READ_PAUSE_SECONDS` apart).

    Raises:
        LandingFileError: the file cannot be read, or it kept changing while it was read.
    """
    for attempt in range(1, READ_ATTEMPTS + 1):
        try:
            before = path.stat()
            data = path.read_bytes()
            after = path.stat()
        except OSError as error:
            msg = f"cannot be read ({error.strerror}); check the file's permissions"
            raise LandingFileError(source_file, msg) from error
        look = (after.st_ino, after.st_size, after.st_mtime_ns)
        if look == (before.st_ino, before.st_size, before.st_mtime_ns) and len(data) == look[1]:
            return data
        if attempt < READ_ATTEMPTS:
            time.sleep(READ_PAUSE_SECONDS)
    msg = (
        f"changed while it was read ({before.st_size:,} -> {after.st_size:,} bytes; "
        f"{READ_ATTEMPTS} attempts): it is still being written. Deliver it under a hidden name "
        f"and rename it when complete, or write {path.name}{COMPLETE_MARKER} once it is; "
        "then run again"
    )
    raise LandingFileError(source_file, msg)


def read_delivery(file: LandingFile, source: Source, *, ingested_at: datetime) -> pl.DataFrame:
    """Read one landing file as raw rows: one per line after the header, in line order.

    Split lines carry their fields as text; a line that could not be split carries its text in
    `_raw_line` and the reason in `_parse_error` (fields null), so nothing delivered is lost.
    Every row gets the lineage and partition columns.
    """
    data = read_whole(file.path, file.name)
    rows = parse_rows(data, source, source_file=file.name)
    return rows.with_columns(
        constant("_source_file", file.name, pl.String(), rows.height),
        constant("_ingested_at", ingested_at, pl.Datetime("us", "UTC"), rows.height),
        constant("_content_hash", content_hash(data), pl.String(), rows.height),
        constant(PARTITION_COLUMN, file.day, pl.Date(), rows.height),
    ).select(*source.columns, *LINEAGE_COLUMNS, RAW_LINE, PARSE_ERROR, PARTITION_COLUMN)


def constant(name: str, value: object, dtype: pl.DataType, rows: int) -> pl.Series:
    """A column holding `value` on each of `rows` rows. Broadcasting a literal costs far more
    (a 50x day of flights: ~8 ms per text column against ~0.1 ms).
    """
    return pl.Series(name, [value], dtype=dtype).new_from_index(0, rows)


def parse_rows(data: bytes, source: Source, *, source_file: str) -> pl.DataFrame:
    """Raw rows of a delivery: Polars' CSV reader for a plain file (`parse_plain`), the exact
    Python path for any other (`parse_exact`); both give the same rows.

    Raises:
        LandingFileError: The file is empty or its header is not the source's header.
    """
    rows = parse_plain(data, source, source_file=source_file)
    return rows if rows is not None else parse_exact(data, source, source_file=source_file)


def parse_exact(data: bytes, source: Source, *, source_file: str) -> pl.DataFrame:
    """Raw rows of any delivery, line by line in Python (`parse_delivery`): the path for files
    `parse_plain` does not take (quoting, bytes that are not UTF-8, lines that do not split).

    Returns:
        The source columns as text, `_line_number`, `_raw_line` and `_parse_error`, one row
        per line after the header.

    Raises:
        LandingFileError: The file is empty or its header is not the source's header.
    """
    delivery = parse_delivery(data, source, source_file=source_file)
    rows = delivery.rows.with_columns(
        pl.lit(None, dtype=pl.String).alias(RAW_LINE),
        pl.lit(None, dtype=pl.String).alias(PARSE_ERROR),
    )
    if delivery.malformed:
        unsplit = pl.DataFrame(
            {
                "_line_number": [m.line_number for m in delivery.malformed],
                RAW_LINE: [m.text for m in delivery.malformed],
                PARSE_ERROR: [m.reason for m in delivery.malformed],
            },
            schema={"_line_number": pl.Int32, RAW_LINE: pl.String, PARSE_ERROR: pl.String},
        )
        rows = pl.concat([rows, unsplit], how="diagonal").sort("_line_number")
    return rows.select(*source.columns, "_line_number", RAW_LINE, PARSE_ERROR)


def parse_plain(data: bytes, source: Source, *, source_file: str) -> pl.DataFrame | None:
    """Raw rows of a plain delivery, split by Polars' CSV reader: no Python work per line.

    A file is plain when it is UTF-8, has no quote character, no carriage return except in
    CRLF line ends, no byte-order mark after its start, and every line after the header has
    exactly the source's number of fields. Then it yields the same rows as `parse_exact`.

    Returns:
        The rows as `parse_exact` returns them, or None if the file is not plain (or is empty):
        it must take the exact path.

    Raises:
        LandingFileError: The header is not the source's header.
    """
    if b'"' in data or not _is_utf8(data):
        return None
    header_end = data.find(b"\n")
    if header_end == -1:
        return None  # empty or header-only: nothing for the fast path to gain
    body = data[header_end + 1 :]
    # A byte-order mark is not ASCII, so only a file that is not ASCII is searched for one.
    if (not data.isascii() and codecs.BOM_UTF8 in body) or (
        b"\r" in data and data.count(b"\r") != data.count(b"\r\n")
    ):
        return None
    header_line = data[:header_end].decode("utf-8").removeprefix("\ufeff").removesuffix("\r")
    if not header_line.strip() and not body:
        return None  # a lone blank line: the exact path reports an empty file, not a bad header
    header = _check_header(header_line, source, source_file)
    if len(header) < 2:
        return None  # with one field per line, a blank line cannot be told by its separators
    lines = body.count(b"\n") + (bool(body) and not body.endswith(b"\n"))
    # No line may have more separators than the header (the reader raises on one), so this total
    # holds only if every line has exactly as many: a short or blank line sends the file away.
    if body.count(b",") != (len(header) - 1) * lines:
        return None
    try:
        fields = pl.read_csv(
            body,
            has_header=False,
            new_columns=header,
            schema=dict.fromkeys(header, pl.String),
            quote_char=None,
            empty_string_is_null=False,
            raise_if_empty=False,
        )
    # A line with more fields than the header: the reader raises one or the other, depending
    # on whether it is the first line.
    except (pl.exceptions.ComputeError, pl.exceptions.SchemaError):
        return None
    if fields.height != lines:
        return None
    return fields.select(
        *source.columns,
        pl.int_range(2, lines + 2, dtype=pl.Int32).alias("_line_number"),
        pl.lit(None, dtype=pl.String).alias(RAW_LINE),
        pl.lit(None, dtype=pl.String).alias(PARSE_ERROR),
    )


def _is_utf8(data: bytes) -> bool:
    if data.isascii():  # the common case, checked at memory speed
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def parse_delivery(data: bytes, source: Source, *, source_file: str) -> Delivery:
    """Split a delivery's bytes into rows of text, one per line after the header.

    Every field keeps the exact delivered text (`NA` stays `NA`, an empty field stays empty).
    Lines that cannot be split into the source's fields are returned as `malformed`, with the
    reason, rather than dropped.

    Args:
        data: The file's bytes.
        source: The source the file was delivered for (its header is checked against it).
        source_file: The file's name, for error messages.

    Returns:
        The rows (source columns as text plus `_line_number`) and the malformed lines.

    Raises:
        LandingFileError: The file is empty or its header is not the source's header.
    """
    lines, undecodable = _split_lines(data)
    if not lines or (len(lines) == 1 and not lines[0].strip()):
        msg = f"file is empty; expected a CSV header: {','.join(source.columns)}"
        raise LandingFileError(source_file, msg, line=1)
    if 1 in undecodable:
        raise LandingFileError(source_file, f"header {undecodable[1]}", line=1)
    header = _check_header(lines[0], source, source_file)
    malformed = [
        MalformedLine(number, lines[number - 1], reason) for number, reason in undecodable.items()
    ]
    body_start = 2
    if any('"' in line for line in lines):
        rows, bad = _split_quoted(lines, header, undecodable)
    else:
        rows, bad = _split_plain(lines[1:], header, body_start, undecodable)
    malformed = sorted(malformed + bad, key=lambda m: m.line_number)
    return Delivery(rows=rows.select(*source.columns, "_line_number"), malformed=malformed)


def _split_lines(data: bytes) -> tuple[list[str], dict[int, str]]:
    """Decode to lines; lines that are not UTF-8 are replaced by their repaired text and listed
    (1-based line number -> reason) so they can be reported instead of failing the whole file.
    """
    undecodable: dict[int, str] = {}
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        decoded = []
        for number, raw in enumerate(data.split(b"\n"), start=1):
            try:
                decoded.append(raw.decode("utf-8"))
            except UnicodeDecodeError as error:
                bad = raw[error.start : error.start + 1].hex()
                undecodable[number] = (
                    f"is not valid UTF-8 (byte 0x{bad} at column {error.start + 1})"
                )
                decoded.append(raw.decode("utf-8", errors="replace"))
        text = "\n".join(decoded)
    lines = text.removeprefix("\ufeff").split("\n")  # a byte-order mark is not part of the header
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    return [line.removesuffix("\r") for line in lines], undecodable


def _check_header(line: str, source: Source, source_file: str) -> list[str]:
    try:
        header = next(csv.reader([line], strict=True))
    except csv.Error as error:  # e.g. a carriage return inside the line
        msg = (
            f"header is not a CSV line ({error}); expected: {','.join(source.columns)}. "
            "Fix the file and deliver it again."
        )
        raise LandingFileError(source_file, msg, line=1) from error
    expected = set(source.columns)
    missing = [c for c in source.columns if c not in header]
    extra = [c for c in header if c not in expected]
    duplicated = sorted({c for c in header if header.count(c) > 1})
    problems = []
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    if extra:
        problems.append(f"unexpected column(s) {', '.join(extra)}")
    if duplicated:
        problems.append(f"duplicated column(s) {', '.join(duplicated)}")
    if problems:
        msg = (
            f"header does not match the {source.name} source: {'; '.join(problems)}. "
            f"Expected: {','.join(source.columns)}. Fix the file and deliver it again."
        )
        raise LandingFileError(source_file, msg, line=1)
    return header


def _split_plain(
    body: list[str], header: list[str], first_line: int, skip: dict[int, str]
) -> tuple[pl.DataFrame, list[MalformedLine]]:
    """Fast path for files without quoting: split every line on commas, vectorised."""
    width = len(header)
    frame = pl.DataFrame(
        {
            "_line_number": pl.int_range(first_line, first_line + len(body), eager=True),
            "_line": pl.Series(body, dtype=pl.String),
        },
        schema={"_line_number": pl.Int32, "_line": pl.String},
    ).filter(~pl.col("_line_number").is_in(list(skip)))
    fields = pl.col("_line").str.count_matches(",", literal=True) + 1
    frame = frame.with_columns(_fields=fields)
    ok = pl.col("_fields") == width
    bad = frame.filter(~ok)
    rows = (
        frame.filter(ok)
        .select(
            "_line_number",
            pl.col("_line").str.split_exact(",", width - 1).struct.rename_fields(header),
        )
        .unnest("_line")
    )
    malformed = [
        MalformedLine(number, line, _field_count_reason(line, fields_found, width))
        for number, line, fields_found in bad.select("_line_number", "_line", "_fields").iter_rows()
    ]
    return rows, malformed


def _split_quoted(
    lines: list[str], header: list[str], skip: dict[int, str]
) -> tuple[pl.DataFrame, list[MalformedLine]]:
    """Exact path for files with quoting: the csv module follows records across quoted newlines.

    Every physical line ends up in a row or in `malformed`. A record that spans lines but does
    not read as one (an unbalanced quote opens a field that runs on into the next lines, and
    the csv module either reaches the end of the file or ends the record with the wrong number
    of fields) is not taken whole: its first line, where the quote opened, is reported alone
    and the lines after it are read again from the next line on, so one stray quote costs one
    line, not the rest of the file.
    """
    width = len(header)
    columns: list[list[str]] = [[] for _ in header]
    numbers: list[int] = []
    malformed: list[MalformedLine] = []

    def report(first: int, last: int, reason: str) -> None:
        malformed.extend(
            MalformedLine(n, lines[n - 1], reason) for n in range(first, last + 1) if n not in skip
        )

    start = 2  # file line where the next record begins (line 1 is the header)
    reader, offset = _reader_from(lines, start)
    while True:
        problem = None
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            record, problem = [], f"unreadable CSV record: {error}"
        end = offset + reader.line_num
        if problem is None and len(record) != width:
            problem = _field_count_reason(lines[start - 1], len(record), width)
        if problem is not None and end > start:
            report(
                start,
                start,
                f"unbalanced quote: a quoted field runs past the end of the line ({problem})",
            )
            start += 1
            reader, offset = _reader_from(lines, start)
            continue
        if problem is not None:
            report(start, end, problem)
        elif any(n in skip for n in range(start, end + 1)):
            report(start, end, "part of a record with a line that is not valid UTF-8")
        else:
            numbers.append(start)
            for column, value in zip(columns, record, strict=True):
                column.append(value)
        start = end + 1
    data: dict[str, pl.Series] = {
        "_line_number": pl.Series(numbers, dtype=pl.Int32),
        **{
            name: pl.Series(values, dtype=pl.String)
            for name, values in zip(header, columns, strict=True)
        },
    }
    return pl.DataFrame(data), malformed


def _reader_from(lines: list[str], first: int) -> tuple[_csv.Reader, int]:
    """A strict csv reader over the file's lines from line `first` (1-based) on, and the offset
    that turns its `line_num` into a file line number. Each line gets back its newline, so a
    blank line reads as an empty record, as on the plain path.
    """
    rest = (line + "\n" for line in itertools.islice(lines, first - 1, None))
    return csv.reader(rest, strict=True), first - 1


def _field_count_reason(line: str, found: int, expected: int) -> str:
    if not line.strip():
        return "blank line"
    return f"expected {expected} fields, found {found}"
