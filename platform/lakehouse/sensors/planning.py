"""Pure planning for landing sensors: which deliveries are complete, new and readable, and which
runs they need.
"""

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

from lakehouse.dates import consecutive_spans
from lakehouse.landing import EMPTY_PARTITION, is_complete

CURSOR_VERSION = 4
# Version 2 also kept files seen once, waiting for a second identical look: that rule took a
# file whose writer paused longer than a tick. Versions 2 and 3 kept every file ever seen; they
# are read with no watermark (the next tick settles them and the cursor shrinks).
READABLE_VERSIONS = (2, 3, CURSOR_VERSION)


@dataclass(frozen=True)
class FileStat:
    """What a listing says about a file in a source's landing folder, without reading it.

    `day` is None when the name is not a delivery name (`YYYY-MM-DD.csv`); `marker_ns` is when
    its completion marker was written (None without one).
    """

    name: str
    day: date | None
    size: int
    mtime_ns: int
    marker_ns: int | None = None
    changed_ns: int | None = None  # the inode's change time: a rename or restore sets it

    @property
    def look(self) -> tuple[int, int]:
        """Size and modification time: a file whose look changed is read again."""
        return (self.size, self.mtime_ns)

    @property
    def arrived_ns(self) -> int:
        """When the file last changed in any way: written, renamed into place or restored
        (a file renamed in keeps the older mtime of its writing, but gets a new change time).
        """
        return max(self.mtime_ns, self.changed_ns or 0)


@dataclass(frozen=True)
class SeenFile:
    """A delivery the sensor has planned for."""

    size: int
    mtime_ns: int
    sha256: str


@dataclass(frozen=True)
class Rejected:
    """A file the sensor will not ingest, and why. One refused for its content is read again
    only once it changes; one refused for its name or day is judged again on every tick (the
    partition range may have been widened), but reported only once.
    """

    size: int
    mtime_ns: int
    reason: str
    for_content: bool = True


@dataclass(frozen=True)
class Inspection:
    """What reading a delivery found: its content hash, its rows (lines after the header), and
    a problem that makes the whole file unreadable (None when it can be ingested; bad lines
    inside it are the quarantine's).
    """

    sha256: str
    problem: str | None = None
    rows: int = 1

    def held_by(self, ingested: str | None) -> bool:
        """Whether the raw layer already holds this delivery (`ingested` is what it reports
        for the day: a content hash, `EMPTY_PARTITION`, or None).
        """
        return ingested == self.sha256 or (ingested == EMPTY_PARTITION and self.rows == 0)


