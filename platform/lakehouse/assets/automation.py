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
# the range's last day alone. A run that carries everything downstream says so in a tag,
# which Dagster reads for every partition's updates.
_UPDATED_BY_ANOTHER_RUN = (
    AC.newly_updated()
    & ~AC.executed_with_root_target()
    & ~AC.all_new_updates_have_run_tags(tag_values={CARRIED_DOWNSTREAM: "true"})
).with_label("newly_updated_by_a_run_not_building_it")
_ANY_DEPS_UPDATED = AC.any_deps_match(_UPDATED_BY_ANOTHER_RUN | AC.will_be_requested()).with_label(
    "any_deps_updated"
)
_NEW_DATA = (AC.newly_missing() | _ANY_DEPS_UPDATED).with_label("new upstream data")
_NOT_UNDER_WAY = (~AC.any_deps_in_progress() & ~AC.in_progress()).with_label("nothing under way")

# Eager on every partition (days arrive late and out of order, and a sample year lies in the
# past), except that new data counts only for a day whose dependencies are all there. Dagster's
# eager remembers it for the others (every day not built yet, from its first tick) until the
# day is built, and a tick's reads are not one snapshot (an asset's update is bounded by the
# event id the tick started at, its run in progress is read later): a tick that fell while a
# landing run was between a day's dependency and the day itself saw neither and asked for the
# day again. A day whose dependency arrives later gets the dependency's update then, unless
# the run that brought it also built the day.
PROPAGATE = (
    (_NEW_DATA & ~AC.any_deps_missing()).since_last_handled()
    & ~AC.any_deps_missing()
    & _NOT_UNDER_WAY
    & AC.all_deps_blocking_checks_passed()
).with_label("new upstream data, once its blocking checks passed")
"""Build when upstream data changed, never past a dependency whose blocking check failed."""

PROPAGATE_OVER_DAYS_PRESENT = (
    _NEW_DATA.since_last_handled()
    & _NOT_UNDER_WAY
    & AC.all_deps_match(~AC.missing())  # every dependency has at least one day built
    & AC.all_deps_blocking_checks_passed()
).with_label("new upstream data on any day present, once its blocking checks passed")
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
