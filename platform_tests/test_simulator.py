from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from lakehouse.simulator.redate import lines_of_day, shift_instant
from lakehouse.simulator.replay import land_source, split_by_day
from lakehouse.simulator.sample import AIRLINES, FLIGHTS, PLANES, WEATHER, sample_bytes


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


def test_a_later_year_replays_the_sample_day_with_its_dates_moved(tmp_path: Path) -> None:
    for source in (FLIGHTS, WEATHER):
        land_source(source, tmp_path, date(2014, 3, 10), date(2014, 3, 10))
        land_source(source, tmp_path, date(2015, 3, 10), date(2015, 3, 10))
    header, *lines = (tmp_path / "flights" / "2014-03-10.csv").read_text().splitlines()
    columns = header.split(",")
    year, instant = columns.index("year"), columns.index("time_hour")
    original = split_by_day(sample_bytes(FLIGHTS), FLIGHTS)[date(2013, 3, 10)]
    assert len(lines) == len(original) > 800
    for moved, line in zip(lines, original, strict=True):
        before, after = line.decode().split(","), moved.split(",")
        assert (before[year], after[year]) == ("2013", "2014")
        assert after[instant] == before[instant].replace("2013-", "2014-", 1)  # both in EDT
        for moved_field in (year, instant):
            before[moved_field] = after[moved_field] = ""
        assert after == before  # everything else as delivered
    later = (tmp_path / "flights" / "2015-03-10.csv").read_text().splitlines()
    assert len(later) == len(lines) + 1
    assert later[1].startswith("2015,3,10,")


def test_redated_instants_keep_the_new_york_wall_clock() -> None:
    # Daylight saving started on 10 March 2013 but on 9 March 2014: the same local hour is an
    # hour earlier in UTC, and the 02:00 that 2014 skips is not delivered.
    assert shift_instant("2013-03-09T10:00:00Z", 1) == "2014-03-09T09:00:00Z"  # 05:00 local
    assert shift_instant("2013-03-09T07:00:00Z", 1) is None  # 02:00 local
    assert shift_instant("2013-01-01T10:00:00Z", 2) == "2015-01-01T10:00:00Z"
    assert shift_instant("NA", 1) == "NA"
    weather = split_by_day(sample_bytes(WEATHER), WEATHER)
    header = sample_bytes(WEATHER).split(b"\n", 1)[0].decode().split(",")
    hour, instant = header.index("hour"), header.index("time_hour")
    for day in (date(2014, 3, 9), date(2014, 11, 2), date(2015, 3, 8), date(2015, 11, 1)):
        lines = lines_of_day(weather, day, header)
        assert len(lines) >= len(weather[day.replace(year=2013)]) - 3  # 3 airports x 02:00
        for line in lines:
            fields = line.decode().split(",")
            utc = datetime.fromisoformat(fields[instant].replace("Z", "+00:00"))
            local = utc.astimezone(ZoneInfo("America/New_York"))
            assert (local.date(), local.hour) == (day, int(fields[hour]))  # weather's rule


def test_each_later_year_repeats_the_sample_years_planes_snapshots(tmp_path: Path) -> None:
    land_source(PLANES, tmp_path, date(2013, 1, 1), date(2014, 12, 31))
    folder = tmp_path / "planes"
    assert sorted(p.name for p in folder.glob("*.csv")) == [
        f"{year}-{day}.csv" for year in (2013, 2014) for day in ("01-01", "04-01", "08-01", "11-01")
    ]
    for day in ("01-01", "04-01", "08-01", "11-01"):
        assert (folder / f"2014-{day}.csv").read_bytes() == (
            folder / f"2013-{day}.csv"
        ).read_bytes()
    assert (folder / "2014-01-01.csv").read_bytes() == sample_bytes(PLANES)
