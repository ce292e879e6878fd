"""One landing run for a day that two sources deliver together.

Flights and weather meet downstream (`mart_delay_weather`). When each source's sensor starts its
own run for a day, neither run can build the mart (each lacks the other's day) and automation
builds it a loop later. Instead the sources of one calendar that meet downstream are partners:
the sensor of the first by name takes a partner's delivery of the same day into its run, and the
partner's sensor defers that delivery meanwhile. The deferral is bounded (`PARTNER_WAIT_SECONDS`),
so a partner whose run fails or never comes cannot hold a delivery back.

Both sensors judge from the landing zone and the raw tables alone (no state shared between
them): a partner's delivery is taken along when it is complete, readable, not yet held by its raw
table, and arrived together with the day's own delivery (within a daemon loop; one that came
earlier was requested by its own sensor already).
"""

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
from dagster._core.definitions.assets.graph.base_asset_graph import BaseAssetGraph

from lakehouse.assets.automation import EVERY_DAEMON_LOOP_SECONDS
from lakehouse.dates import days_between
from lakehouse.declarations import declared_sources
from lakehouse.landing import is_complete, list_landing_files, marker_mtime_ns
from lakehouse.partitions import daily_partitions
from lakehouse.resources.lake_io import Lake
from lakehouse.resources.landing import LandingZone
from lakehouse.runner import run_partitions
from lakehouse.sensors.chain import graph_of
from lakehouse.sensors.planning import FileStat, Inspection, PlannedRun
from lakehouse.sources import Source, sources

# How long a sensor defers a delivery its partner's sensor is to take along: a few daemon loops
# (the partner's look, the queue, the run reaching its raw step).
PARTNER_WAIT_SECONDS = 30
TOGETHER_NS = EVERY_DAEMON_LOOP_SECONDS * 1_000_000_000
# A run in these states may still write its raw tables.
UNFINISHED = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


@dataclass(frozen=True)
class Arrival:
    """A partner's complete, readable delivery for a day that its raw table does not hold."""

    arrived_ns: int


def raw_key(source: str) -> dg.AssetKey:
    """The raw table of a declared source."""
    return dg.AssetKey(["raw", source])


@functools.cache
def same_calendar(source: str) -> tuple[str, ...]:
    """The other daily sources partitioned by the same days as `source` (none if it is not
    daily): the raw tables its sensor may take along.
    """
    specs = declared_sources()
    own = specs.get(source)
    if own is None or not own.daily:
        return ()
    days = daily_partitions(own)
    return tuple(
        name
        for name, spec in sorted(specs.items())
        if name != source and spec.daily and daily_partitions(spec) == days
    )


def partners(graph: BaseAssetGraph, source: str) -> list[Source]:
    """The sources on `source`'s calendar whose raw tables meet its raw table downstream, by
    name.
    """
    reached = _downstream(graph, raw_key(source))
    landing_views = sources()
    return [
        landing_views[name]
        for name in same_calendar(source)
        if graph.has(raw_key(name)) and reached & _downstream(graph, raw_key(name))
    ]


def _downstream(graph: BaseAssetGraph, root: dg.AssetKey) -> set[dg.AssetKey]:
    found: set[dg.AssetKey] = set()
    frontier = [root] if graph.has(root) else []
    while frontier:
        for child in graph.get(frontier.pop()).child_keys:
            if child not in found:
                found.add(child)
                frontier.append(child)
    return found


def pending_arrivals(
    partner: Source,
    days: Sequence[date],
    landing: LandingZone,
    lake: Lake,
    inspect: Callable[[Source, Path], Inspection],
    now_ns: int,
) -> dict[date, Arrival]:
    """The partner's complete, readable deliveries for `days` that its raw table does not
    hold yet (what its own sensor would request a run for).
    """
    wanted = set(days)
    complete: dict[date, tuple[Path, int]] = {}
    for file in list_landing_files(landing.path, partner.name).files:
        if file.day not in wanted:
            continue
        try:
            stat = file.path.stat()
        except FileNotFoundError:  # moved away since the listing
            continue
        marker = marker_mtime_ns(file.path)
        if is_complete(stat.st_mtime_ns, marker, now_ns=now_ns, quiet_ns=landing.quiet_ns):
            complete[file.day] = (file.path, max(stat.st_mtime_ns, stat.st_ctime_ns))
    if not complete:
        return {}
    held = lake.held_hashes(raw_key(partner.name), sorted(complete))
    found = {}
    for day, (path, arrived_ns) in complete.items():
        inspection = inspect(partner, path)
        if inspection.problem is None and not inspection.held_by(held.get(day)):
            found[day] = Arrival(arrived_ns)
    return found


