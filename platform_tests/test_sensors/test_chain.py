"""What a landing run carries past its raw table, on the real asset graph."""

import dagster as dg

from lakehouse.definitions import defs
from lakehouse.sensors.chain import downstream_chain

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
    chain = downstream_chain(GRAPH, dg.AssetKey(["raw", "flights"]), lambda _: True)
    assert sorted(chain) == sorted(FLIGHTS_TO_MARTS)
    # Upstream first: the run's steps follow the graph.
    assert chain.index(dg.AssetKey(["marts", "fct_flights"])) < chain.index(
        dg.AssetKey(["marts", "mart_ontime_daily"])
    )


def test_a_mart_waiting_on_another_sources_day_is_left_to_automation() -> None:
    weather = dg.AssetKey(["staged", "weather"])
    chain = downstream_chain(GRAPH, dg.AssetKey(["raw", "flights"]), lambda key: key != weather)
    waiting = dg.AssetKey(["marts", "mart_delay_weather"])
    assert sorted(chain) == sorted(k for k in FLIGHTS_TO_MARTS if k != waiting)


def test_nothing_past_raw_before_the_reference_tables_are_built() -> None:
    built = {dg.AssetKey(["marts", name]) for name in ("dim_airline", "dim_airport", "dim_plane")}
    chain = downstream_chain(GRAPH, dg.AssetKey(["raw", "flights"]), built.__contains__)
    assert chain == keys("raw/flights")  # staged/flights reads staged/airports, never built


def test_a_monthly_mart_of_a_daily_source_is_on_another_calendar_and_left_out() -> None:
    chain = downstream_chain(GRAPH, dg.AssetKey(["raw", "seattle_weather"]), lambda _: True)
    assert sorted(chain) == sorted(
        keys("raw/seattle_weather", "staged/seattle_weather", "staged/seattle_weather_quarantine")
    )
