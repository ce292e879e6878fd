import dagster as dg

from lakehouse.definitions import defs

EXPECTED_ASSETS = {
    **{f"raw/{t}": "raw" for t in ("flights", "weather", "airlines", "airports", "planes")},
    **{f"staged/{t}": "staged" for t in ("flights", "weather", "airlines", "airports", "planes")},
    "marts/mart_ontime_daily": "marts",
}


def test_definitions_load() -> None:
    dg.Definitions.validate_loadable(defs)


def test_asset_graph_keys_groups_and_checks() -> None:
    graph = defs.resolve_asset_graph()
    assets = {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert assets == EXPECTED_ASSETS
    checks = {f"{k.asset_key.to_user_string()}:{k.name}" for k in graph.asset_check_keys}
    assert checks == {"staged/flights:business_key_unique"}
    assert {s.name for s in defs.sensors or []} == {"flights_landing", "weather_landing"}


def test_every_asset_is_described_owned_kinded_and_has_a_column_schema() -> None:
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        name = key.to_user_string()
        assert node.description, name
        assert node.owners == ["team:data-platform"], name
        assert {"polars"} <= set(node.kinds), name
        assert "dagster/column_schema" in node.metadata, name


def test_mart_columns_have_lineage_to_staged_columns() -> None:
    node = defs.resolve_asset_graph().get(dg.AssetKey(["marts", "mart_ontime_daily"]))
    lineage = node.metadata["dagster/column_lineage"]
    deps = lineage.deps_by_column["delayed_share"]
    assert [(d.asset_key.to_user_string(), d.column_name) for d in deps] == [
        ("staged/flights", "arr_delay")
    ]
    schema_columns = {c.name for c in node.metadata["dagster/column_schema"].columns}
    assert set(lineage.deps_by_column) == schema_columns
