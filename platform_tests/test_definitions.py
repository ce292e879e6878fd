import dagster as dg

from lakehouse.assets.marts import (
    mart_delay_weather,
    mart_ontime_daily,
    mart_routes,
    mart_routes_daily,
)
from lakehouse.declarations import declared_marts, declared_sources
from lakehouse.definitions import defs

# Expectations come from the declared sources (defs/sources/*/defs.yaml): adding a source
# changes none of them. The flights star schema is Python, listed here.
SOURCES = declared_sources()
STAR_SCHEMA = (
    "dim_date", "dim_airline", "dim_airport", "dim_plane", "fct_flights",
    "mart_ontime_daily", "mart_routes_daily", "mart_routes", "mart_delay_weather",
)  # fmt: skip
EXPECTED_ASSETS = {
    **{f"raw/{name}": "raw" for name in SOURCES},
    **{f"staged/{name}": "staged" for name in SOURCES},
    **{f"staged/{name}_quarantine": "staged" for name in SOURCES},
    **{f"marts/{name}": "marts" for name in STAR_SCHEMA},
    **{f"marts/{name}": "marts" for name in declared_marts()},
}
BLOCKING = {
    f"staged/{name}:{check}"
    for name in SOURCES
    for check in ("business_key_unique", "contract_pass_rate", "reconciliation")
}


def test_definitions_load() -> None:
    dg.Definitions.validate_loadable(defs)


def test_asset_graph_keys_groups_and_checks() -> None:
    graph = defs.resolve_asset_graph()
    assets = {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert assets == EXPECTED_ASSETS
    checks = {f"{k.asset_key.to_user_string()}:{k.name}" for k in graph.asset_check_keys}
    assert checks == {
        *BLOCKING,
        *(f"staged/{name}:row_count_anomaly" for name, spec in SOURCES.items() if spec.daily),
        "marts/fct_flights:referential_integrity",
        *(f"{asset}:column_schema_change" for asset in EXPECTED_ASSETS),
    }
    blocking = {
        f"{k.asset_key.to_user_string()}:{k.name}"
        for k in graph.asset_check_keys
        if graph.get_check_spec(k).blocking
    }
    assert blocking == BLOCKING
    assert {s.name for s in defs.sensors or []} == {
        *(f"{name}_landing" for name in SOURCES),
        "propagate",
        "run_failures",
        "failed_range_isolation",
        "run_retention",
    }
    assert {s.name for s in defs.schedules or []} == {
        f"{name}_catch_up" for name, spec in SOURCES.items() if spec.daily
    }


def test_everything_downstream_of_raw_is_automated_and_raw_is_sensor_driven() -> None:
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        automated = graph.get(key).automation_condition is not None
        assert automated == (key.path[0] != "raw"), key.to_user_string()


def test_every_asset_is_described_owned_kinded_and_has_a_column_schema() -> None:
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        name = key.to_user_string()
        assert node.description, name
        declared = SOURCES.get(key.path[-1].removesuffix("_quarantine"))
        owners = declared.owners if declared and key.path[0] != "marts" else ["team:data-platform"]
        assert node.owners == owners, name
        assert node.kinds, name
        assert "dagster/column_schema" in node.metadata, name


def test_mart_columns_have_lineage_to_upstream_columns() -> None:
    graph = defs.resolve_asset_graph()
    for name in ("mart_ontime_daily", "mart_routes_daily", "mart_routes", "mart_delay_weather"):
        node = graph.get(dg.AssetKey(["marts", name]))
        lineage = node.metadata["dagster/column_lineage"]
        schema_columns = {c.name for c in node.metadata["dagster/column_schema"].columns}
        assert set(lineage.deps_by_column) == schema_columns, name
        for deps in lineage.deps_by_column.values():
            for dep in deps:
                upstream = graph.get(dep.asset_key).metadata["dagster/column_schema"]
                assert dep.column_name in {c.name for c in upstream.columns}, (name, dep)
    node = graph.get(dg.AssetKey(["marts", "mart_ontime_daily"]))
    lineage = node.metadata["dagster/column_lineage"]
    deps = lineage.deps_by_column["delayed_share"]
    assert [(d.asset_key.to_user_string(), d.column_name) for d in deps] == [
        ("marts/fct_flights", "arr_delay")
    ]
    schema_columns = {c.name for c in node.metadata["dagster/column_schema"].columns}
    assert set(lineage.deps_by_column) == schema_columns


def test_daily_tables_that_feed_the_marts_carry_a_freshness_policy() -> None:
    graph = defs.resolve_asset_graph()
    fresh = {
        key.to_user_string()
        for key in graph.get_all_asset_keys()
        if graph.get(key).freshness_policy is not None
    }
    assert fresh == {
        *(f"staged/{name}" for name, spec in SOURCES.items() if spec.freshness),
        "marts/fct_flights",
        "marts/mart_ontime_daily",
        "marts/mart_routes_daily",
        "marts/mart_delay_weather",
    }


def test_columns_a_mart_loads_exist_upstream() -> None:
    graph = defs.resolve_asset_graph()
    loaded = 0
    for asset in (mart_ontime_daily, mart_routes_daily, mart_routes, mart_delay_weather):
        for input_def in asset.node_def.input_defs:
            columns = input_def.metadata.get("columns")
            if columns is None:
                continue
            upstream = graph.get(asset.keys_by_input_name[input_def.name])
            schema = {c.name for c in upstream.metadata["dagster/column_schema"].columns}
            assert set(columns) <= schema, (asset.key, input_def.name)
            loaded += 1
    # Fact and dimension inputs name their columns; mart_routes reads all of the daily table.
    assert loaded == 5
