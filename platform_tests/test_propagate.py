"""Automation after a landing range run: what `PROPAGATE` asks for once the run has updated a
table's dependency on every day of its range but not the table, as a tick between the run's
two steps sees it (or after a step that failed).
"""

import warnings
from collections.abc import Iterator

import dagster as dg
import pytest
from dagster._core.definitions.asset_daemon_cursor import AssetDaemonCursor

from lakehouse.assets.automation import CARRIED_DOWNSTREAM, PROPAGATE
from lakehouse.deploy.instance import INSTANCE_ENV

DAYS = dg.DailyPartitionsDefinition(start_date="2013-01-01", end_date="2013-01-11")
RANGE = {
    "dagster/asset_partition_range_start": "2013-01-01",
    "dagster/asset_partition_range_end": "2013-01-10",
}
CARRIED = {CARRIED_DOWNSTREAM: "true"}


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def upstream() -> dg.MaterializeResult:
    """The raw days a landing run brings."""
    return dg.MaterializeResult()


@dg.asset
def reference() -> dg.MaterializeResult:
    """A reference table every day reads (as staged flights read the airports)."""
    return dg.MaterializeResult()


def downstream_asset(*, fails: bool) -> dg.AssetsDefinition:
    @dg.asset(
        name="downstream",
        deps=[upstream, reference],
        partitions_def=DAYS,
        backfill_policy=dg.BackfillPolicy.single_run(),
        automation_condition=PROPAGATE,
    )
    def downstream() -> dg.MaterializeResult:
        if fails:
            msg = "the step after the dependency's failed"
            raise RuntimeError(msg)
        return dg.MaterializeResult()

    return downstream


DOWNSTREAM = downstream_asset(fails=False)
DAY_COUNT = len(DAYS.get_partition_keys())


@pytest.fixture
def instance(monkeypatch: pytest.MonkeyPatch) -> Iterator[dg.DagsterInstance]:
    for name, value in INSTANCE_ENV.items():
        monkeypatch.setenv(name, value)
    with dg.instance_for_test() as instance:
        yield instance


def evaluated(
    instance: dg.DagsterInstance, cursor: AssetDaemonCursor | None = None
) -> dg.EvaluateAutomationConditionsResult:
    """One automation tick over the assets, after the tick that left `cursor`."""
    with warnings.catch_warnings():  # the tester passes a beta parameter itself
        warnings.simplefilter("ignore", dg.BetaWarning)
        return dg.evaluate_automation_conditions(
            defs=dg.Definitions(assets=[upstream, reference, DOWNSTREAM]),
            instance=instance,
            cursor=cursor,
        )


def requested_after_landing_run(
    instance: dg.DagsterInstance, tags: dict[str, str], *, days_built_before: bool
) -> int:
    """Days of `downstream` automation asks for after a range run of `upstream` and
    `downstream` whose second step failed: the tick sees the dependency's days updated and
    the table's neither updated nor in progress.
    """
    assert dg.materialize([reference], instance=instance).success
    if days_built_before:
        assert dg.materialize([upstream, DOWNSTREAM], instance=instance, tags=RANGE).success
    cursor = evaluated(instance).cursor
    if not days_built_before:
        # A new reference snapshot: every day of the table has new upstream data, but without
        # its raw day none can be built yet.
        assert dg.materialize([reference], instance=instance).success
        cursor = evaluated(instance, cursor).cursor
    # As the daemon launches it: the run records the assets it targets.
    failing = downstream_asset(fails=True)
    job = dg.Definitions(
        assets=[upstream, reference, failing],
        jobs=[dg.define_asset_job("landing", [upstream, failing])],
    ).resolve_job_def("landing")
    result = job.execute_in_process(
        instance=instance,
        tags={**RANGE, **tags},
        asset_selection=[upstream.key, failing.key],
        raise_on_error=False,
    )
    assert not result.success
    return evaluated(instance, cursor).get_num_requested(DOWNSTREAM.key)


def test_days_rebuilt_by_a_run_carrying_everything_downstream_are_left_to_it(
    instance: dg.DagsterInstance,
) -> None:
    assert requested_after_landing_run(instance, CARRIED, days_built_before=True) == 0


def test_without_the_tag_dagster_ignores_the_run_s_update_on_its_last_day_only(
    instance: dg.DagsterInstance,
) -> None:
    # What a landing run that leaves the table to automation gets, and why the tag exists.
    requested = requested_after_landing_run(instance, {}, days_built_before=True)
    assert requested == DAY_COUNT - 1


def test_new_days_are_left_to_the_run_that_brings_them_after_a_snapshot_came_first(
    instance: dg.DagsterInstance,
) -> None:
    # Dagster's eager remembered the snapshot's new data for the days it could not build yet,
    # and asked for all ten here although the run that brought their raw days builds them.
    assert requested_after_landing_run(instance, CARRIED, days_built_before=False) == 0


def test_new_days_brought_by_a_run_that_leaves_them_are_built_by_automation(
    instance: dg.DagsterInstance,
) -> None:
    requested = requested_after_landing_run(instance, {}, days_built_before=False)
    assert requested == DAY_COUNT - 1
