"""Pure planning for landing sensors: which deliveries are new, and which runs they need."""

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

from lakehouse.dates import consecutive_spans

CURSOR_VERSION = 1


@dataclass(frozen=True)
class FileStat:
    """What a listing says about a delivery file, without reading it."""

    name: str
    day: date
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class SeenFile:
    """What the sensor recorded about a file it has planned for."""

    size: int
    mtime_ns: int
    sha256: str


@dataclass(frozen=True)
class LandingCursor:
    """The sensor's memory: the files it has already planned runs for."""

    files: dict[str, SeenFile] = field(default_factory=dict)

    def to_json(self) -> str:
        """Serialise (versioned, so a later format can read or reset it)."""
        return json.dumps(
            {
                "version": CURSOR_VERSION,
                "files": {
                    name: [seen.size, seen.mtime_ns, seen.sha256]
                    for name, seen in sorted(self.files.items())
                },
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | None) -> "LandingCursor":
        """Parse a cursor; no cursor is an empty one.

        Raises:
            ValueError: the cursor was written by an unknown format version.
        """
        if not text:
            return cls()
        data = json.loads(text)
        if data.get("version") != CURSOR_VERSION:
            msg = (
                f"landing cursor version {data.get('version')!r} is not {CURSOR_VERSION}; "
                "reset the sensor's cursor in the UI"
            )
            raise ValueError(msg)
        return cls(files={name: SeenFile(*entry) for name, entry in data["files"].items()})


@dataclass(frozen=True)
class PlannedRun:
    """One run over a contiguous range of days whose deliveries are new or changed."""

    start: date
    end: date
    files: tuple[str, ...]
    run_key: str


def plan_landing_runs(
    source: str,
    listing: Sequence[FileStat],
    cursor: LandingCursor,
    content_hash: Callable[[str], str],
    ingested_hash: Callable[[FileStat], str | None] = lambda _: None,
) -> tuple[list[PlannedRun], LandingCursor]:
    """Decide which runs the current listing needs and what the cursor becomes.

    A file is hashed only when its size or mtime changed since the cursor saw it; it needs a run
    only when its content differs from what the cursor last saw. Files for consecutive days are
    grouped into one run, whose key derives from the contents and delivery times, so the same
    delivery never starts two runs.

    Args:
        source: Source name, part of each run key.
        listing: The delivery files present now.
        cursor: What earlier ticks planned for.
        content_hash: Reads a file by name and returns its SHA-256.
        ingested_hash: The SHA-256 of the delivery the raw layer already holds for a file's
            day, if any: a file it matches needs no run (e.g. `make run` ingested it before
            the sensor first looked).

    Returns:
        The runs to request, oldest days first, and the new cursor.
    """
    seen = dict(cursor.files)
    changed: list[tuple[date, str, str]] = []  # (day, file, sha256 + delivery mtime)
    for stat in sorted(listing, key=lambda s: s.day):
        before = seen.get(stat.name)
        if before is not None and (before.size, before.mtime_ns) == (stat.size, stat.mtime_ns):
            continue
        sha = content_hash(stat.name)
        seen[stat.name] = SeenFile(stat.size, stat.mtime_ns, sha)
        if before is None and sha == ingested_hash(stat):
            continue
        if before is None or before.sha256 != sha:
            # The mtime makes a delivery that reverts to earlier bytes a new run key (Dagster
            # starts one run per key), while a re-plan of the same delivery after a crash
            # repeats its key and is deduplicated.
            changed.append((stat.day, stat.name, f"{sha}@{stat.mtime_ns}"))
    return _group_consecutive(source, changed), LandingCursor(files=seen)


def _group_consecutive(source: str, changed: list[tuple[date, str, str]]) -> list[PlannedRun]:
    runs = []
    for start, end in consecutive_spans([day for day, _, _ in changed]):
        group = [(name, sha) for day, name, sha in changed if start <= day <= end]
        digest = hashlib.sha256("".join(sha for _, sha in group).encode()).hexdigest()[:16]
        runs.append(
            PlannedRun(
                start=start,
                end=end,
                files=tuple(name for name, _ in group),
                run_key=f"{source}:{start.isoformat()}..{end.isoformat()}:{digest}",
            )
        )
    return runs
