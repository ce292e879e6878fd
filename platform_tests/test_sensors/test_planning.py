import functools
from collections.abc import Callable
from datetime import date

import pytest

from lakehouse.landing import EMPTY_PARTITION
from lakehouse.sensors.planning import (
    FileStat,
    Inspection,
    LandingCursor,
    Plan,
    PlannedRun,
    Rejected,
    SeenFile,
    plan_landing_runs,
)

QUIET_NS = 60 * 1_000_000_000
NOW = 10 * QUIET_NS  # every stat below is older than the quiet period unless it says otherwise
plan = functools.partial(plan_landing_runs, quiet_ns=QUIET_NS)


def stat(day: int, size: int = 10, mtime: int = 1, changed: int | None = None) -> FileStat:
    return FileStat(f"2013-01-{day:02d}.csv", date(2013, 1, day), size, mtime, None, changed)


class Hasher:
    """A fake reader: content hash per file, optional file-level problems; records reads."""

    def __init__(self, contents: dict[str, str], problems: dict[str, str] | None = None) -> None:
        self.contents = contents
        self.problems = problems or {}
        self.read: list[str] = []

    def __call__(self, name: str) -> Inspection:
        self.read.append(name)
        return Inspection(self.contents[name], self.problems.get(name))


def plan_old_files(
    source: str,
    listing: list[FileStat],
    cursor: LandingCursor,
    hasher: Hasher,
    ingested_hash: Callable[[FileStat], str | None] = lambda _: None,
) -> tuple[list[PlannedRun], LandingCursor]:
    """The runs and cursor of a tick, for files all older than the quiet period."""
    result = plan(source, listing, cursor, hasher, ingested_hash=ingested_hash, now_ns=NOW)
    return result.runs, result.cursor


def test_new_files_on_consecutive_days_become_one_range_run() -> None:
    hasher = Hasher({"2013-01-01.csv": "a", "2013-01-02.csv": "b", "2013-01-05.csv": "c"})
    runs, cursor = plan_old_files("flights", [stat(2), stat(1), stat(5)], LandingCursor(), hasher)
    assert [(r.start.day, r.end.day, r.files) for r in runs] == [
        (1, 2, ("2013-01-01.csv", "2013-01-02.csv")),
        (5, 5, ("2013-01-05.csv",)),
    ]
    assert runs[0].run_key.startswith("flights:2013-01-01..2013-01-02:")
    # Settled files are behind the watermark: the cursor keeps none of them.
    assert cursor == LandingCursor(watermark_ns=1)


def test_an_unchanged_file_is_not_read_again_nor_run() -> None:
    cursor = LandingCursor({"2013-01-01.csv": SeenFile(10, 1, "a")})
    hasher = Hasher({})
    runs, after = plan_old_files("flights", [stat(1)], cursor, hasher)
    assert runs == []
    assert hasher.read == []
    assert after == LandingCursor(watermark_ns=1)
    runs, _ = plan_old_files("flights", [stat(1)], after, hasher)
    assert (runs, hasher.read) == ([], [])


def test_a_touched_file_with_the_same_content_is_not_run() -> None:
    cursor = LandingCursor({"2013-01-01.csv": SeenFile(10, 1, "a")})
    runs, after = plan_old_files(
        "flights", [stat(1, mtime=2)], cursor, Hasher({"2013-01-01.csv": "a"})
    )
    assert runs == []
    assert after.watermark_ns == 2


def test_a_redelivered_file_with_new_content_gets_a_new_run_key() -> None:
    first, cursor = plan_old_files(
        "flights", [stat(1)], LandingCursor(), Hasher({"2013-01-01.csv": "a"})
    )
    second, _ = plan_old_files(
        "flights", [stat(1, size=12, mtime=2)], cursor, Hasher({"2013-01-01.csv": "b"})
    )
    assert len(second) == 1
    assert second[0].run_key != first[0].run_key


