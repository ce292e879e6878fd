"""How new data travels downstream on its own: declarative automation."""

import dagster as dg

AC = dg.AutomationCondition
# The daemon looks at sensors at most every 5 s: an interval just under that is every look.
EVERY_DAEMON_LOOP_SECONDS = 4

CARRIED_DOWNSTREAM = "lakehouse/carried_downstream"
"""Run tag ("true"): the run builds every automated asset downstream of what it builds
(`sensors/chain.py: carries_downstream`), so its updates give automation nothing to do."""

# Dagster's any_deps_updated ignores a dependency's update by a run that also targeted the
# asset, but it looks at the dependency's latest materialization only: after a range run, on
# the range's last day alone. A tick that fell while such a run was between a dependency and
# the asset (the asset already written, but after the tick's snapshot) asked for every other
# day again. A run that carries everything downstream says so in a tag, which Dagster reads
# for every partition's updates.
_UPDATED_BY_ANOTHER_RUN = (
    AC.newly_updated()
    & ~AC.executed_with_root_target()
    & ~AC.all_new_updates_have_run_tags(tag_values={CARRIED_DOWNSTREAM: "true"})
).with_label("newly_updated_by_a_run_not_building_it")
_ANY_DEPS_UPDATED = AC.any_deps_match(_UPDATED_BY_ANOTHER_RUN | AC.will_be_requested()).with_label(
    "any_deps_updated"
)
# Eager, for every partition rather than only the newest (days arrive late and out of order,
# and a sample year lies in the past).
_EAGER_ANY_DAY = AC.eager().without(AC.in_latest_time_window())

PROPAGATE = (
    (_EAGER_ANY_DAY & AC.all_deps_blocking_checks_passed())
    .replace("any_deps_updated", _ANY_DEPS_UPDATED)
    .with_label("new upstream data, once its blocking checks passed")
)
"""Build when upstream data changed, never past a dependency whose blocking check failed."""

PROPAGATE_OVER_DAYS_PRESENT = (
    (
        _EAGER_ANY_DAY.without(~AC.any_deps_missing())
        & AC.all_deps_match(~AC.missing())  # every dependency has at least one day built
        & AC.all_deps_blocking_checks_passed()
    )
    .replace("any_deps_updated", _ANY_DEPS_UPDATED)
    .with_label("new upstream data on any day present, once its blocking checks passed")
)
"""For a table over every day (routes): a day not delivered yet must not hold it back."""

BUILD_WHEN_MISSING = (AC.missing() & ~AC.in_progress()).with_label("missing")
"""For a table with no upstream (the calendar): there is no update to follow."""

AUTOMATION_SENSOR = dg.AutomationConditionSensorDefinition(
    "propagate",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    # A mart that waits on two sources delivered together is built by this sensor, right after
    # both landing runs.
    minimum_interval_seconds=EVERY_DAEMON_LOOP_SECONDS,
    description="Carries new raw partitions and reference snapshots down to the marts.",
)
