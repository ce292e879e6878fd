"""Runs launched from code: a selection that splits a step's assets is refused by name."""

from datetime import date

import dagster as dg
import pytest

from lakehouse.definitions import defs
from lakehouse.runner import check_selection, materialize_range

STAGED, QUARANTINE = (
    dg.AssetKey(["staged", "flights"]),
    dg.AssetKey(["staged", "flights_quarantine"]),
)


@pytest.mark.parametrize(
    ("selected", "missing"),
    [([STAGED], "staged/flights_quarantine"), ([QUARANTINE], "staged/flights")],
)
def test_a_selection_without_the_other_half_of_a_staging_step_is_refused_by_name(
    selected: list[dg.AssetKey], missing: str
) -> None:
    with (
        dg.instance_for_test() as instance,
        pytest.raises(ValueError, match="cannot be materialized") as refused,
    ):
        materialize_range(
            defs, date(2013, 1, 1), date(2013, 1, 1), instance,
            selection=dg.AssetSelection.assets(*selected),
        )  # fmt: skip
    assert f"without {missing}: one step writes them together" in str(refused.value)
    assert "required_multi_asset_neighbors()" in str(refused.value)


def test_whole_steps_and_the_whole_graph_are_accepted() -> None:
    check_selection(defs, dg.AssetSelection.assets(STAGED).required_multi_asset_neighbors())
    check_selection(defs, dg.AssetSelection.groups("raw"))
    check_selection(defs, dg.AssetSelection.all())
