"""Automation after a range run: what `PROPAGATE` asks for once the run's dependency days are
updated but the asset's are not (a tick between the run's two steps, or a failed step).
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
    return dg.MaterializeResult()


def downstream_asset(*, fails: bool) -> dg.AssetsDefinition:
    @dg.asset(
        name="downstream",
        deps=[upstream],
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


@pytest.fixture
def instance(monkeypatch: pytest.MonkeyPatch) -> Iterator[dg.DagsterInstance]:
    for name, value in INSTANCE_ENV.items():
        monkeypatch.setenv(name, value)
    with dg.instance_for_test() as instance:
        yield instance


def requested_after_range_run(instance: dg.DagsterInstance, tags: dict[str, str]) -> int:
    """Days of `downstream` automation asks for after a range run of both assets that updated
    the dependency's days and failed before the asset's.
    """
    assert dg.materialize([upstream, DOWNSTREAM], instance=instance, tags=RANGE).success
    settled = evaluated(instance)
    # As the daemon launches it: the run records the assets it targets.
    failing = downstream_asset(fails=True)
    job = dg.Definitions(
        assets=[upstream, failing], jobs=[dg.define_asset_job("both", [upstream, failing])]
    ).resolve_job_def("both")
    result = job.execute_in_process(
        instance=instance,
        tags={**RANGE, **tags},
        asset_selection=[upstream.key, failing.key],
        raise_on_error=False,
    )
    assert not result.success
    return evaluated(instance, settled.cursor).get_num_requested(DOWNSTREAM.key)


def evaluated(
    instance: dg.DagsterInstance, cursor: AssetDaemonCursor | None = None
) -> dg.EvaluateAutomationConditionsResult:
    """One automation tick over the two assets, after the tick that left `cursor`."""
    with warnings.catch_warnings():  # the tester passes a beta parameter itself
        warnings.simplefilter("ignore", dg.BetaWarning)
        return dg.evaluate_automation_conditions(
            defs=dg.Definitions(assets=[upstream, DOWNSTREAM]), instance=instance, cursor=cursor
        )


def test_a_run_carrying_everything_downstream_leaves_automation_nothing_on_any_day(
    instance: dg.DagsterInstance,
) -> None:
    assert requested_after_range_run(instance, CARRIED) == 0


def test_without_the_tag_dagster_ignores_the_run_s_update_on_its_last_day_only(
    instance: dg.DagsterInstance,
) -> None:
    # What a landing run that leaves an asset to automation gets, and why the tag exists.
    assert requested_after_range_run(instance, {}) == len(DAYS.get_partition_keys()) - 1