def test_the_cursor_round_trips_through_json() -> None:
    cursor = LandingCursor({"2013-01-01.csv": SeenFile(10, 1, "a")})
    assert LandingCursor.from_json(cursor.to_json()) == cursor
    assert LandingCursor.from_json(None) == LandingCursor()


def test_a_full_cursor_round_trips_through_json() -> None:
    cursor = LandingCursor(
        files={"2013-01-01.csv": SeenFile(10, 1, "a")},
        rejected={"notes.txt": Rejected(3, 4, "not named as a delivery day")},
    )
    assert LandingCursor.from_json(cursor.to_json()) == cursor


def test_a_version_2_cursor_is_read_without_its_files_waiting_for_a_second_look() -> None:
    saved = (
        '{"version":2,"files":{"2013-01-01.csv":[10,1,"a"]},'
        '"pending":{"2013-01-02.csv":[5,7]},"rejected":{}}'
    )
    assert LandingCursor.from_json(saved) == LandingCursor({"2013-01-01.csv": SeenFile(10, 1, "a")})


def test_a_cursor_of_another_version_is_refused() -> None:
    with pytest.raises(ValueError, match="version 99"):
        LandingCursor.from_json('{"version": 99, "files": {}}')


@pytest.mark.parametrize("restored_mtime", [3, 1], ids=["new mtime", "old mtime (cp -p)"])
def test_a_delivery_reverting_to_earlier_bytes_is_a_new_run(restored_mtime: int) -> None:
    """A -> B -> A: the third run key must differ from the first, even when A comes back with
    its original mtime, or Dagster would drop the run and raw would keep B.
    """
    contents = {"2013-01-01.csv": "a"}
    first, cursor = plan_old_files("flights", [stat(1, 10, 1)], LandingCursor(), Hasher(contents))
    contents["2013-01-01.csv"] = "b"
    _, cursor = plan_old_files("flights", [stat(1, 12, 2)], cursor, Hasher(contents))
    contents["2013-01-01.csv"] = "a"
    restored = stat(1, 10, restored_mtime, changed=3)  # a restore is a new change time
    third, _ = plan_old_files("flights", [restored], cursor, Hasher(contents))
    assert len(third) == 1
    assert third[0].run_key != first[0].run_key


def test_replanning_the_same_delivery_repeats_its_run_key() -> None:
    """A tick that crashed before saving its cursor plans again; Dagster dedupes the key."""
    hasher = Hasher({"2013-01-01.csv": "a"})
    first, _ = plan_old_files("flights", [stat(1)], LandingCursor(), hasher)
    again, _ = plan_old_files("flights", [stat(1)], LandingCursor(), hasher)
    assert first == again


def test_a_delivery_the_raw_layer_already_holds_needs_no_run() -> None:
    hasher = Hasher({"2013-01-01.csv": "a", "2013-01-02.csv": "b"})
    held = {date(2013, 1, 1): "a", date(2013, 1, 2): "old"}
    runs, cursor = plan_old_files(
        "flights",
        [stat(1), stat(2)],
        LandingCursor(),
        hasher,
        ingested_hash=lambda s: held.get(s.day),
    )
    assert [r.files for r in runs] == [("2013-01-02.csv",)]
    assert cursor == LandingCursor(watermark_ns=1)


def recent(day: int, size: int = 10) -> FileStat:
    """A file written just now: not yet trusted complete."""
    return stat(day, size, mtime=NOW - 1)


def test_a_recent_file_waits_for_the_quiet_period_however_often_it_looks_the_same() -> None:
    """A writer that pauses longer than a tick leaves a file that looks the same twice: it is
    still not complete until it has been untouched for the quiet period.
    """
    hasher = Hasher({"2013-01-01.csv": "a"})
    first = plan("flights", [recent(1, size=5)], LandingCursor(), hasher, now_ns=NOW)
    assert (first.runs, first.waiting, hasher.read) == ([], ["2013-01-01.csv"], [])
    again = plan("flights", [recent(1, size=5)], first.cursor, hasher, now_ns=NOW)
    assert (again.runs, again.waiting, hasher.read) == ([], ["2013-01-01.csv"], [])
    quiet = plan("flights", [recent(1, size=5)], again.cursor, hasher, now_ns=NOW + QUIET_NS)
    assert [r.files for r in quiet.runs] == [("2013-01-01.csv",)]
    assert quiet.waiting == []


