"""How new data travels downstream on its own: declarative automation."""

import dagster as dg

AC = dg.AutomationCondition
# The daemon looks at sensors at most every 5 s: an interval just under that is every look.
EVERY_DAEMON_LOOP_SECONDS = 4
# Eager, for every partition rather than only the newest (days arrive late and out of order,
# and a sample year lies in the past).
_EAGER_ANY_DAY = AC.eager().without(AC.in_latest_time_window())

PROPAGATE = (_EAGER_ANY_DAY & AC.all_deps_blocking_checks_passed()).with_label(
    "new upstream data, once its blocking checks passed"
)
"""Build when upstream data changed, never past a dependency whose blocking check failed."""

PROPAGATE_OVER_DAYS_PRESENT = (
    _EAGER_ANY_DAY.without(~AC.any_deps_missing())
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
