"""A range run with bad deliveries: the failure names every bad file, and the other days are
published by runs of their own, as `lakehouse materialize` runs them.
"""

from collections.abc import Mapping
from datetime import date

import dagster as dg
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from lakehouse.dates import days_between
from lakehouse.definitions import build_resources, defs
from lakehouse.deploy.instance import INSTANCE_ENV
from lakehouse.landing import landing_path, write_atomic
from lakehouse.partitions import DAILY
from lakehouse.runner import (
    good_stretches,
    plan_runs,
    run_isolating,
    run_partitions,
    unfinished_spans,
)
from lakehouse.settings import Settings
from lakehouse.simulator.replay import land_sample
from platform_tests.test_end_to_end import expected_from_files, failure_message, mart_totals

pytestmark = pytest.mark.slow
FIRST, LAST = date(2013, 1, 1), date(2013, 1, 7)
EMPTY, WRONG_HEADER = date(2013, 1, 2), date(2013, 1, 5)
SECOND, THIRD = date(2013, 1, 2), date(2013, 1, 3)
RAW_FLIGHTS = dg.AssetKey(["raw", "flights"])


def land_with_bad_flights(
    settings: Settings, first: date, last: date, bad: Mapping[date, bytes]
) -> pl.DataFrame:
    """Land the sample for [first, last] with the flights files of the `bad` days replaced by
    their bytes; return what the marts must hold: the good days' files, read without the
    platform.
    """
    land_sample(settings.landing_dir, first, last)
    for day, content in bad.items():
        write_atomic(landing_path(settings.landing_dir, "flights", day), content, again=True)
    good_files = settings.home / "good" / "flights"
    good_files.mkdir(parents=True)
    for day in days_between(first, last):
        if day not in bad:
            source = landing_path(settings.landing_dir, "flights", day)
            (good_files / source.name).write_bytes(source.read_bytes())
    return expected_from_files(good_files.parent)


def test_good_stretches_are_the_runs_between_bad_keys() -> None:
    keys = ["a", "b", "c", "d", "e"]
    assert good_stretches(keys, {"b", "e"}) == [["a"], ["c", "d"]]
    assert good_stretches(keys, set()) == [keys]
    assert good_stretches(keys, set(keys)) == []


def test_bad_days_of_a_range_are_all_named_and_the_others_are_published(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in INSTANCE_ENV.items():  # as deployed: one planned event per asset
        monkeypatch.setenv(name, value)
    expected = land_with_bad_flights(
        settings, FIRST, LAST, {EMPTY: b"", WRONG_HEADER: b"carrier,flight\nUA,1\n"}
    )
    [daily] = [r for r in plan_runs(defs) if r.partitions == DAILY]

    with dg.instance_for_test() as instance:
        results = run_isolating(
            defs, daily, FIRST, LAST, instance, resources=build_resources(settings)
        )
        first, *others = results
        assert not first.success
        message = failure_message(first)
        assert "2 of 7 partition(s) of raw/flights cannot be ingested" in message
        assert "flights/2013-01-02.csv:1: file is empty" in message
        assert "flights/2013-01-05.csv:1: header does not match the flights source" in message
        # The good stretches ran on their own and succeeded.
        assert [(run_partitions(r.dagster_run.tags), r.success) for r in others] == [
            ("2013-01-01..2013-01-01", True),
            ("2013-01-03..2013-01-04", True),
            ("2013-01-06..2013-01-07", True),
        ]
        status = instance.get_status_by_partition(
            RAW_FLIGHTS, DAILY.get_partition_keys()[:7], DAILY
        )
        assert status is not None
        assert {k for k, s in status.items() if s == dg.AssetPartitionStatus.FAILED} == {
            EMPTY.isoformat(),
            WRONG_HEADER.isoformat(),
        }
        good = [FIRST, date(2013, 1, 3), date(2013, 1, 4), date(2013, 1, 6), LAST]
        materialized = dg.AssetPartitionStatus.MATERIALIZED
        assert {k for k, s in status.items() if s == materialized} == {d.isoformat() for d in good}
        assert_frame_equal(mart_totals(settings), expected, check_dtypes=False)

        # After the fix, what is left to do is the two bad days, and only they run.
        for day in (EMPTY, WRONG_HEADER):
            land_sample(settings.landing_dir, day, day, ["flights"])
        left = unfinished_spans(defs, daily, FIRST, LAST, instance)
        assert left == [(EMPTY, EMPTY), (WRONG_HEADER, WRONG_HEADER)]
        for first_day, last_day in left:
            [again] = run_isolating(
                defs, daily, first_day, last_day, instance, resources=build_resources(settings)
            )
            assert again.success
        assert unfinished_spans(defs, daily, FIRST, LAST, instance) == []
    assert_frame_equal(
        mart_totals(settings),
        expected_from_files(settings.landing_dir),
        check_dtypes=False,
    )


def test_a_day_below_the_contract_pass_rate_does_not_hold_back_the_others(
    landed: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in INSTANCE_ENV.items():
        monkeypatch.setenv(name, value)
    day = landing_path(landed.landing_dir, "flights", SECOND)
    header, *lines = day.read_text().splitlines()
    month = header.split(",").index("month")
    broken = [
        ",".join(f if i != month else "13" for i, f in enumerate(line.split(","))) for line in lines
    ]
    write_atomic(day, ("\n".join([header, *broken]) + "\n").encode(), again=True)
    [daily] = [r for r in plan_runs(defs) if r.partitions == DAILY]

    with dg.instance_for_test() as instance:
        first, *others = run_isolating(
            defs, daily, FIRST, THIRD, instance, resources=build_resources(landed)
        )
        assert not first.success
        assert "contract_pass_rate failed" in failure_message(first)
        assert [(run_partitions(r.dagster_run.tags), r.success) for r in others] == [
            ("2013-01-01..2013-01-01", True),
            ("2013-01-03..2013-01-03", True),
        ]
        status = instance.get_status_by_partition(
            dg.AssetKey(["staged", "flights"]), DAILY.get_partition_keys()[:3], DAILY
        )
        assert status is not None
        assert status[SECOND.isoformat()] == dg.AssetPartitionStatus.FAILED
    days = mart_totals(landed)["flight_date"].to_list()
    assert days == [FIRST, THIRD]