@pytest.mark.parametrize(
    ("marker_ns", "taken"),
    [(NOW - 1, True), (NOW, True), (NOW - 2, False), (None, False)],
    ids=["marker-after-file", "marker-same-time", "marker-before-a-rewrite", "no-marker"],
)
def test_a_completion_marker_newer_than_the_file_makes_it_complete_at_once(
    marker_ns: int | None, taken: bool
) -> None:
    marked = FileStat("2013-01-01.csv", date(2013, 1, 1), 10, NOW - 1, marker_ns)
    result = plan("flights", [marked], LandingCursor(), Hasher({"2013-01-01.csv": "a"}), now_ns=NOW)
    assert (len(result.runs), result.waiting) == ((1, []) if taken else (0, ["2013-01-01.csv"]))


def test_misnamed_out_of_range_and_unreadable_files_are_rejected_once_until_they_change() -> None:
    listing = [
        FileStat("notes.txt", None, 3, 1),
        stat(1),
        FileStat("2015-01-01.csv", date(2015, 1, 1), 3, 1),
    ]
    hasher = Hasher({"2013-01-01.csv": "a"}, problems={"2013-01-01.csv": "file is empty"})

    def accepts(day: date) -> str | None:
        return None if day.year == 2013 else "day outside the partition range"

    first = plan("flights", listing, LandingCursor(), hasher, accepts=accepts, now_ns=NOW)
    assert first.runs == []
    assert first.rejected == {
        "notes.txt": "not named as a delivery day (YYYY-MM-DD.csv)",
        "2013-01-01.csv": "file is empty",
        "2015-01-01.csv": "day outside the partition range",
    }
    again = plan("flights", listing, first.cursor, hasher, accepts=accepts, now_ns=NOW)
    assert (again.runs, again.rejected) == ([], {})  # reported once, never retried
    assert hasher.read == ["2013-01-01.csv"]

    fixed = Hasher({"2013-01-01.csv": "b"})
    redelivered = [listing[0], stat(1, size=11, mtime=2), listing[2]]
    after = plan("flights", redelivered, again.cursor, fixed, accepts=accepts, now_ns=NOW)
    assert [r.files for r in after.runs] == [("2013-01-01.csv",)]
    assert set(after.cursor.rejected) == {"notes.txt", "2015-01-01.csv"}


def test_a_good_file_turning_unreadable_is_rejected_and_starts_no_run() -> None:
    ok = plan("flights", [stat(1)], LandingCursor(), Hasher({"2013-01-01.csv": "a"}), now_ns=NOW)
    broken = Hasher({"2013-01-01.csv": "b"}, problems={"2013-01-01.csv": "header does not match"})
    after = plan("flights", [stat(1, size=3, mtime=2)], ok.cursor, broken, now_ns=NOW)
    assert after.runs == []
    assert after.rejected == {"2013-01-01.csv": "header does not match"}
    assert "2013-01-01.csv" not in after.cursor.files


def test_a_removed_file_is_forgotten() -> None:
    ok = plan("flights", [stat(1)], LandingCursor(), Hasher({"2013-01-01.csv": "a"}), now_ns=NOW)
    gone = plan("flights", [], ok.cursor, Hasher({}), now_ns=NOW)
    assert (gone.cursor.files, gone.cursor.rejected) == ({}, {})
    back = plan(
        "flights", [stat(1, changed=5)], gone.cursor, Hasher({"2013-01-01.csv": "a"}), now_ns=NOW
    )
    assert [r.files for r in back.runs] == [("2013-01-01.csv",)]


