"""The landing sensors on a real instance, driven tick by tick with build_sensor_context."""

import os
import time
from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from dagster._core.definitions.sensor_definition import SensorExecutionData
from dagster._core.utils import make_new_run_id

import lakehouse.sensors.landing as landing_sensor
import lakehouse.sensors.partners as partners
from lakehouse.definitions import ASSETS, SENSORS, build_resources
from lakehouse.landing import content_hash, marker_path, write_atomic
from lakehouse.settings import Settings
from lakehouse.sources import Cadence, Source
from platform_tests.factories import store_daily

HEADER = b"year,month,day,dep_time,sched_dep_time,dep_delay,arr_time,sched_arr_time,arr_delay,carrier,flight,tailnum,origin,dest,air_time,distance,hour,minute,time_hour\n"  # noqa: E501
RAW_FLIGHTS = dg.AssetKey(["raw", "flights"])


def sensor_named(name: str) -> dg.SensorDefinition:
    return next(s for s in SENSORS if s.name == name)


def evaluated(
    instance: dg.DagsterInstance, landing: Path, name: str = "flights_landing"
) -> SensorExecutionData:
    """A first tick as the daemon evaluates it (Dagster's checks of the result included)."""
    sensor = sensor_named(name)
    resources = build_resources(Settings.from_env().with_home(landing.parent))
    with dg.build_sensor_context(
        instance=instance,
        resources=resources,
        definitions=dg.Definitions(assets=ASSETS, sensors=[sensor], resources=resources),
    ) as context:
        return sensor.evaluate_tick(context)


def tick(
    instance: dg.DagsterInstance, landing: Path, cursor: str | None, name: str = "flights_landing"
) -> dg.SensorResult:
    sensor = sensor_named(name)
    resources = build_resources(Settings.from_env().with_home(landing.parent))
    with dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources=resources,
        definitions=dg.Definitions(assets=ASSETS, sensors=[sensor], resources=resources),
    ) as context:
        result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def deliver(path: Path, body: bytes, *, settled: bool = True) -> None:
    """Land a file; a settled one was written long enough ago to be trusted complete, an
    unsettled one just now, without a completion marker.
    """
    write_atomic(path, body, mark=settled)
    if settled:
        an_hour_ago = time.time() - 3600
        os.utime(path, (an_hour_ago, an_hour_ago))


def day_line(day: int) -> bytes:
    return f"2013,1,{day},517,515,2,830,819,11,UA,1545,N14228,EWR,IAH,227,1400,5,15,x\n".encode()


def partitions(result: dg.SensorResult) -> list[str | None]:
    return [r.partition_key for r in result.run_requests or []]


def rejected(result: dg.SensorResult) -> dict[str, str]:
    return {
        str(e.metadata["rejected_file"].value): str(e.metadata["reason"].value)
        for e in result.asset_events
        if isinstance(e, dg.AssetObservation)
    }


