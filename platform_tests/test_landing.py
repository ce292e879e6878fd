from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from lakehouse.landing import (
    PARSE_ERROR,
    RAW_LINE,
    LandingFile,
    LandingFileError,
    day_of,
    list_landing_files,
    marker_path,
    parse_delivery,
    parse_exact,
    parse_plain,
    parse_rows,
    read_delivery,
    write_atomic,
)
from lakehouse.simulator.sample import AIRLINES, FLIGHTS, SAMPLE_SOURCES
from platform_tests.factories import FLIGHT_TEXT, csv_bytes

HEADER = ",".join(FLIGHTS.columns)
LINE = ",".join(FLIGHT_TEXT.values())


def parse(data: bytes) -> tuple[list[dict[str, object]], list[tuple[int, str]]]:
    delivery = parse_delivery(data, FLIGHTS, source_file="flights/2013-01-01.csv")
    return delivery.rows.to_dicts(), [(m.line_number, m.reason) for m in delivery.malformed]


def test_fields_keep_their_delivered_text_and_line_numbers() -> None:
    na_line = LINE.replace(",N14228,", ",NA,")
    rows, malformed = parse(csv_bytes(HEADER, LINE, na_line))
    assert malformed == []
    assert [r["_line_number"] for r in rows] == [2, 3]
    assert rows[1]["tailnum"] == "NA"
    assert rows[0]["time_hour"] == "2013-01-01T10:00:00Z"


def test_columns_may_arrive_in_any_order() -> None:
    data = csv_bytes("name,carrier", "United Air Lines Inc.,UA")
    rows = parse_delivery(data, AIRLINES, source_file="airlines/x.csv").rows.to_dicts()
    assert rows == [{"carrier": "UA", "name": "United Air Lines Inc.", "_line_number": 2}]


def test_quoted_fields_with_commas_are_split_correctly() -> None:
    data = csv_bytes("carrier,name", 'UA,"United, Inc."', "AA,American")
    rows = parse_delivery(data, AIRLINES, source_file="airlines/x.csv").rows
    assert rows["name"].to_list() == ["United, Inc.", "American"]
    assert rows["_line_number"].to_list() == [2, 3]


def test_an_unbalanced_quote_costs_only_its_own_line() -> None:
    data = csv_bytes("carrier,name", "UA,United", 'AA,"American', "DL,Delta", "B6,JetBlue")
    delivery = parse_delivery(data, AIRLINES, source_file="airlines/x.csv")
    assert delivery.rows["_line_number"].to_list() == [2, 4, 5]
    assert delivery.rows["carrier"].to_list() == ["UA", "DL", "B6"]
    [broken] = delivery.malformed
    assert (broken.line_number, broken.text) == (3, 'AA,"American')
    assert broken.reason.startswith("unbalanced quote: a quoted field runs past the end of")


@pytest.mark.parametrize(
    ("closing", "rows", "malformed"),
    [
        # The quote closes two lines on with a third field: the record is too wide.
        ('B6",JetBlue', [3, 4, 5], [2]),
        # The quote closes two lines on before a letter: the csv module refuses the record.
        ('B6,Jet"Blue,x', [3, 5], [2, 4]),
    ],
)
def test_a_stray_quote_closed_lines_later_costs_only_its_own_line(
    closing: str, rows: list[int], malformed: list[int]
) -> None:
    data = csv_bytes("carrier,name", 'AA,"American', "DL,Delta", closing, "UA,United")
    delivery = parse_delivery(data, AIRLINES, source_file="airlines/x.csv")
    assert delivery.rows["_line_number"].to_list() == rows
    assert [m.line_number for m in delivery.malformed] == malformed
    assert delivery.malformed[0].reason.startswith("unbalanced quote")


def test_a_quoted_field_that_spans_lines_is_still_one_record() -> None:
    data = csv_bytes("carrier,name", 'AA,"American', 'Airlines"', "DL,Delta")
    delivery = parse_delivery(data, AIRLINES, source_file="airlines/x.csv")
    assert delivery.rows.rows() == [("AA", "American\nAirlines", 2), ("DL", "Delta", 4)]
    assert delivery.malformed == []


@pytest.mark.parametrize("quoted", [False, True])
def test_a_trailing_blank_line_is_reported_on_both_paths(quoted: bool) -> None:
    name = '"United"' if quoted else "United"
    data = csv_bytes("carrier,name", f"UA,{name}", "")
    delivery = parse_delivery(data, AIRLINES, source_file="airlines/x.csv")
    assert delivery.rows.height == 1
    assert [(m.line_number, m.reason) for m in delivery.malformed] == [(3, "blank line")]


def test_a_byte_order_mark_is_not_part_of_the_header() -> None:
    data = b"\xef\xbb\xbf" + csv_bytes("carrier,name", "UA,United")
    rows = parse_delivery(data, AIRLINES, source_file="airlines/x.csv").rows
    assert rows["carrier"].to_list() == ["UA"]