def test_a_tick_that_crashed_midway_plans_the_same_runs_again() -> None:
    """The cursor is saved only with a tick's result: a crash while reading leaves the old one,
    and the next tick requests the same run keys, which Dagster starts once.
    """
    contents = {"2013-01-01.csv": "a", "2013-01-02.csv": "b"}

    class Crashing(Hasher):
        def __call__(self, name: str) -> Inspection:
            if name == "2013-01-02.csv":
                raise OSError("disk went away")
            return super().__call__(name)

    listing = [stat(1), stat(2)]
    with pytest.raises(OSError, match="disk went away"):
        plan("flights", listing, LandingCursor(), Crashing(contents), now_ns=NOW)
    retried: Plan = plan("flights", listing, LandingCursor(), Hasher(contents), now_ns=NOW)
    clean = plan("flights", listing, LandingCursor(), Hasher(contents), now_ns=NOW)
    assert retried.runs == clean.runs
    assert [r.files for r in retried.runs] == [("2013-01-01.csv", "2013-01-02.csv")]


def test_a_day_outside_the_range_is_taken_once_the_range_covers_it() -> None:
    listing = [FileStat("2014-01-01.csv", date(2014, 1, 1), 3, 1)]
    hasher = Hasher({"2014-01-01.csv": "a"})
    narrow = plan(
        "flights", listing, LandingCursor(), hasher, accepts=lambda _: "outside", now_ns=NOW
    )
    assert narrow.rejected == {"2014-01-01.csv": "outside"}
    still = plan("flights", listing, narrow.cursor, hasher, accepts=lambda _: "outside", now_ns=NOW)
    assert still.rejected == {}  # reported once
    widened = plan("flights", listing, still.cursor, hasher, now_ns=NOW)
    assert [r.files for r in widened.runs] == [("2014-01-01.csv",)]
    assert widened.cursor.rejected == {}


def test_a_header_only_day_the_raw_layer_holds_empty_needs_no_run() -> None:
    empty = Inspection("h", rows=0)
    assert empty.held_by(EMPTY_PARTITION)
    assert not Inspection("h", rows=3).held_by(EMPTY_PARTITION)
    assert not empty.held_by(None)


def test_the_cursor_does_not_grow_with_the_files_ever_landed() -> None:
    """A year of daily files landing one a tick: the cursor stays the same size."""
    cursor, sizes = LandingCursor(), []
    for day in range(1, 366):
        name = f"2013-{(day - 1) // 31 + 1:02d}-{(day - 1) % 31 + 1:02d}.csv"
        listing = [FileStat(f"d{n:03d}.csv", date(2013, 1, 1), 10, n) for n in range(1, day + 1)]
        hasher = Hasher({f"d{n:03d}.csv": str(n) for n in range(1, day + 1)})
        cursor = plan("flights", listing, cursor, hasher, now_ns=NOW).cursor
        assert hasher.read == [f"d{day:03d}.csv"], name  # only the new file is read
        sizes.append(len(cursor.to_json()))
    assert max(sizes) - min(sizes) <= 4  # the watermark's digits, nothing per file


def test_a_file_renamed_in_with_an_older_mtime_than_the_mark_is_still_taken() -> None:
    """write-then-rename producers: a file written before the last settled one but renamed
    into the folder after it keeps its older mtime; its change time says it is new.
    """
    first = plan(
        "flights", [stat(2, mtime=5)], LandingCursor(), Hasher({"2013-01-02.csv": "b"}), now_ns=NOW
    )
    late = stat(1, mtime=3, changed=6)
    after = plan(
        "flights",
        [late, stat(2, mtime=5)],
        first.cursor,
        Hasher({"2013-01-01.csv": "a"}),
        now_ns=NOW,
    )
    assert [r.files for r in after.runs] == [("2013-01-01.csv",)]
