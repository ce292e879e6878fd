"""The volume check: each day against the same weekday in the weeks before."""

from datetime import date, timedelta

import polars as pl

from lakehouse.checks.logic import row_count_anomalies

MONDAY = date(2013, 1, 7)
EMPTY = pl.DataFrame(schema={"day": pl.Date, "rows": pl.Int64})


def weeks_of(
    weekday_rows: int, saturday_rows: int, weeks: int, start: date = MONDAY
) -> pl.DataFrame:
    days = [start + timedelta(days=n) for n in range(7 * weeks)]
    rows = [saturday_rows if d.isoweekday() == 6 else weekday_rows for d in days]
    return pl.DataFrame({"day": days, "rows": rows}, schema={"day": pl.Date, "rows": pl.Int64})


def test_a_light_saturday_is_normal_but_a_light_monday_is_not() -> None:
    history = weeks_of(1000, 600, weeks=4)
    after = MONDAY + timedelta(weeks=4)
    checked = pl.DataFrame(
        {"day": [after, after + timedelta(days=5)], "rows": [600, 600]},
        schema={"day": pl.Date, "rows": pl.Int64},
    )
    found = row_count_anomalies(history, checked)
    assert not found.passed
    assert found.anomalies.select("day", "rows", "baseline").rows() == [(after, 600, 1000.0)]


def test_a_day_within_tolerance_passes_and_the_edge_is_exclusive() -> None:
    history = weeks_of(1000, 1000, weeks=4)
    after = MONDAY + timedelta(weeks=4)
    for rows, passed in ((700, True), (1300, True), (699, False), (1301, False)):
        checked = pl.DataFrame({"day": [after], "rows": [rows]})
        assert row_count_anomalies(history, checked, tolerance=0.3).passed is passed, rows


def test_days_without_enough_history_are_counted_not_judged() -> None:
    checked = weeks_of(1000, 600, weeks=3)  # week 3 has 2 earlier same weekdays, weeks 1-2 not
    found = row_count_anomalies(EMPTY, checked, min_weeks=2)
    assert found.passed
    assert found.unchecked == 14


def test_earlier_days_of_the_run_form_the_baseline_of_later_ones() -> None:
    run = weeks_of(1000, 600, weeks=4)
    thanksgiving = MONDAY + timedelta(weeks=3, days=3)
    run = run.with_columns(
        rows=pl.when(pl.col("day") == thanksgiving).then(400).otherwise(pl.col("rows"))
    )
    found = row_count_anomalies(EMPTY, run)
    assert found.anomalies["day"].to_list() == [thanksgiving]


def test_a_redelivered_day_is_judged_by_its_new_count_not_the_stored_one() -> None:
    history = weeks_of(1000, 1000, weeks=5)
    redelivered = MONDAY + timedelta(weeks=4)
    found = row_count_anomalies(history, pl.DataFrame({"day": [redelivered], "rows": [10]}))
    assert found.anomalies["rows"].to_list() == [10]


def test_an_empty_day_after_empty_weeks_is_normal_but_rows_after_them_are_not() -> None:
    history = weeks_of(0, 0, weeks=4)
    after = MONDAY + timedelta(weeks=4)
    assert row_count_anomalies(history, pl.DataFrame({"day": [after], "rows": [0]})).passed
    assert not row_count_anomalies(history, pl.DataFrame({"day": [after], "rows": [5]})).passed
