"""Faulty real deliveries through the platform: each ends with exactly its bad lines
quarantined, with a reason a person can act on, and the reconciliation exact.
"""

from datetime import date

import dagster as dg
import polars as pl
import pytest
from typer.testing import CliRunner

from lakehouse.cli import app
from lakehouse.failures import read_failures
from lakehouse.landing import write_atomic
from lakehouse.settings import Settings
from lakehouse.simulator.sample import FLIGHTS, SAMPLE_SOURCES
from lakehouse.status import quarantine_frames
from platform_tests.test_end_to_end import cli_env, mart_totals, run

pytestmark = pytest.mark.slow
D1, D3 = date(2013, 1, 1), date(2013, 1, 3)
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


def test_replay_goes_on_past_a_failing_day_and_reports_each(landed: Settings) -> None:
    """Days 1 and 3 have quarantined rows; before the replay day 1 is re-delivered broken and
    day 3 fixed: the replay fails day 1, still replays day 3, and both failures and successes
    are reported; the failed CLI run is in `lakehouse failures`.
    """
    flights = landed.landing_dir / "flights"
    originals = {}
    for day in (D1, D3):
        path = flights / f"{day}.csv"
        originals[day] = path.read_text()
        header, *lines = originals[day].splitlines()
        lines[5] = with_field(lines[5], MONTH, "13")
        write_atomic(path, ("\n".join([header, *lines]) + "\n").encode())
    cli = CliRunner()
    env = cli_env(landed)
    sources = [arg for name in SAMPLE_SOURCES for arg in ("--source", name)]  # those landed
    made = cli.invoke(app, ["materialize", "--start", f"{D1}", "--end", f"{D3}", *sources], env=env)
    assert made.exit_code == 0, made.output
    quarantine = quarantine_frames(landed.lake_dir)["flights"].collect()
    assert sorted(quarantine["_partition_date"].unique()) == [D1, D3]

    write_atomic(flights / f"{D1}.csv", b"not,a,flights,header\n1,2,3,4\n")
    write_atomic(flights / f"{D3}.csv", originals[D3].encode())
    replayed = cli.invoke(app, ["quarantine", "replay"], env=env)
    assert replayed.exit_code == 1, replayed.output
    assert f"Replaying flights {D1} .. {D1}" in replayed.output
    assert f"Replaying flights {D3} .. {D3}" in replayed.output
    assert "1 of 2 replay run(s) failed" in replayed.output
    assert "flights/2013-01-01.csv:1: header does not match" in replayed.output
    report = replayed.output[replayed.output.index("Replay of flights") :]
    assert report.index(str(D1)) < report.index("FAILED") < report.index(str(D3))
    assert report.index(str(D3)) < report.index("succeeded")
    after = quarantine_frames(landed.lake_dir)["flights"].collect()
    assert sorted(after["_partition_date"].unique()) == [D1]  # day 3 left the quarantine

    [failure] = read_failures(landed.run_failures_path)
    assert failure.partitions == f"{D1}..{D1}"
    assert failure.failed_steps == ["raw__flights"]
    assert "header does not match" in failure.message
    listed = cli.invoke(app, ["failures"], env=env)
    assert listed.exit_code == 0, listed.output
    assert failure.run_id[:8] in listed.output
    assert f"{D1}..{D1}" in listed.output


def test_bad_identifiers_are_quarantined_with_a_clear_reason(landed: Settings) -> None:
    """A NUL byte and non-ASCII letters in tail numbers and codes, and an otherwise valid row
    with a 10 MB tail number, in a real day: those rows are quarantined, the rest staged.
    """
    day = landed.landing_dir / "flights" / f"{D1}.csv"
    header, *lines = day.read_text().splitlines()
    tail = FLIGHTS.columns.index("tailnum")
    dest = FLIGHTS.columns.index("dest")
    broken = {
        3: with_field(lines[3], tail, "N1\x0023"),
        50: with_field(lines[50], tail, "NÜ123"),
        100: with_field(lines[100], CARRIER, "U\x00"),
        150: with_field(lines[150], dest, "ÄTL"),
        200: with_field(lines[200], tail, "N" * 10_000_000),
    }
    for index, line in broken.items():
        lines[index] = line
    write_atomic(day, ("\n".join([header, *lines]) + "\n").encode())

    with dg.instance_for_test() as instance:
        result = run(landed, instance, D1, D1)
        assert result.success
        quarantine = quarantined(landed)
        tail_rule = "tailnum: matches([A-Z0-9][A-Z0-9-]{1,6})"
        assert quarantine.select("_line_number", "stage", "reason").rows() == [
            (5, "contract", f"{tail_rule} = N1\\x0023"),
            (52, "contract", f"{tail_rule} = NÜ123"),
            (102, "contract", "carrier: printable_ascii = U\\x00"),
            (152, "contract", "dest: printable_ascii = ÄTL"),
            (202, "contract", f"{tail_rule} = {'N' * 40}... (10,000,000 characters)"),
        ]
        # Nothing delivered is lost: the quarantine keeps each line as it came.
        assert quarantine["record"].to_list() == [broken[i] for i in sorted(broken)]
        balance = reconciliation(result)
        assert balance.passed
        assert balance.metadata["quarantined"].value == len(broken)
        assert balance.metadata["staged"].value == len(lines) - len(broken)
        assert int(mart_totals(landed)["flights"].sum()) == len(lines) - len(broken)