def test_crlf_line_endings_are_accepted() -> None:
    rows, malformed = parse(f"{HEADER}\r\n{LINE}\r\n".encode())
    assert malformed == []
    assert rows[0]["time_hour"] == "2013-01-01T10:00:00Z"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (LINE + ",extra", "expected 19 fields, found 20"),
        (LINE.rsplit(",", 1)[0], "expected 19 fields, found 18"),
        ("", "blank line"),
    ],
)
def test_lines_that_cannot_be_split_are_reported_with_their_line(line: str, reason: str) -> None:
    rows, malformed = parse(csv_bytes(HEADER, LINE, line, LINE))
    assert [r["_line_number"] for r in rows] == [2, 4]
    assert malformed == [(3, reason)]


def test_a_non_utf8_byte_is_reported_on_its_line_only() -> None:
    data = csv_bytes(HEADER, LINE).replace(b"UA,", b"U\xff,") + csv_bytes(LINE)[:-1] + b"\n"
    rows, malformed = parse(data)
    assert [r["_line_number"] for r in rows] == [3]
    assert malformed == [(2, "is not valid UTF-8 (byte 0xff at column 32)")]


@pytest.mark.parametrize("data", [b"", b"\n", b"   "])
def test_an_empty_file_is_an_error_naming_the_file(data: bytes) -> None:
    with pytest.raises(LandingFileError, match=r"flights/2013-01-01.csv:1: file is empty"):
        parse(data)


def test_a_header_only_file_is_an_empty_delivery() -> None:
    assert parse(csv_bytes(HEADER)) == ([], [])


def test_a_missing_column_is_an_error_naming_it() -> None:
    header = HEADER.replace(",tailnum", "")
    line = LINE.replace(",N14228", "")
    with pytest.raises(LandingFileError, match=r":1: header .* missing column\(s\) tailnum"):
        parse(csv_bytes(header, line))


def test_an_unexpected_column_is_an_error_naming_it() -> None:
    with pytest.raises(LandingFileError, match=r"unexpected column\(s\) gate"):
        parse(csv_bytes(HEADER + ",gate", LINE + ",A1"))


def test_a_file_that_is_not_csv_is_an_error_not_a_crash() -> None:
    with pytest.raises(LandingFileError, match=r"header does not match the flights source"):
        parse(b'{"flights": []}\n')


@pytest.mark.parametrize(
    ("name", "day"),
    [
        ("2013-01-01.csv", date(2013, 1, 1)),
        ("2013-13-01.csv", None),
        ("2013-1-1.csv", None),
        ("notes.txt", None),
        ("2013-01-01.csv.bak", None),
    ],
)
def test_day_of_accepts_only_iso_dated_csv_names(name: str, day: date | None) -> None:
    assert day_of(name) == day


def test_listing_skips_in_flight_files_and_reports_unrecognized_names(tmp_path: Path) -> None:
    folder = tmp_path / "flights"
    folder.mkdir()
    for name in ("2013-01-02.csv", "2013-01-01.csv", ".2013-01-03.csv.x.tmp", "readme.md"):
        (folder / name).write_text("x")
    listing = list_landing_files(tmp_path, "flights")
    assert [f.day for f in listing.files] == [date(2013, 1, 1), date(2013, 1, 2)]
    assert listing.unrecognized == ["readme.md"]


def test_write_atomic_replaces_whole_files_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "flights" / "2013-01-01.csv"
    assert write_atomic(target, b"one") is True
    assert write_atomic(target, b"one") is False
    assert write_atomic(target, b"two") is True
    assert target.read_bytes() == b"two"
    # Only the file and its completion marker, written after it.
    assert sorted(p.name for p in target.parent.iterdir()) == [
        "2013-01-01.csv",
        "2013-01-01.csv.done",
    ]
    assert marker_path(target).stat().st_mtime_ns >= target.stat().st_mtime_ns
    assert list_landing_files(tmp_path, "flights").unrecognized == []
    write_atomic(tmp_path / "manifest.json", b"{}", mark=False)
    assert not marker_path(tmp_path / "manifest.json").exists()


