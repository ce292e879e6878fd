from datetime import date

import polars as pl
import pytest

from lakehouse.transforms.parsing import (
    TYPE_ERRORS,
    calendar_date,
    dedupe_latest,
    parse_fields,
    parse_text,
    parse_utc_instant,
    quick_casts,
)

TYPES: dict[str, pl.DataType] = {"n": pl.Int16(), "x": pl.Float64(), "s": pl.String()}


def test_quick_casts_give_exactly_what_the_parsers_give() -> None:
    raw = pl.LazyFrame(
        {
            "n": ["12", " 12", "NA", "12x", "", "+5", " NA ", None, "99999"],
            "x": ["1.5", "1e3", " 2 ", "NA", "far", "", "3", "4", "5"],
            "s": ["a", " b ", "NA", "", "c", "d", "e", "f", "g"],
            "t": ["2013-01-01T10:00:00Z"] * 8 + ["noon"],
        }
    )
    parsers = {name: parse_text(name, dtype) for name, dtype in TYPES.items()}
    parsers["t"] = parse_utc_instant("t")

    exact = parse_fields(raw, parsers).collect()
    quick = parse_fields(raw, parsers, quick=quick_casts(TYPES)).collect()

    assert quick.equals(exact.select(quick.columns))
    assert quick["n"].to_list() == [12, 12, None, None, None, 5, None, None, None]
    assert quick[TYPE_ERRORS].to_list() == [
        None,
        None,
        None,
        "n='12x'",
        "x='far'",
        None,
        None,
        None,
        "n='99999'; t='noon'",
    ]


@pytest.mark.parametrize(
    ("year", "month", "day", "expected"),
    [
        pytest.param(2013, 1, 1, date(2013, 1, 1), id="plain"),
        pytest.param(2013, 12, 31, date(2013, 12, 31), id="last day of the year"),
        pytest.param(2012, 2, 29, date(2012, 2, 29), id="leap day"),
        pytest.param(2000, 2, 29, date(2000, 2, 29), id="leap day of a 400th year"),
        pytest.param(1900, 2, 29, None, id="no leap day in a 100th year"),
        pytest.param(2013, 2, 29, None, id="no leap day"),
        pytest.param(2013, 2, 30, None, id="past the month's end"),
        pytest.param(2013, 4, 31, None, id="past a short month's end"),
        pytest.param(2013, 13, 1, None, id="month 13"),
        pytest.param(2013, 0, 1, None, id="month 0"),
        pytest.param(2013, -1, 5, None, id="negative month"),
        pytest.param(2013, 1, 0, None, id="day 0"),
        pytest.param(2013, 1, -128, None, id="negative day"),
        pytest.param(9999, 12, 31, date(9999, 12, 31), id="largest year"),
        pytest.param(10000, 1, 1, None, id="a five-digit year"),
        pytest.param(None, 1, 1, None, id="no year"),
        pytest.param(2013, None, 1, None, id="no month"),
        pytest.param(2013, 1, None, None, id="no day"),
    ],
)
def test_calendar_date_is_null_for_impossible_days(
    year: int | None, month: int | None, day: int | None, expected: date | None
) -> None:
    typed = pl.DataFrame(
        {"year": [year], "month": [month], "day": [day]},
        schema={"year": pl.Int16, "month": pl.Int8, "day": pl.Int8},
    )
    assert typed.select(calendar_date("year", "month", "day")).item() == expected


def test_dedupe_latest_keeps_the_last_row_of_each_key_in_delivery_order() -> None:
    rows = pl.LazyFrame(
        {"k": [1, 1, None, None, 2, 1, None], "s": ["x", "x", None, None, "y", "x", "z"]}
    ).with_row_index("line")
    kept = dedupe_latest(rows, ["k", "s"]).collect()
    assert kept["line"].to_list() == [3, 4, 5, 6]
    assert kept.equals(rows.unique(subset=["k", "s"], keep="last", maintain_order=True).collect())
