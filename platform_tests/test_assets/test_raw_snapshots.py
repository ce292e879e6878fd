"""A reference snapshot that cannot be read is left out of its raw table, not fatal to it."""

from datetime import date

import dagster as dg

from lakehouse.definitions import build_resources, defs
from lakehouse.landing import write_atomic
from lakehouse.runner import materialize_range
from lakehouse.settings import Settings


def test_an_unreadable_snapshot_is_left_out_and_reported(landed: Settings) -> None:
    write_atomic(landed.landing_dir / "airlines" / "2013-01-02.csv", b"code,label\nXX,Nope\n")
    raw = dg.AssetKey(["raw", "airlines"])
    with dg.instance_for_test() as instance:
        result = materialize_range(
            defs, date(2013, 1, 1), date(2013, 1, 1), instance,
            resources=build_resources(landed), selection=dg.AssetSelection.assets(raw),
        )  # fmt: skip
        assert result.success
        [record] = instance.fetch_materializations(raw, limit=1).records
    metadata = record.asset_materialization.metadata  # type: ignore[union-attr]
    assert metadata["dagster/row_count"].value == 16
    assert metadata["snapshots"].value == 1
    assert "airlines/2013-01-02.csv:1: header does not match" in str(
        metadata["unreadable_snapshots"].value
    )
