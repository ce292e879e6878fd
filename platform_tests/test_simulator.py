from datetime import date
from pathlib import Path

from lakehouse.simulator.replay import land_source, split_by_day
from lakehouse.simulator.sample import AIRLINES, FLIGHTS, PLANES, sample_bytes


def test_daily_files_hold_the_sample_lines_byte_for_byte() -> None:
    sample = sample_bytes(FLIGHTS)
    by_day = split_by_day(sample, FLIGHTS)
    assert len(by_day) == 365
    assert sum(len(lines) for lines in by_day.values()) == 336_776
    body = set(sample.split(b"\n")[1:]) - {b""}
    assert {line for lines in by_day.values() for line in lines} == body
    assert all(line.startswith(b"2013,1,1,") for line in by_day[date(2013, 1, 1)])


def test_landing_a_range_writes_one_file_per_day_and_is_idempotent(tmp_path: Path) -> None:
    sample = b"year,month,day,x\n2013,1,1,a\n2013,1,2,NA\n2013,1,2,c\n2013,1,9,d\n"
    first = land_source(FLIGHTS, tmp_path, date(2013, 1, 1), date(2013, 1, 2), sample)
    assert (first.files_written, first.rows) == (2, 3)
    assert (tmp_path / "flights" / "2013-01-02.csv").read_bytes() == (
        b"year,month,day,x\n2013,1,2,NA\n2013,1,2,c\n"
    )
    again = land_source(FLIGHTS, tmp_path, date(2013, 1, 1), date(2013, 1, 2), sample)
    assert (again.files_written, again.files_unchanged) == (0, 2)


def test_a_snapshot_is_dated_by_the_start_of_the_replay(tmp_path: Path) -> None:
    landed = land_source(AIRLINES, tmp_path, date(2013, 6, 1), date(2013, 6, 30))
    assert landed.rows == 16
    assert (tmp_path / "airlines" / "2013-06-01.csv").read_bytes() == sample_bytes(AIRLINES)


def test_landing_later_days_sends_no_copy_of_an_unchanged_snapshot(tmp_path: Path) -> None:
    # `lakehouse land --start D --end D` after the year: a copy dated D would rebuild the
    # dimension and, through it, every day of the fact.
    land_source(AIRLINES, tmp_path, date(2013, 1, 1), date(2013, 12, 13))
    later = land_source(AIRLINES, tmp_path, date(2013, 12, 14), date(2013, 12, 14))
    assert (later.files_written, later.files_unchanged) == (0, 1)
    assert sorted(p.name for p in (tmp_path / "airlines").glob("*.csv")) == ["2013-01-01.csv"]
    changed = sample_bytes(AIRLINES).replace(b"Endeavor Air Inc.", b"Endeavor Air")
    renamed = land_source(AIRLINES, tmp_path, date(2013, 12, 15), date(2013, 12, 15), changed)
    assert renamed.files_written == 1  # a changed table is delivered


def test_a_replay_starting_mid_year_gets_the_fleet_as_it_stands_then(tmp_path: Path) -> None:
    land_source(PLANES, tmp_path / "year", date(2013, 1, 1), date(2013, 12, 31))
    land_source(PLANES, tmp_path / "late", date(2013, 12, 13), date(2013, 12, 13))
    late = (tmp_path / "late" / "planes" / "2013-12-13.csv").read_bytes()
    assert late == (tmp_path / "year" / "planes" / "2013-11-01.csv").read_bytes()
    # ... so landing that day after the year sends no planes snapshot at all.
    again = land_source(PLANES, tmp_path / "year", date(2013, 12, 13), date(2013, 12, 13))
    assert again.files_written == 0