def together(a_ns: int, b_ns: int) -> bool:
    """Whether two deliveries arrived within one daemon loop of each other."""
    return abs(a_ns - b_ns) <= TOGETHER_NS


def planned_by(runs: Sequence[dg.DagsterRun], raw: dg.AssetKey, day: date) -> bool:
    """Whether one of `runs` (unfinished ones) builds `raw` for `day`."""
    wanted = day.isoformat()
    for run in runs:
        if raw not in (run.asset_selection or ()):
            continue
        covered = run_partitions(run.tags)
        first, _, last = covered.partition("..")
        if covered == wanted or (last and first <= wanted <= last):
            return True
    return False


@dataclass
class Pairing:
    """On one tick of a daily source's sensor: the partners of its recent deliveries, whose
    deliveries of the same days it takes along, or to whose runs it leaves its own.
    """

    raw: dg.AssetKey
    arrived: dict[date, int]  # own deliveries recent enough to pair, by day
    earlier: list[Source]  # partners whose sensors take this source's deliveries along
    later: list[Source]  # partners whose deliveries this sensor takes along
    pending: Callable[[Source], dict[date, Arrival]]
    unfinished: Callable[[], list[dg.DagsterRun]]

    @classmethod
    def for_tick(
        cls,
        context: dg.SensorEvaluationContext,
        source: Source,
        listing: Sequence[FileStat],
        landing: LandingZone,
        lake: Lake,
        inspect: Callable[[Source, Path], Inspection],
        now_ns: int,
    ) -> "Pairing":
        """The pairing of this tick: none without a repository, or for deliveries that
        arrived longer ago than the wait (or in the future: a clock that is off pairs nothing).
        """
        wait_ns = PARTNER_WAIT_SECONDS * 1_000_000_000
        arrived = {
            s.day: s.arrived_ns
            for s in listing
            if s.day is not None and 0 <= now_ns - s.arrived_ns < wait_ns
        }
        graph = graph_of(context)
        mates = partners(graph, source.name) if graph is not None and arrived else []

        @functools.cache
        def pending(partner: Source) -> dict[date, Arrival]:
            return pending_arrivals(partner, sorted(arrived), landing, lake, inspect, now_ns)

        @functools.cache
        def unfinished() -> list[dg.DagsterRun]:
            return list(context.instance.get_runs(dg.RunsFilter(statuses=UNFINISHED)))

        return cls(
            raw_key(source.name),
            arrived,
            [p for p in mates if p.name < source.name],
            [p for p in mates if p.name > source.name],
            pending,
            unfinished,
        )

    def _paired(self, partner: Source, day: date) -> bool:
        found = self.pending(partner).get(day)
        own = self.arrived.get(day)
        return found is not None and own is not None and together(found.arrived_ns, own)

    def defers(self, stat: FileStat) -> bool:
        """Whether a recent delivery is left, for now, to an earlier partner: its sensor takes
        the delivery along with its own of the same day, or its run doing so is under way.
        """
        if stat.day not in self.arrived or not self.earlier:
            return False
        day = stat.day
        return any(self._paired(p, day) for p in self.earlier) or planned_by(
            self.unfinished(), self.raw, day
        )

    def taken_along(self, run: PlannedRun) -> list[dg.AssetKey]:
        """The raw tables of the later partners that delivered every day of the run with it
        (and whose own sensors have not requested those days already).
        """
        days = days_between(run.start, run.end)
        return [
            raw_key(p.name)
            for p in self.later
            if all(
                self._paired(p, day) and not planned_by(self.unfinished(), raw_key(p.name), day)
                for day in days
            )
        ]