@dataclass(frozen=True)
class LandingCursor:
    """The sensor's memory, saved with each tick's result; its size does not grow with the
    number of files ever landed.

    Attributes:
        files: Deliveries planned for (or found already ingested) that arrived after the
            watermark; older ones are forgotten.
        rejected: Files it refused, with the reason, until they change (bounded by the bad
            files present: a removed file is forgotten).
        watermark_ns: Every file that arrived (written, renamed in or restored) at or before
            this time was settled: it is not looked at again until it changes.
    """

    files: dict[str, SeenFile] = field(default_factory=dict)
    rejected: dict[str, Rejected] = field(default_factory=dict)
    watermark_ns: int = 0

    def to_json(self) -> str:
        """Serialise (versioned, so a later format can read or reset it)."""
        return json.dumps(
            {
                "version": CURSOR_VERSION,
                "watermark_ns": self.watermark_ns,
                "files": {
                    name: [seen.size, seen.mtime_ns, seen.sha256]
                    for name, seen in sorted(self.files.items())
                },
                "rejected": {
                    name: [refused.size, refused.mtime_ns, refused.reason, refused.for_content]
                    for name, refused in sorted(self.rejected.items())
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
        if data.get("version") not in READABLE_VERSIONS:
            msg = (
                f"landing cursor version {data.get('version')!r} is not {CURSOR_VERSION}; "
                "reset the sensor's cursor in the UI"
            )
            raise ValueError(msg)
        return cls(
            files={name: SeenFile(*entry) for name, entry in data["files"].items()},
            rejected={name: Rejected(*entry) for name, entry in data["rejected"].items()},
            watermark_ns=int(data.get("watermark_ns", 0)),
        )


@dataclass(frozen=True)
class PlannedRun:
    """One run over a contiguous range of days whose deliveries are new or changed."""

    start: date
    end: date
    files: tuple[str, ...]
    run_key: str


@dataclass(frozen=True)
class Plan:
    """What one tick decided.

    Attributes:
        runs: Runs to request, oldest days first.
        cursor: The cursor to save with them.
        rejected: Files refused on this tick (each is reported once, until it changes).
        waiting: Files that may still be being written (no completion marker newer than them,
            changed within the quiet period); looked at again next tick.
        deferred: Complete files left for a partner source's run to take along; looked at
            again next tick.
    """

    runs: list[PlannedRun]
    cursor: LandingCursor
    rejected: dict[str, str]
    waiting: list[str]
    deferred: list[str] = field(default_factory=list)


def plan_landing_runs(
    source: str,
    listing: Sequence[FileStat],
    cursor: LandingCursor,
    inspect: Callable[[str], Inspection],
    *,
    accepts: Callable[[date], str | None] = lambda _: None,
    ingested_hash: Callable[[FileStat], str | None] = lambda _: None,
    defer: Callable[[FileStat], bool] = lambda _: False,
    now_ns: int,
    quiet_ns: int,
) -> Plan:
    """Decide which runs the current listing needs and what the cursor becomes.

    A file is considered only once complete (`is_complete`): its completion marker is newer
    than it, or it has been untouched for `quiet_ns`. It is read only when its size or mtime
    changed since the cursor saw it, and it needs a run only when its content differs from
    what the cursor last saw. A file whose name is not a day, whose day is refused by
    `accepts`, or that `inspect` finds unreadable is rejected with the reason, once. Files for
    consecutive days are grouped into one run, whose key derives from the contents and
    delivery times, so the same delivery never starts two runs, and a tick that crashed before
    saving its cursor plans the same keys again (Dagster starts one run per key).

    Args:
        source: Source name, part of each run key.
        listing: The files present now (names not starting with '.', markers left out).
        cursor: What earlier ticks saw.
        inspect: Reads a file by name: its SHA-256 and any file-level problem.
        accepts: Why a delivery day cannot be a partition (None when it can).
        ingested_hash: The SHA-256 of the delivery the raw layer already holds for a file's
            day, if any: a file it matches needs no run (e.g. `make run` ingested it before
            the sensor first looked).
        defer: Whether a complete file is left, for now, to another sensor's run (it is
            then judged again next tick, as a file still being written is).
        now_ns: The current time, in the same clock as the mtimes.
        quiet_ns: How long a file without a completion marker must be untouched to be
            complete.
    """
    seen, rejected = dict(cursor.files), dict(cursor.rejected)
    new_rejections: dict[str, str] = {}
    waiting: list[str] = []
    deferred: list[str] = []
    changed: list[tuple[date, str, str]] = []  # (day, file, sha256 + delivery mtime)
    settled_ns = cursor.watermark_ns  # the latest arrival settled (or already behind the mark)

    def reject(stat: FileStat, reason: str, *, for_content: bool) -> None:
        seen.pop(stat.name, None)
        before = rejected.get(stat.name)
        if before is None or (before.size, before.mtime_ns, before.reason) != (*stat.look, reason):
            new_rejections[stat.name] = reason
        rejected[stat.name] = Rejected(stat.size, stat.mtime_ns, reason, for_content)

    present = {stat.name for stat in listing}
    for stat in sorted(listing, key=lambda s: (s.day or date.max, s.name)):
        refused = rejected.get(stat.name)
        judged_by_name = refused is not None and not refused.for_content
        if stat.arrived_ns <= cursor.watermark_ns and not judged_by_name:
            continue  # settled on an earlier tick and unchanged since
        before = seen.get(stat.name)
        if before is not None and (before.size, before.mtime_ns) == stat.look:
            settled_ns = max(settled_ns, stat.arrived_ns)
            continue
        if stat.day is None:
            reject(stat, "not named as a delivery day (YYYY-MM-DD.csv)", for_content=False)
            continue
        if (outside := accepts(stat.day)) is not None:
            reject(stat, outside, for_content=False)
            continue
        if (
            refused is not None
            and refused.for_content
            and (refused.size, refused.mtime_ns) == stat.look
        ):
            settled_ns = max(settled_ns, stat.arrived_ns)
            continue
        if not is_complete(stat.mtime_ns, stat.marker_ns, now_ns=now_ns, quiet_ns=quiet_ns):
            waiting.append(stat.name)
            continue
        if defer(stat):
            deferred.append(stat.name)
            continue
        found = inspect(stat.name)
        settled_ns = max(settled_ns, stat.arrived_ns)
        if found.problem is not None:
            reject(stat, found.problem, for_content=True)
            continue
        rejected.pop(stat.name, None)
        seen[stat.name] = SeenFile(stat.size, stat.mtime_ns, found.sha256)
        if before is None and found.held_by(ingested_hash(stat)):
            continue
        if before is None or before.sha256 != found.sha256:
            # The key names the content it replaces and when the file arrived, so a delivery
            # that reverts to earlier bytes (even with its old mtime restored: the restore is a
            # new change time) is a new key, while a re-plan of the same delivery after a crash
            # repeats its key and Dagster starts it once.
            previous = before.sha256[:16] if before is not None else "-"
            arrival = f"{previous}>{found.sha256}@{stat.arrived_ns}"
            changed.append((stat.day, stat.name, arrival))
    # The mark moves to the latest arrival settled, but never past a file still being written.
    arrivals = {stat.name: stat.arrived_ns for stat in listing}
    unsettled = [arrivals[name] for name in (*waiting, *deferred)]
    watermark = min([settled_ns, *(t - 1 for t in unsettled)])
    watermark = max(watermark, cursor.watermark_ns)
    # A file that disappeared is forgotten, so delivering it again is new; one behind the mark
    # is forgotten too (it is not looked at again until it changes, which moves it past it).
    after = LandingCursor(
        files={n: s for n, s in seen.items() if n in present and arrivals[n] > watermark},
        rejected={
            n: r
            for n, r in rejected.items()
            if n in present and (not r.for_content or arrivals[n] > watermark)
        },
        watermark_ns=watermark,
    )
    return Plan(_group_consecutive(source, changed), after, new_rejections, waiting, deferred)


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


def missed_days(
    deliveries: dict[date, Inspection], ingested_hash: Callable[[date], str | None]
) -> list[date]:
    """Days whose delivery is not what the raw layer holds: never ingested, or re-delivered
    since. The safety net for anything a sensor missed.
    """
    return sorted(day for day, found in deliveries.items() if not found.held_by(ingested_hash(day)))