def test_new_same_and_changed_files_across_ticks(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    flights = landing / "flights"
    with dg.instance_for_test() as instance:
        result = tick(instance, landing, None)
        assert partitions(result) == []  # no landing folder yet: nothing to do, no crash

        deliver(flights / "2013-01-01.csv", HEADER + day_line(1))
        result = tick(instance, landing, result.cursor)
        assert partitions(result) == ["2013-01-01"]
        [request] = result.run_requests or []
        assert request.asset_selection == [RAW_FLIGHTS]  # automation carries it downstream

        again = tick(instance, landing, result.cursor)
        assert partitions(again) == []

        deliver(flights / "2013-01-01.csv", HEADER + day_line(1) + day_line(1))
        changed = tick(instance, landing, again.cursor)
        assert partitions(changed) == ["2013-01-01"]
        assert changed.run_requests[0].run_key != request.run_key  # type: ignore[index]


def test_a_recent_file_is_picked_up_once_its_completion_marker_is_written(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    day = landing / "flights" / "2013-01-01.csv"
    with dg.instance_for_test() as instance:
        deliver(day, HEADER, settled=False)
        first = tick(instance, landing, None)
        assert partitions(first) == []
        second = tick(instance, landing, first.cursor)  # looks the same: still not complete
        assert partitions(second) == []
        marker_path(day).touch()
        third = tick(instance, landing, second.cursor)
        assert partitions(third) == ["2013-01-01"]


def test_a_delivery_renamed_into_place_is_taken_at_once_and_one_written_in_place_waits(
    tmp_path: Path,
) -> None:
    landing = tmp_path / "landing"
    (landing / "flights").mkdir(parents=True)
    renamed = landing / "flights" / "2013-01-05.csv"
    in_place = landing / "flights" / "2013-01-06.csv"
    with dg.instance_for_test() as instance:
        first = tick(instance, landing, None)  # the sensor's process now watches the folder
        hidden = renamed.with_name(".2013-01-05.csv.part")
        hidden.write_bytes(HEADER + day_line(5))
        hidden.rename(renamed)  # the same clock tick as its last write: only the rename tells
        in_place.write_bytes(HEADER + day_line(6))
        deadline = time.monotonic() + 10
        while not marker_path(renamed).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        second = tick(instance, landing, first.cursor)
    assert partitions(second) == ["2013-01-05"]
    assert not marker_path(in_place).exists()  # waits for the quiet period (or its marker)


def test_bad_files_are_rejected_with_the_reason_once_and_visible_on_the_raw_asset(
    tmp_path: Path,
) -> None:
    landing = tmp_path / "landing"
    flights = landing / "flights"
    deliver(flights / "notes.txt", b"not a delivery")
    deliver(flights / "2015-01-01.csv", HEADER)
    deliver(flights / "2013-01-02.csv", b"year,month\n2013,1\n")
    deliver(flights / "2013-01-03.csv", HEADER + day_line(3))
    write_atomic(flights / ".2013-01-04.csv.partial.tmp", HEADER)  # in flight: not looked at
    with dg.instance_for_test() as instance:
        result = tick(instance, landing, None)
        assert partitions(result) == ["2013-01-03"]
        reasons = rejected(result)
        assert set(reasons) == {
            "flights/notes.txt",
            "flights/2015-01-01.csv",
            "flights/2013-01-02.csv",
        }
        assert "not named as a delivery day" in reasons["flights/notes.txt"]
        assert "outside the partitions of" in reasons["flights/2015-01-01.csv"]
        assert "missing column(s) day, dep_time" in reasons["flights/2013-01-02.csv"]
        assert "flights/2013-01-02.csv:1" in reasons["flights/2013-01-02.csv"]
        assert all(e.asset_key == RAW_FLIGHTS for e in result.asset_events)

        again = tick(instance, landing, result.cursor)
        assert (partitions(again), rejected(again)) == ([], {})  # never retried forever

        deliver(flights / "2013-01-02.csv", HEADER + day_line(2))  # fixed and re-delivered
        fixed = tick(instance, landing, again.cursor)
        assert partitions(fixed) == ["2013-01-02"]


def test_a_batch_of_days_is_one_single_run_backfill(tmp_path: Path) -> None:
    for day in (1, 2, 3):
        deliver(tmp_path / "landing" / "flights" / f"2013-01-0{day}.csv", HEADER + day_line(day))
    with dg.instance_for_test() as instance:
        result = tick(instance, tmp_path / "landing", None)
    [request] = result.run_requests or []
    assert request.tags["dagster/asset_partition_range_start"] == "2013-01-01"
    assert request.tags["dagster/asset_partition_range_end"] == "2013-01-03"


def test_files_already_ingested_by_make_run_start_no_run(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    body = HEADER + day_line(1)
    deliver(landing / "flights" / "2013-01-01.csv", body)
    deliver(landing / "flights" / "2013-01-02.csv", HEADER + day_line(2))
    held = pl.DataFrame(
        {"_partition_date": [date(2013, 1, 1)], "_content_hash": [content_hash(body)]}
    )
    store_daily(str(tmp_path / "lake"), ["raw", "flights"], held, "_partition_date")
    with dg.instance_for_test() as instance:
        result = tick(instance, landing, None)
    assert partitions(result) == ["2013-01-02"]


def test_a_new_planes_snapshot_rebuilds_raw_planes_once(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    header = b"tailnum,year,type,manufacturer,model,engines,seats,speed,engine\n"
    deliver(landing / "planes" / "2013-01-01.csv", header + b"N10156,2004,a,b,c,2,55,NA,d\n")
    with dg.instance_for_test() as instance:
        first = tick(instance, landing, None, "planes_landing")
        [request] = first.run_requests or []
        # The run carries the snapshot to the plane dimension; no day of the fact is built yet,
        # so there is none to rebuild from the snapshot's day (`test_automation`).
        assert request.asset_selection == [
            dg.AssetKey(["raw", "planes"]),
            dg.AssetKey(["staged", "planes"]),
            dg.AssetKey(["staged", "planes_quarantine"]),
            dg.AssetKey(["marts", "dim_plane"]),
        ]
        assert request.partition_key is None
        assert tick(instance, landing, first.cursor, "planes_landing").run_requests == []
        deliver(landing / "planes" / "2013-04-01.csv", header + b"N10156,2004,a,b,c,2,60,NA,d\n")
        second = tick(instance, landing, first.cursor, "planes_landing")
        assert len(second.run_requests or []) == 1


def test_a_planes_snapshot_waits_for_a_run_under_way_that_builds_the_fact(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    header = b"tailnum,year,type,manufacturer,model,engines,seats,speed,engine\n"
    deliver(landing / "planes" / "2013-04-01.csv", header + b"N10156,2004,a,b,c,2,55,NA,d\n")
    fact = dg.AssetKey(["marts", "fct_flights"])
    with dg.instance_for_test() as instance:
        # A landing run building days of the fact is under way: had the snapshot's run built
        # dim_plane after that run read it, those days would keep the old planes.
        building = dg.DagsterRun(
            job_name="__ASSET_JOB",
            run_id="building-the-fact",
            status=dg.DagsterRunStatus.STARTED,
            asset_selection=frozenset([RAW_FLIGHTS, fact]),
        )
        instance.add_run(building)
        waiting = tick(instance, landing, None, "planes_landing")
        assert waiting.run_requests == []
        instance.report_run_failed(building)  # finished: the snapshot goes on
        [request] = tick(instance, landing, waiting.cursor, "planes_landing").run_requests or []
        assert dg.AssetKey(["marts", "dim_plane"]) in (request.asset_selection or [])


def test_a_restart_or_a_crash_mid_tick_neither_skips_nor_repeats_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    landing = tmp_path / "landing"
    for day in (1, 2):
        deliver(landing / "flights" / f"2013-01-0{day}.csv", HEADER + day_line(day))
    with dg.instance_for_test() as instance:
        clean = tick(instance, landing, None)

        # The tick dies reading the second file: Dagster keeps the previous cursor (none).
        real_hash = landing_sensor.content_hash
        calls: list[int] = []

        def dies_on_second_file(data: bytes) -> str:
            calls.append(1)
            if len(calls) == 2:
                raise OSError("disk went away")
            return real_hash(data)

        monkeypatch.setattr(landing_sensor, "content_hash", dies_on_second_file)
        with pytest.raises(OSError, match="disk went away"):
            tick(instance, landing, None)
        monkeypatch.setattr(landing_sensor, "content_hash", real_hash)

        retried = tick(instance, landing, None)
        assert [r.run_key for r in retried.run_requests or []] == [
            r.run_key for r in clean.run_requests or []
        ]  # the same keys: Dagster starts each run once
        # A restarted daemon resumes from the saved cursor: nothing is planned twice.
        assert tick(instance, landing, retried.cursor).run_requests == []


@pytest.mark.parametrize(
    ("body", "rows", "problem"),
    [
        ("a,b\n1,2\n3,4\n", 2, None),  # plain: Polars' reader
        ('a,b\n"1,5",2\n3,4\n', 2, None),  # quoted: the exact path
        ("a,b\n1,2\n3\n", 2, None),  # a short line: the exact path, kept as a raw row
        ("a,c\n1,2\n", None, "header does not match"),
        ("", None, "file is empty"),
        ("\n", None, "file is empty"),
    ],
    ids=["plain", "quoted", "short-line", "wrong-header", "empty", "one-blank-line"],
)
def test_a_delivery_is_judged_alike_on_the_fast_and_the_exact_path(
    tmp_path: Path, body: str, rows: int | None, problem: str | None
) -> None:
    source = Source(name="pairs", columns=("a", "b"), cadence=Cadence.DAILY)
    file = tmp_path / "2013-01-01.csv"
    file.write_text(body)

    inspection = landing_sensor.inspect_delivery(source, file)

    assert inspection.sha256 == content_hash(body.encode())
    if problem is None:
        assert inspection.problem is None
        assert inspection.rows == rows
    else:
        assert problem in str(inspection.problem)


WEATHER_HEADER = (
    b"origin,year,month,day,hour,temp,dewp,humid,wind_dir,wind_speed,wind_gust,precip,"
    b"pressure,visib,time_hour\n"
)
RAW_WEATHER = dg.AssetKey(["raw", "weather"])


def weather_line(day: int) -> bytes:
    return f"EWR,2013,1,{day},5,39,28,64,260,12,,0,1012,10,2013-01-0{day} 05:00:00\n".encode()


def test_a_day_both_partners_deliver_is_one_run_and_the_partner_defers_a_bounded_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    landing = tmp_path / "landing"
    flights_day = HEADER + day_line(2)
    deliver(landing / "flights" / "2013-01-02.csv", flights_day)
    deliver(landing / "weather" / "2013-01-02.csv", WEATHER_HEADER + weather_line(2))
    deliver(landing / "weather" / "2013-01-03.csv", WEATHER_HEADER + weather_line(3))
    with dg.instance_for_test() as instance:
        # The first source by name takes its partner's delivery of the same day along (and
        # Dagster accepts the request: a sensor may request only its own asset selection) ...
        [request] = evaluated(instance, landing).run_requests
        assert request.partition_key == "2013-01-02"
        assert {RAW_FLIGHTS, RAW_WEATHER} <= set(request.asset_selection or [])
        # ... and the partner's sensor leaves that day to it, taking the unpaired day alone.
        weather = tick(instance, landing, None, name="weather_landing")
        assert partitions(weather) == ["2013-01-03"]

        def weather_tick() -> list[str | None]:
            return partitions(tick(instance, landing, weather.cursor, "weather_landing"))

        # The wait is bounded: past it, the day is taken alone.
        with monkeypatch.context() as patched:
            patched.setattr(partners, "PARTNER_WAIT_SECONDS", 0)
            assert weather_tick() == ["2013-01-02"]

        # The flights run is under way and has ingested its own day: the weather day stays
        # left to it until it ends ...
        held = pl.DataFrame(
            {"_partition_date": [date(2013, 1, 2)], "_content_hash": [content_hash(flights_day)]}
        )
        store_daily(str(tmp_path / "lake"), ["raw", "flights"], held, "_partition_date")
        run = dg.DagsterRun(
            job_name="__ASSET_JOB",
            run_id=make_new_run_id(),
            status=dg.DagsterRunStatus.STARTED,
            asset_selection=frozenset(request.asset_selection or []),
            tags={"dagster/partition": "2013-01-02"},
        )
        instance.add_run(run)
        assert weather_tick() == []
        # ... and, had it ended without it, the weather day is taken alone.
        instance.report_run_failed(run)
        assert weather_tick() == ["2013-01-02"]
