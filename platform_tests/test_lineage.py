"""Column lineage a user can see: a table on each mart's page, and `lakehouse lineage`."""

import dagster as dg
import pytest
from typer.testing import CliRunner

from lakehouse.assets.metadata import ColumnSource, lineage_table, trace_column
from lakehouse.cli import app
from lakehouse.definitions import defs

FACT, DAILY, ROUTES = (
    dg.AssetKey(["marts", n]) for n in ("fct_flights", "mart_routes_daily", "mart_routes")
)


def lineage(deps: dict[str, list[tuple[dg.AssetKey, str]]]) -> dg.TableColumnLineage:
    return dg.TableColumnLineage(
        deps_by_column={
            column: [dg.TableColumnDep(asset_key=key, column_name=name) for key, name in upstream]
            for column, upstream in deps.items()
        }
    )


def test_a_column_is_traced_through_every_table_that_declares_its_lineage() -> None:
    lineages = {
        ROUTES: lineage({"mean": [(DAILY, "sum"), (DAILY, "count")]}),
        DAILY: lineage({"sum": [(FACT, "dep_delay")], "count": [(FACT, "dep_delay")]}),
    }
    # Dagster keeps each column's dependencies sorted.
    assert trace_column(lineages, ROUTES, "mean") == [
        ColumnSource(0, ROUTES, "mean"),
        ColumnSource(1, DAILY, "count"),
        ColumnSource(2, FACT, "dep_delay"),
        ColumnSource(1, DAILY, "sum"),
        ColumnSource(2, FACT, "dep_delay"),
    ]
    assert trace_column(lineages, FACT, "dep_delay") == [ColumnSource(0, FACT, "dep_delay")]


def test_each_mart_shows_its_column_lineage_as_a_table_the_ui_renders() -> None:
    graph = defs.resolve_asset_graph()
    marts = [n for n in graph.asset_nodes if "dagster/column_lineage" in n.metadata]
    assert {n.key for n in marts} >= {DAILY, ROUTES}
    for node in marts:
        stored = node.metadata["dagster/column_lineage"]
        shown = node.metadata["column_lineage"]
        assert shown == lineage_table(stored)
        for column, deps in stored.deps_by_column.items():
            upstream = ", ".join(f"`{d.asset_key.to_user_string()}.{d.column_name}`" for d in deps)
            assert f"| `{column}` | {upstream} |" in shown.value
    routes = graph.get(ROUTES).metadata["column_lineage"].value
    assert "| `dest_name` | `marts/dim_airport.name` |" in routes


def test_lakehouse_lineage_follows_a_column_upstream() -> None:
    shown = CliRunner().invoke(
        app, ["lineage", "mart_routes.mean_dep_delay"], env={"COLUMNS": "200"}
    )
    assert shown.exit_code == 0, shown.output
    lines = [line.strip(" │") for line in shown.output.splitlines()]
    assert any(
        "mean_dep_delay │ <- marts/mart_routes_daily.dep_delay_count" in line for line in lines
    )
    assert any(line.endswith("<- marts/fct_flights.dep_delay") for line in lines)


@pytest.mark.parametrize(
    ("target", "problem"),
    [("nope", "'nope' has no column lineage; tables with column lineage: marts/"),
     ("mart_routes.nope", "marts/mart_routes has no column 'nope'; its columns: origin")],
)  # fmt: skip
def test_lakehouse_lineage_names_what_it_cannot_find(target: str, problem: str) -> None:
    shown = CliRunner().invoke(app, ["lineage", target], env={"COLUMNS": "300"})
    assert shown.exit_code == 2
    assert problem in " ".join(shown.output.replace("│", " ").split())
