"""A range run the daemon launched (a UI backfill, a landing sensor's range) that fails for one
bad day: the isolation sensor runs the other days again, each stretch on its own.
"""

from datetime import date

import dagster as dg
import pytest
from polars.testing import assert_frame_equal

from lakehouse.definitions import build_resources, defs
from lakehouse.deploy.instance import INSTANCE_ENV
from lakehouse.partitions import DAILY
from lakehouse.runner import plan_runs, range_tags, run_partitions, run_planned
from lakehouse.sensors.isolation import ISOLATED_FROM, isolate_failed_ranges
from lakehouse.settings import Settings
from platform_tests.test_end_to_end import mart_totals
from platform_tests.test_isolation import land_with_bad_flights

FIRST, BAD, LAST = date(2013, 1, 1), date(2013, 1, 3), date(2013, 1, 5)


def test_a_new_sensor_starts_from_now_not_from_old_failures() -> None:
    with dg.instance_for_test() as instance:
        result = isolate_failed_ranges(dg.build_sensor_context(instance=instance, definitions=defs))
        assert isinstance(result, dg.SensorResult)
        assert not result.run_requests
        assert result.cursor is not None
        assert float(result.cursor) > 0


@pytest.mark.slow
def test_a_daemon_range_run_failing_for_one_day_is_narrowed_to_the_others(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in INSTANCE_ENV.items():  # as deployed: one planned event per asset
        monkeypatch.setenv(name, value)
    expected = land_with_bad_flights(settings, FIRST, LAST, {BAD: b""})
    [daily] = [r for r in plan_runs(defs) if r.partitions == DAILY]
    resources = build_resources(settings)
    # The job the daemon runs for a UI launch or a sensor's request (not the in-process one).
    job = dg.Definitions(
        assets=list(defs.assets or []), asset_checks=defs.asset_checks, resources=resources
    ).resolve_implicit_global_asset_job_def()

    with dg.instance_for_test() as instance:
        failed = job.execute_in_process(
            instance=instance,
            tags=range_tags(FIRST, LAST),
            asset_selection=list(daily.keys),
            raise_on_error=False,
        )
        assert not failed.success
        sensor = dg.build_sensor_context(instance=instance, definitions=defs, cursor="0")
        result = isolate_failed_ranges(sensor)
        assert isinstance(result, dg.SensorResult)
        requests = result.run_requests or []
        assert [run_partitions(r.tags) for r in requests] == [
            "2013-01-01..2013-01-02",
            "2013-01-04..2013-01-05",
        ]
        run_id = failed.dagster_run.run_id
        assert {r.tags[ISOLATED_FROM] for r in requests} == {run_id}
        assert {r.run_key for r in requests} == {
            f"{run_id}:2013-01-01..2013-01-02",
            f"{run_id}:2013-01-04..2013-01-05",
        }
        for request in requests:
            assert set(request.asset_selection or []) == set(daily.keys)
            narrowed = job.execute_in_process(
                instance=instance,
                tags=request.tags,
                asset_selection=list(request.asset_selection or []),
                raise_on_error=False,
            )
            assert narrowed.success

        # Seen once: the next tick starts after the failure, and the narrowed runs succeeded.
        again = isolate_failed_ranges(
            dg.build_sensor_context(instance=instance, definitions=defs, cursor=result.cursor)
        )
        assert isinstance(again, dg.SensorResult)
        assert not again.run_requests

        # `lakehouse materialize`'s in-process runs are narrowed by their runner, not here.
        in_process = run_planned(defs, daily, FIRST, LAST, instance, resources=resources)
        assert not in_process.success
        later = isolate_failed_ranges(
            dg.build_sensor_context(instance=instance, definitions=defs, cursor=again.cursor)
        )
        assert isinstance(later, dg.SensorResult)
        assert not later.run_requests
    assert_frame_equal(mart_totals(settings), expected)
