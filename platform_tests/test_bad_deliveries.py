"""Faulty real deliveries through the platform: each ends with exactly its bad lines
quarantined, with a reason a person can act on, and the reconciliation exact.
"""

from datetime import date

import dagster as dg
import polars as pl
import pytest

from lakehouse.landing import write_atomic
from lakehouse.settings import Settings
from lakehouse.sources import FLIGHTS
from lakehouse.status import quarantine_frames
from platform_tests.test_end_to_end import mart_totals, run

pytestmark = pytest.mark.slow
D1 = date(2013, 1, 1)
MONTH = FLIGHTS.columns.index("month")
CARRIER = FLIGHTS.columns.index("carrier")


def with_field(line: str, index: int, value: str) -> str:
    """`line` with field `index` (0-based) replaced by `value`."""
    fields = line.split(",")
    fields[index] = value
    return ",".join(fields)


def reconciliation(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    [balance] = [
        c
        for c in result.get_asset_check_evaluations()
        if (c.asset_key.to_user_string(), c.check_name) == ("staged/flights", "reconciliation")
    ]
    return balance


def quarantined(settings: Settings) -> pl.DataFrame:
    return (
        quarantine_frames(settings.lake_dir)["flights"]
        .filter(pl.col("_partition_date") == D1)
        .sort("_line_number")
        .collect()
    )


def test_a_stray_quote_quarantines_its_own_line_only(landed: Settings) -> None:
    """A real day: one field opens a quote that never closes, five months are impossible."""
    day = landed.landing_dir / "flights" / f"{D1}.csv"
    header, *lines = day.read_text().splitlines()
    middle = len(lines) // 2
    lines[middle] = with_field(lines[middle], CARRIER, '"' + lines[middle].split(",")[CARRIER])
    months = [10, 200, middle + 40, middle + 100, len(lines) - 3]
    for index in months:
        lines[index] = with_field(lines[index], MONTH, "13")
    write_atomic(day, ("\n".join([header, *lines]) + "\n").encode())
    bad_lines = sorted(index + 2 for index in [middle, *months])  # file lines; 1 is the header

    with dg.instance_for_test() as instance:
        result = run(landed, instance, D1, D1)
        assert result.success
        quarantine = quarantined(landed)
        assert quarantine["_line_number"].to_list() == bad_lines
        assert (
            quarantine.filter(pl.col("_line_number") == middle + 2)["reason"]
            .item()
            .startswith("unbalanced quote: a quoted field runs past the end of the line")
        )
        months_reasons = quarantine.filter(pl.col("_line_number") != middle + 2)["reason"]
        assert set(months_reasons) == {"no such date 2013-13-1"}
        balance = reconciliation(result)
        assert balance.passed
        assert balance.metadata["raw"].value == len(lines)
        assert balance.metadata["quarantined"].value == 6
        assert balance.metadata["staged"].value == len(lines) - 6
        assert int(mart_totals(landed)["flights"].sum()) == len(lines) - 6
