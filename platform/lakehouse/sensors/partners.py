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
from lakehouse.resources.lake_io import Lake
from lakehouse.resources.landing import LandingZone
from lakehouse.sensors.planning import FileStat, Inspection, PlannedRun
from lakehouse.sources import Source, landing_source

# How long a sensor defers a delivery its partner's sensor is to take along: a few daemon loops
# (the partner's look, the queue, the run reaching its raw step).
PARTNER_WAIT_SECONDS = 30
TOGETHER_NS = EVERY_DAEMON_LOOP_SECONDS * 1_000_000_000


@dataclass(frozen=True)
class Arrival:
    """A partner's delivery for a day that its raw table does not hold yet."""

    arrived_ns: int
    ready: bool  # complete and readable: a run may ingest it now


def raw_key(source: str) -> dg.AssetKey:
    """The raw table of a declared source."""
    return dg.AssetKey(["raw", source])


@functools.cache
def _daily_sources() -> dict[str, Source]:
    return {name: landing_source(s) for name, s in declared_sources().items() if s.daily}


def partners(graph: BaseAssetGraph, source: str) -> list[Source]:
    """The other daily sources on `source`'s calendar whose raw tables meet its raw table
    downstream, by name.
    """
    own = raw_key(source)
    if not graph.has(own):
        return []
    days = graph.get(own).partitions_def
    reached = _downstream(graph, own)
    return [
        other
        for name, other in sorted(_daily_sources().items())
        if name != source
        and graph.has(raw_key(name))
        and graph.get(raw_key(name)).partitions_def == days
        and reached & _downstream(graph, raw_key(name))
    ]


def _downstream(graph: BaseAssetGraph, root: dg.AssetKey) -> set[dg.AssetKey]:
    found: set[dg.AssetKey] = set()
    frontier = [root]
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
    """The partner's deliveries for `days` that its raw table does not hold yet."""
    wanted = set(days)
    files = [f for f in list_landing_files(landing.path, partner.name).files if f.day in wanted]
    if not files:
        return {}
    held = lake.held_hashes(raw_key(partner.name), [f.day for f in files])
    found = {}
    for file in files:
        stat = file.path.stat()
        inspection = inspect(partner, file.path)
        if inspection.held_by(held.get(file.day)):
            continue
        complete = is_complete(
            stat.st_mtime_ns, marker_mtime_ns(file.path), now_ns=now_ns, quiet_ns=landing.quiet_ns
        )
        found[file.day] = Arrival(
            arrived_ns=max(stat.st_mtime_ns, stat.st_ctime_ns),
            ready=complete and inspection.problem is None,
        )
    return found


def together(a_ns: int, b_ns: int) -> bool:
    """Whether two deliveries arrived within one daemon loop of each other."""
    return abs(a_ns - b_ns) <= TOGETHER_NS


@dataclass
class Pairing:
    """On one tick of a daily source's sensor: its recent deliveries' partners (`partners.py`),
    whose deliveries of the same days it takes along or defers its own to.
    """

    arrived: dict[date, int]  # own deliveries recent enough to pair, by day
    earlier: list[Source]  # partners whose sensors take this source's deliveries along
    later: list[Source]  # partners whose deliveries this sensor takes along
    pending: Callable[[Source], dict[date, Arrival]]

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
        """The pairing of this tick (none without a repository, or for older deliveries)."""
        wait_ns = PARTNER_WAIT_SECONDS * 1_000_000_000
        arrived = {
            s.day: s.arrived_ns
            for s in listing
            if s.day is not None and now_ns - s.arrived_ns < wait_ns
        }
        graph = context.repository_def.asset_graph if context.repository_def else None
        mates = partners(graph, source.name) if graph is not None and arrived else []

        @functools.cache
        def pending(partner: Source) -> dict[date, Arrival]:
            return pending_arrivals(partner, sorted(arrived), landing, lake, inspect, now_ns)

        return cls(
            arrived,
            [p for p in mates if p.name < source.name],
            [p for p in mates if p.name > source.name],
            pending,
        )

    def _paired(self, partner: Source, day: date) -> bool:
        found = self.pending(partner).get(day)
        own = self.arrived.get(day)
        return (
            found is not None
            and found.ready
            and own is not None
            and together(found.arrived_ns, own)
        )

    def defers(self, stat: FileStat) -> bool:
        """Whether a recent delivery is left to an earlier partner's run, which takes it along
        with its own delivery of the same day.
        """
        return stat.day is not None and any(self._paired(p, stat.day) for p in self.earlier)

    def taken_along(self, run: PlannedRun) -> list[dg.AssetKey]:
        """The raw tables of the later partners that delivered every day of the run with it."""
        days = days_between(run.start, run.end)
        return [raw_key(p.name) for p in self.later if all(self._paired(p, day) for day in days)]