def test_a_delivery_keeps_unsplit_lines_as_raw_rows(tmp_path: Path) -> None:
    path = tmp_path / "flights" / "2013-01-01.csv"
    write_atomic(path, csv_bytes(HEADER, LINE, "garbage", LINE))
    file = LandingFile("flights", date(2013, 1, 1), path)
    rows = read_delivery(file, FLIGHTS, ingested_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert rows["_line_number"].to_list() == [2, 3, 4]
    assert rows[RAW_LINE].to_list() == [None, "garbage", None]
    assert rows[PARSE_ERROR].to_list() == [None, "expected 19 fields, found 1", None]
    assert rows["carrier"].to_list() == ["UA", None, "UA"]
    assert rows["_source_file"].unique().to_list() == ["flights/2013-01-01.csv"]


def plain_and_exact(data: bytes) -> tuple[pl.DataFrame | None, pl.DataFrame]:
    source_file = "flights/2013-01-01.csv"
    return (
        parse_plain(data, FLIGHTS, source_file=source_file),
        parse_exact(data, FLIGHTS, source_file=source_file),
    )


def test_both_paths_read_every_real_sample_file_alike(landed_sample: Path) -> None:
    for source in SAMPLE_SOURCES.values():
        for file in list_landing_files(landed_sample, source.name).files:
            data = file.path.read_bytes()
            plain = parse_plain(data, source, source_file=file.name)
            assert plain is not None, f"{file.name} should take the fast path"
            assert_frame_equal(plain, parse_exact(data, source, source_file=file.name))


REORDERED = ",".join(reversed(FLIGHTS.columns))
LINE_REORDERED = ",".join(reversed(FLIGHT_TEXT.values()))


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(csv_bytes(HEADER, LINE, LINE), id="plain"),
        pytest.param(f"{HEADER}\r\n{LINE}\r\n{LINE}\r\n".encode(), id="crlf"),
        pytest.param(b"\xef\xbb\xbf" + csv_bytes(HEADER, LINE), id="byte-order mark"),
        pytest.param(csv_bytes(HEADER), id="header only"),
        pytest.param(f"{HEADER}\r\n".encode(), id="header only crlf"),
        pytest.param(csv_bytes(HEADER, LINE)[:-1], id="no final newline"),
        pytest.param(csv_bytes(HEADER, LINE.replace(",N14228,", ",,")), id="empty field"),
        pytest.param(csv_bytes(HEADER, LINE.replace(",N14228,", ", N 1 ,")), id="spaces kept"),
        pytest.param(csv_bytes(HEADER, LINE.rsplit(",", 1)[0] + ","), id="empty last field"),
        pytest.param(csv_bytes(HEADER, LINE.replace("EWR", "ÉWR")), id="non-ascii utf-8"),
        pytest.param(csv_bytes(REORDERED, LINE_REORDERED), id="columns reordered"),
        pytest.param(csv_bytes(HEADER, LINE.replace("UA", "U#A\t")), id="comment and tab"),
    ],
)
def test_the_fast_path_reads_plain_files_exactly_as_the_exact_path(data: bytes) -> None:
    plain, exact = plain_and_exact(data)
    assert plain is not None
    assert_frame_equal(plain, exact)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(csv_bytes(HEADER, LINE.replace("N14228", '"N14228"')), id="quote"),
        pytest.param(csv_bytes(HEADER, LINE).replace(b"UA,", b"U\xff,"), id="not utf-8"),
        pytest.param(csv_bytes(HEADER, LINE, "", LINE), id="blank line"),
        pytest.param(csv_bytes(HEADER, LINE, ""), id="trailing blank line"),
        pytest.param(csv_bytes(HEADER, LINE + ",extra"), id="extra field"),
        pytest.param(csv_bytes(HEADER, LINE.rsplit(",", 1)[0]), id="missing field"),
        # The file's separator total is right, so only the per-line check can catch these.
        pytest.param(
            csv_bytes(HEADER, LINE + ",extra", LINE.rsplit(",", 1)[0]), id="long and short"
        ),
        pytest.param(
            csv_bytes(HEADER, LINE.rsplit(",", 1)[0], LINE + ",extra"), id="short and long"
        ),
        pytest.param(csv_bytes(HEADER, LINE.replace("UA", "U\rA")), id="lone carriage return"),
        pytest.param(csv_bytes(HEADER, "\ufeff" + LINE), id="byte-order mark on a line"),
        pytest.param(b"", id="empty"),
        pytest.param(HEADER.encode(), id="header without newline"),
    ],
)
def test_files_that_are_not_plain_take_the_exact_path(data: bytes) -> None:
    assert parse_plain(data, FLIGHTS, source_file="flights/2013-01-01.csv") is None


def test_the_fast_path_reports_a_wrong_header_as_the_exact_path_does() -> None:
    data = csv_bytes(HEADER + ",gate", LINE + ",A1")
    with pytest.raises(LandingFileError) as fast:
        parse_plain(data, FLIGHTS, source_file="flights/2013-01-01.csv")
    with pytest.raises(LandingFileError) as exact:
        parse_exact(data, FLIGHTS, source_file="flights/2013-01-01.csv")
    assert str(fast.value) == str(exact.value)


@pytest.mark.parametrize(
    "data",
    [b"\n", b"\r\n", b"  \n", b"\xef\xbb\xbf\n"],
    ids=["newline", "crlf", "spaces", "byte-order mark"],
)
def test_a_file_of_one_blank_line_is_reported_as_empty_not_as_a_wrong_header(
    tmp_path: Path, data: bytes
) -> None:
    path = tmp_path / "flights" / "2013-01-01.csv"
    write_atomic(path, data)
    file = LandingFile("flights", date(2013, 1, 1), path)
    with pytest.raises(LandingFileError, match="file is empty; expected a CSV header"):
        read_delivery(file, FLIGHTS, ingested_at=datetime(2026, 1, 1, tzinfo=UTC))


def test_a_header_that_is_not_a_csv_line_is_rejected_by_name() -> None:
    """Found by the fuzz test: a carriage return inside the header crashed the csv module."""
    with pytest.raises(LandingFileError, match=r"flights/2013-01-01.csv:1: header is not a CSV"):
        parse_rows(b"\r" + csv_bytes(HEADER, LINE), FLIGHTS, source_file="flights/2013-01-01.csv")
