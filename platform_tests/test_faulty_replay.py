"""A replay with every kind of fault, through sensors and automation from an empty instance:
each fault ends as its manifest says, no row is unaccounted, and the marts equal an independent
count of the rows that were accepted.
"""

import random
from collections import Counter
from datetime import date

import dagster as dg
import polars as pl
import pytest

from lakehouse.definitions import build_resources
from lakehouse.landing import content_hash
from lakehouse.resources.lake_io import Lake
from lakehouse.settings import Settings
from lakehouse.simulator.faults import Fault, Injected, Outcome, Step, inject
from lakehouse.simulator.replay import daily_steps, deliver, land_sample
from lakehouse.simulator.sample import FLIGHTS, WEATHER
from platform_tests.driving import Daemon
from platform_tests.test_end_to_end import mart_totals

pytestmark = pytest.mark.slow
FIRST, LAST = date(2013, 1, 1), date(2013, 1, 8)


def faulty_replay() -> tuple[list[Step], list[Injected]]:
    """Eight days of flights and weather with a fault on every delivery, every kind at least
    once (the first seed that covers them all, so the test is deterministic).
    """
    clean = daily_steps(FIRST, LAST, [FLIGHTS, WEATHER])
    for seed in range(1000):
        steps, injected = inject(clean, 1.0, random.Random(seed))
        if {i.fault for i in injected} == set(Fault):
            return steps, injected
    raise AssertionError("no seed covers every fault")


def accepted_flights(clean: list[Step], injected: list[Injected]) -> pl.DataFrame:
    """Flights and cancellations per day, counted from the clean sample lines minus the lines
    the manifest says must be quarantined or never arrived; nothing of the platform is used.
    """
    faults = {(i.source, i.day): i for i in injected}
    days, cancelled = Counter[date](), Counter[date]()
    for step in clean:
        if step.source != "flights":
            continue
        fault = faults.get((step.source, step.day))
        lines = step.body.decode().splitlines()[1:]
        if fault is not None and fault.expect is Outcome.REJECTED:
            continue
        keep = range(2, len(lines) + 2)
        if fault is not None and fault.fault is Fault.TRUNCATED:
            keep = range(2, fault.lines[0])
        bad = set(fault.lines) if fault is not None else set()
        for number in keep:
            if number not in bad:
                fields = lines[number - 2].split(",")
                days[step.day] += 1
                cancelled[step.day] += fields[3] == "NA"
    return pl.DataFrame(
        {
            "flight_date": sorted(days),
            "flights": [days[d] for d in sorted(days)],
            "cancelled": [cancelled[d] for d in sorted(days)],
        }
    )


def test_every_injected_fault_is_accounted_for(settings: Settings) -> None:
    steps, injected = faulty_replay()
    with dg.instance_for_test() as instance:
        daemon = Daemon(instance, build_resources(settings))  # from `make clean`'s state
        land_sample(settings.landing_dir, FIRST, LAST, ["airlines", "airports", "planes"])
        for step in steps:  # each delivery flows to the marts before the next one lands
            deliver([step], settings.landing_dir)
            daemon.settle()
        assert all(run.success for run in daemon.runs)

        quarantine = {
            source: pl.read_delta(str(settings.lake_dir / "staged" / f"{source}_quarantine"))
            for source in ("flights", "weather")
        }
        lake = Lake(base_dir=str(settings.lake_dir))
        held_days = {
            source: lake.held_hashes(
                dg.AssetKey(["raw", source]),
                [date.fromisoformat(str(f.day)) for f in injected if f.source == source],
            )
            for source in ("flights", "weather")
        }
        for fault in injected:
            file = f"{fault.source}/{fault.day}.csv"
            raw = held_days[fault.source].get(date.fromisoformat(str(fault.day)))
            quarantined = quarantine[fault.source].filter(pl.col("_source_file") == file)
            if fault.expect is Outcome.QUARANTINE:
                assert sorted(quarantined["_line_number"]) == fault.lines, fault
            elif fault.expect is Outcome.REJECTED:
                assert file in daemon.rejected, fault
                assert raw is None, fault  # nothing of a refused file was ingested
            else:  # a no-op or a reprocess ends with the file on disk, ingested once more
                on_disk = (settings.landing_dir / file).read_bytes()
                assert raw == content_hash(on_disk), fault
                assert quarantined.height == 0, fault
        duplicated = [i for i in injected if i.fault is Fault.DUPLICATE]
        for fault in duplicated:  # the second, identical delivery started no run
            keys = [k for k in daemon.run_keys if k.startswith(f"{fault.source}:{fault.day}..")]
            assert len(keys) == 1, (fault, keys)

        # Every row of every ingested file is staged, quarantined or a removed duplicate.
        balances = [
            e
            for run in daemon.runs
            for e in run.get_asset_check_evaluations()
            if e.check_name == "reconciliation"
        ]
        assert balances
        assert all(e.passed for e in balances)

    clean = daily_steps(FIRST, LAST, [FLIGHTS, WEATHER])
    expected = accepted_flights(clean, injected)
    assert mart_totals(settings).equals(expected.cast(mart_totals(settings).schema))
