"""Which partitions a landing file holds, and how the new files of a tick are grouped into the
rectangular ranges one run each covers.
"""

from datetime import date

from lakehouse.declarations import declared_sources
from lakehouse.periods import Block, FilePartition, blocks, file_name, next_period

STOCKS = declared_sources()["stocks"]
SYMBOLS = ["AAPL", "AMZN", "GOOG", "IBM", "MSFT"]  # the declared order


def months(first: date, count: int) -> list[date]:
    found = [first]
    while len(found) < count:
        found.append(next_period(STOCKS, found[-1]))
    return found


def files(*cells: tuple[date, str]) -> dict[str, FilePartition]:
    partitions = [FilePartition(period, key) for period, key in cells]
    return {file_name(STOCKS, p): p for p in partitions}


def spans(found: list[Block]) -> list[tuple[str, str, str, str, int]]:
    return [
        (
            str(b.first.period),
            str(b.last.period),
            str(b.first.key),
            str(b.last.key),
            len(b.files),
        )
        for b in found
    ]


def test_the_next_period_of_a_monthly_source_crosses_the_year() -> None:
    assert next_period(STOCKS, date(2009, 12, 1)) == date(2010, 1, 1)
    assert next_period(STOCKS, date(2010, 1, 1)) == date(2010, 2, 1)
    daily = declared_sources()["seattle_weather"]
    assert next_period(daily, date(2012, 12, 31)) == date(2013, 1, 1)


def test_a_history_of_every_key_over_the_same_months_is_one_block() -> None:
    cells = [(m, s) for m in months(date(2009, 11, 1), 5) for s in SYMBOLS]
    [block] = blocks(STOCKS, files(*cells))
    assert (block.first, block.last) == (
        FilePartition(date(2009, 11, 1), "AAPL"),
        FilePartition(date(2010, 3, 1), "MSFT"),
    )
    assert len(block.files) == 25
    assert block.files[0] == "2009-11-01_AAPL.csv"  # oldest period first


def test_a_key_with_a_shorter_history_splits_the_rectangle_at_it() -> None:
    # The stocks CSV: GOOG is priced from 2004-08 only, and sits between AMZN and IBM.
    early = [(m, s) for m in months(date(2004, 6, 1), 2) for s in SYMBOLS if s != "GOOG"]
    late = [(m, s) for m in months(date(2004, 8, 1), 3) for s in SYMBOLS]
    assert spans(blocks(STOCKS, files(*early, *late))) == [
        ("2004-06-01", "2004-10-01", "AAPL", "AMZN", 10),
        ("2004-06-01", "2004-10-01", "IBM", "MSFT", 10),
        ("2004-08-01", "2004-10-01", "GOOG", "GOOG", 3),
    ]


def test_a_gap_in_the_months_or_keys_starts_another_block() -> None:
    found = blocks(
        STOCKS,
        files(
            (date(2000, 1, 1), "AAPL"),
            (date(2000, 2, 1), "AAPL"),
            (date(2000, 4, 1), "AAPL"),  # March missing
            (date(2000, 1, 1), "GOOG"),  # AMZN missing between AAPL and GOOG
            (date(2000, 2, 1), "GOOG"),
        ),
    )
    assert spans(found) == [
        ("2000-01-01", "2000-02-01", "AAPL", "AAPL", 2),
        ("2000-01-01", "2000-02-01", "GOOG", "GOOG", 2),
        ("2000-04-01", "2000-04-01", "AAPL", "AAPL", 1),
    ]


def test_an_unkeyed_monthly_source_groups_consecutive_months() -> None:
    unkeyed = STOCKS.model_copy(
        update={"partitions": STOCKS.partitions.model_copy(update={"keys": None})}
    )
    periods = [*months(date(2000, 11, 1), 3), date(2001, 6, 1)]
    found = blocks(
        unkeyed, {file_name(unkeyed, FilePartition(p)): FilePartition(p) for p in periods}
    )
    assert [(b.first.period, b.last.period, len(b.files)) for b in found] == [
        (date(2000, 11, 1), date(2001, 1, 1), 3),
        (date(2001, 6, 1), date(2001, 6, 1), 1),
    ]
    assert found[0].first.key is None
