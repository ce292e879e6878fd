from datetime import date

import pytest

from lakehouse.sensors.planning import FileStat, LandingCursor, SeenFile, plan_landing_runs


def stat(day: int, size: int = 10, mtime: int = 1) -> FileStat:
    return FileStat(f"2013-01-{day:02d}.csv", date(2013, 1, day), size, mtime)


class Hasher:
    """A fake content hash that records which files were read."""

    def __init__(self, contents: dict[str, str]) -> None:
        self.contents = contents
        self.read: list[str] = []

    def __call__(self, name: str) -> str:
        self.read.append(name)
        return self.contents[name]


def test_new_files_on_consecutive_days_become_one_range_run() -> None:
    hasher = Hasher({"2013-01-01.csv": "a", "2013-01-02.csv": "b", "2013-01-05.csv": "c"})
    runs, cursor = plan_landing_runs(
        "flights", [stat(2), stat(1), stat(5)], LandingCursor(), hasher
    )
    assert [(r.start.day, r.end.day, r.files) for r in runs] == [
        (1, 2, ("2013-01-01.csv", "2013-01-02.csv")),
        (5, 5, ("2013-01-05.csv",)),
    ]
    assert runs[0].run_key.startswith("flights:2013-01-01..2013-01-02:")
    assert set(cursor.files) == {"2013-01-01.csv", "2013-01-02.csv", "2013-01-05.csv"}


def test_an_unchanged_file_is_not_read_again_nor_run() -> None:
    cursor = LandingCursor({"2013-01-01.csv": SeenFile(10, 1, "a")})
    hasher = Hasher({})
    runs, after = plan_landing_runs("flights", [stat(1)], cursor, hasher)
    assert runs == []
    assert hasher.read == []
    assert after == cursor


def test_a_touched_file_with_the_same_content_is_not_run() -> None:
    cursor = LandingCursor({"2013-01-01.csv": SeenFile(10, 1, "a")})
    runs, after = plan_landing_runs(
        "flights", [stat(1, mtime=2)], cursor, Hasher({"2013-01-01.csv": "a"})
    )
    assert runs == []
    assert after.files["2013-01-01.csv"] == SeenFile(10, 2, "a")


def test_a_redelivered_file_with_new_content_gets_a_new_run_key() -> None:
    first, cursor = plan_landing_runs(
        "flights", [stat(1)], LandingCursor(), Hasher({"2013-01-01.csv": "a"})
    )
    second, _ = plan_landing_runs(
        "flights", [stat(1, size=12)], cursor, Hasher({"2013-01-01.csv": "b"})
    )
    assert len(second) == 1
    assert second[0].run_key != first[0].run_key


def test_the_cursor_round_trips_through_json() -> None:
    cursor = LandingCursor({"2013-01-01.csv": SeenFile(10, 1, "a")})
    assert LandingCursor.from_json(cursor.to_json()) == cursor
    assert LandingCursor.from_json(None) == LandingCursor()


def test_a_cursor_of_another_version_is_refused() -> None:
    with pytest.raises(ValueError, match="version 99"):
        LandingCursor.from_json('{"version": 99, "files": {}}')


def test_a_delivery_reverting_to_earlier_bytes_is_a_new_run() -> None:
    contents = {"2013-01-01.csv": "a"}
    first, cursor = plan_landing_runs(
        "flights", [stat(1, 10, 1)], LandingCursor(), Hasher(contents)
    )
    contents["2013-01-01.csv"] = "b"
    _, cursor = plan_landing_runs("flights", [stat(1, 12, 2)], cursor, Hasher(contents))
    contents["2013-01-01.csv"] = "a"
    third, _ = plan_landing_runs("flights", [stat(1, 10, 3)], cursor, Hasher(contents))
    assert len(third) == 1
    assert third[0].run_key != first[0].run_key


def test_replanning_the_same_delivery_repeats_its_run_key() -> None:
    """A tick that crashed before saving its cursor plans again; Dagster dedupes the key."""
    hasher = Hasher({"2013-01-01.csv": "a"})
    first, _ = plan_landing_runs("flights", [stat(1)], LandingCursor(), hasher)
    again, _ = plan_landing_runs("flights", [stat(1)], LandingCursor(), hasher)
    assert first == again


def test_a_delivery_the_raw_layer_already_holds_needs_no_run() -> None:
    hasher = Hasher({"2013-01-01.csv": "a", "2013-01-02.csv": "b"})
    held = {date(2013, 1, 1): "a", date(2013, 1, 2): "old"}
    runs, cursor = plan_landing_runs(
        "flights", [stat(1), stat(2)], LandingCursor(), hasher, lambda s: held.get(s.day)
    )
    assert [r.files for r in runs] == [("2013-01-02.csv",)]
    assert set(cursor.files) == {"2013-01-01.csv", "2013-01-02.csv"}
