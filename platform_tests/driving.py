"""Drive the platform the way the daemon does, one tick at a time, without a daemon: landing
sensors, their runs, then declarative automation and its runs, until nothing is left to do.
"""

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

import dagster as dg
from dagster._core.definitions.asset_daemon_cursor import AssetDaemonCursor  # the tester's own type

from lakehouse.dates import consecutive_spans, keys_to_dates
from lakehouse.definitions import ASSETS, SENSORS, defs
from lakehouse.runner import materialize_range

LANDING_SENSORS = [s for s in SENSORS if s.name.endswith("_landing")]


@dataclass
class Daemon:
    """A stand-in for the Dagster daemon over one instance: sensor cursors, run keys already
    started, the automation cursor, and every run it launched.
    """

    instance: dg.DagsterInstance
    resources: Mapping[str, object]
    cursors: dict[str, str | None] = field(default_factory=dict)
    run_keys: set[str] = field(default_factory=set)
    automation_cursor: AssetDaemonCursor | None = None
    runs: list[dg.ExecuteInProcessResult] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The automation sensor runs from the start: its first tick is the baseline later
        # ticks compare against, before any file arrives.
        self.automate()

    def sense(self) -> int:
        """One tick of every landing sensor, running what they request (each run key once, as
        the daemon does). Returns the number of runs started.
        """
        started = 0
        for sensor in LANDING_SENSORS:
            with dg.build_sensor_context(
                instance=self.instance,
                cursor=self.cursors.get(sensor.name),
                resources=self.resources,
                definitions=dg.Definitions(
                    assets=ASSETS, sensors=[sensor], resources=self.resources
                ),
            ) as context:
                result = sensor(context)
            assert isinstance(result, dg.SensorResult)
            self.cursors[sensor.name] = result.cursor
            for event in result.asset_events:
                if isinstance(event, dg.AssetObservation):
                    file = str(event.metadata["rejected_file"].value)
                    self.rejected[file] = str(event.metadata["reason"].value)
            for request in result.run_requests or []:
                if request.run_key in self.run_keys:
                    continue
                self.run_keys.add(str(request.run_key))
                self._run(request)
                started += 1
        return started

    def _run(self, request: dg.RunRequest) -> None:
        selection = dg.AssetSelection.assets(*(request.asset_selection or []))
        if request.partition_key is not None:
            start = end = date.fromisoformat(request.partition_key)
        elif "dagster/asset_partition_range_start" in request.tags:
            start = date.fromisoformat(request.tags["dagster/asset_partition_range_start"])
            end = date.fromisoformat(request.tags["dagster/asset_partition_range_end"])
        else:  # an unpartitioned reference table: the range tags are ignored by it
            start = end = date(2013, 1, 1)
        self.runs.append(self._materialize(start, end, selection))

    def _materialize(
        self, start: date, end: date, selection: dg.AssetSelection
    ) -> dg.ExecuteInProcessResult:
        return materialize_range(
            defs,
            start,
            end,
            self.instance,
            resources=self.resources,
            selection=selection,
            log_level="ERROR",
        )

    def automate(self) -> list[tuple[str, str | None]]:
        """One tick of declarative automation, running what it requests as the daemon's
        backfills do: each asset only for its own requested partitions (assets requested for
        the same days share runs, one per span of consecutive days), upstream first. Returns
        the (asset, partition) pairs requested.
        """
        with warnings.catch_warnings():  # the tester passes a beta parameter itself
            warnings.simplefilter("ignore", dg.BetaWarning)
            result = dg.evaluate_automation_conditions(
                defs=defs, instance=self.instance, cursor=self.automation_cursor
            )
        self.automation_cursor = result.cursor
        groups: dict[frozenset[str | None], list[dg.AssetKey]] = {}
        for key in {r.key for r in result.results if isinstance(r.key, dg.AssetKey)}:
            if keys := result.get_requested_partitions(key):
                groups.setdefault(frozenset(keys), []).append(key)
        order = {k: n for n, k in enumerate(defs.resolve_asset_graph().toposorted_asset_keys)}
        for partitions, keys in sorted(groups.items(), key=lambda g: min(order[k] for k in g[1])):
            days = keys_to_dates(sorted(p for p in partitions if p is not None))
            for start, end in consecutive_spans(days) or [(date(2013, 1, 1),) * 2]:
                self.runs.append(self._materialize(start, end, dg.AssetSelection.assets(*keys)))
        return sorted(
            (key.to_user_string(), p)
            for partitions, keys in groups.items()
            for key in keys
            for p in sorted(partitions, key=lambda p: p or "")
        )

    def settle(self, max_ticks: int = 12) -> None:
        """Tick sensors and automation until a tick does nothing (files waiting to hold still
        need a second look, so a quiet tick is taken only after both have nothing to do).
        """
        for _ in range(max_ticks):
            started = self.sense()
            requested = self.automate()
            if not started and not requested and not self.sense():
                return
        msg = f"still busy after {max_ticks} ticks"
        raise AssertionError(msg)
