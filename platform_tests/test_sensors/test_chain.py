"""What a landing run carries past its raw table, on the real asset graph."""

import dagster as dg

from lakehouse.assets.automation import CARRIED_DOWNSTREAM
from lakehouse.definitions import defs
from lakehouse.sensors.chain import built_for, carried_tags, carries_downstream, downstream_chain

GRAPH = defs.resolve_asset_graph()


def keys(*names: str) -> list[dg.AssetKey]:
    return [dg.AssetKey(name.split("/")) for name in names]


FLIGHTS_TO_MARTS = keys(
    "raw/flights",
    "staged/flights",
    "staged/flights_quarantine",
    "marts/fct_flights",
    "marts/mart_ontime_daily",
    "marts/mart_routes_daily",
    "marts/mart_delay_weather",
    "marts/mart_routes",
)


def test_a_day_of_flights_runs_through_to_every_mart_once_its_other_inputs_are_built() -> None:
    chain = downstream_chain(GRAPH, [dg.AssetKey(["raw", "flights"])], lambda _: True)
    assert sorted(chain) == sorted(FLIGHTS_TO_MARTS)
    # Upstream first: the run's steps follow the graph.
    assert chain.index(dg.AssetKey(["marts", "fct_flights"])) < chain.index(
        dg.AssetKey(["marts", "mart_ontime_daily"])
    )


def test_a_mart_waiting_on_another_sources_day_is_left_to_automation() -> None:
    weather = dg.AssetKey(["staged", "weather"])
    chain = downstream_chain(GRAPH, [dg.AssetKey(["raw", "flights"])], lambda key: key != weather)
    waiting = dg.AssetKey(["marts", "mart_delay_weather"])
    assert sorted(chain) == sorted(k for k in FLIGHTS_TO_MARTS if k != waiting)


def test_nothing_past_raw_before_the_reference_tables_are_built() -> None:
    built = {dg.AssetKey(["marts", name]) for name in ("dim_airline", "dim_airport", "dim_plane")}
    chain = downstream_chain(GRAPH, [dg.AssetKey(["raw", "flights"])], built.__contains__)
    assert chain == keys("raw/flights")  # staged/flights reads staged/airports, never built


def test_a_monthly_mart_of_a_daily_source_is_on_another_calendar_and_left_out() -> None:
    chain = downstream_chain(GRAPH, [dg.AssetKey(["raw", "seattle_weather"])], lambda _: True)
    assert sorted(chain) == sorted(
        keys("raw/seattle_weather", "staged/seattle_weather", "staged/seattle_weather_quarantine")
    )


def test_an_input_counts_as_built_once_it_holds_the_days_and_its_blocking_checks_passed() -> None:
    airports, weather = dg.AssetKey(["staged", "airports"]), dg.AssetKey(["staged", "weather"])
    days = ["2013-12-01", "2013-12-02"]
    with dg.instance_for_test() as instance:
        assert not built_for(GRAPH, instance, days)(airports)
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=airports))
        assert built_for(GRAPH, instance, days)(airports)
        instance.report_runless_asset_event(dg.AssetMaterialization(weather, partition=days[0]))
        assert not built_for(GRAPH, instance, days)(weather)  # one of the two days only
        instance.report_runless_asset_event(dg.AssetMaterialization(weather, partition=days[1]))
        assert built_for(GRAPH, instance, days)(weather)
        # A staged table whose blocking check failed holds back what is built from it, as
        # automation does.
        check = next(c for c in GRAPH.get(airports).check_keys if GRAPH.get(c).blocking)
        instance.report_runless_asset_event(
            dg.AssetCheckEvaluation(asset_key=airports, check_name=check.name, passed=False)
        )
        assert not built_for(GRAPH, instance, days)(airports)


def test_a_day_of_flights_and_weather_in_one_run_reaches_the_mart_they_meet_in() -> None:
    roots = keys("raw/flights", "raw/weather")
    weather = dg.AssetKey(["staged", "weather"])
    chain = downstream_chain(GRAPH, roots, lambda key: key != weather)
    assert dg.AssetKey(["marts", "mart_delay_weather"]) in chain
    assert chain.index(weather) < chain.index(dg.AssetKey(["marts", "mart_delay_weather"]))


def test_only_a_run_through_to_every_mart_is_tagged_as_carrying_everything_downstream() -> None:
    assert carries_downstream(GRAPH, FLIGHTS_TO_MARTS)
    assert carried_tags(GRAPH, FLIGHTS_TO_MARTS) == {CARRIED_DOWNSTREAM: "true"}
    waiting = dg.AssetKey(["marts", "mart_delay_weather"])
    short = [key for key in FLIGHTS_TO_MARTS if key != waiting]
    assert not carries_downstream(GRAPH, short)  # automation still has the mart to build
    assert carried_tags(GRAPH, short) == {}
    assert not carries_downstream(GRAPH, keys("raw/flights"))
    assert carried_tags(None, FLIGHTS_TO_MARTS) == {}  # a test's bare sensor context
