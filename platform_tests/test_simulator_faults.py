"""The fault-injecting replay: each fault does what its manifest entry says."""

import json
import random
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lakehouse.cli import app
from lakehouse.landing import LandingFileError, parse_delivery
from lakehouse.simulator.faults import Fault, Outcome, Step, damage, inject
from lakehouse.simulator.replay import daily_steps, deliver
from lakehouse.simulator.sample import FLIGHTS, WEATHER

D1, D2, D3 = date(2013, 1, 1), date(2013, 1, 2), date(2013, 1, 3)


@pytest.fixture(scope="module")
def day() -> Step:
    return daily_steps(D1, D1, [FLIGHTS])[0]


def fields(body: bytes, line: int) -> int:
    return len(body.split(b"\n")[line - 1].split(b","))


def test_malformed_and_wrong_typed_lines_are_the_ones_the_manifest_names(day: Step) -> None:
    body, injected = damage(day, Fault.MALFORMED_LINES, random.Random(1))
    assert injected.expect is Outcome.QUARANTINE
    assert len(injected.lines) == 3
    assert all(fields(body, n) == 4 for n in injected.lines)
    untouched = [n for n in range(2, 10) if n not in injected.lines]
    assert all(fields(body, n) == 19 for n in untouched)

    body, injected = damage(day, Fault.WRONG_TYPES, random.Random(1))
    assert all(body.split(b"\n")[n - 1].split(b",")[1] == b"M" for n in injected.lines)


def test_a_truncated_file_ends_inside_the_named_line(day: Step) -> None:
    body, injected = damage(day, Fault.TRUNCATED, random.Random(2))
    [cut] = injected.lines
    assert not body.endswith(b"\n")
    assert body.count(b"\n") == cut - 1
    assert fields(body, cut) == 3


@pytest.mark.parametrize(
    ("fault", "problem"),
    [
        (Fault.EMPTY, "file is empty"),
        (Fault.ADDED_COLUMN, "unexpected column(s) gate"),
        (Fault.RENAMED_COLUMN, "missing column(s) time_hour"),
    ],
)
def test_rejected_faults_make_the_file_unreadable(day: Step, fault: Fault, problem: str) -> None:
    body, injected = damage(day, fault, random.Random(3))
    assert injected.expect is Outcome.REJECTED
    with pytest.raises(LandingFileError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        parse_delivery(body, FLIGHTS, source_file="flights/2013-01-01.csv")


def test_faults_that_rearrange_deliveries() -> None:
    steps = daily_steps(D1, D3, [FLIGHTS])
    rng = random.Random(0)
    assert inject(steps, 0.0, rng) == (steps, [])

    late, [entry] = inject(steps[:1], 1.0, rng, [Fault.LATE])
    assert entry.expect is Outcome.REPROCESS
    swapped, _ = inject(steps, 1.0, rng, [Fault.OUT_OF_ORDER])
    assert [s.day for s in swapped] == [D2, D1, D3]  # held back past its source's next day
    both = daily_steps(D1, D2, [FLIGHTS, WEATHER])  # f1 w1 f2 w2
    held, _ = inject(both, 1.0, rng, [Fault.OUT_OF_ORDER])
    assert [(s.source, s.day) for s in held] == [
        ("flights", D2),
        ("flights", D1),
        ("weather", D2),
        ("weather", D1),
    ]  # each source's day comes after that source's next day, not the other source's
    twice, [entry] = inject(steps[:1], 1.0, rng, [Fault.DUPLICATE])
    assert [s.body for s in twice] == [steps[0].body] * 2
    assert entry.expect is Outcome.NO_OP
    corrected, _ = inject(steps[:1], 1.0, rng, [Fault.CORRECTED])
    assert len(corrected[0].body) < len(corrected[1].body) == len(steps[0].body)


def test_a_paced_delivery_waits_between_days_and_rewrites_a_duplicate(tmp_path: Path) -> None:
    steps = daily_steps(D1, D2, [FLIGHTS])
    waits: list[float] = []
    twice = [steps[0], Step("flights", D1, steps[0].body, Fault.DUPLICATE), steps[1]]
    written = deliver(twice, tmp_path, pace_seconds=5, sleep=waits.append)
    assert waits == [5]
    assert written == 3  # the duplicate is delivered again, not skipped as unchanged


def test_land_with_faults_writes_the_manifest(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["land", "--start", "2013-01-01", "--end", "2013-01-03", "--source", "flights",
         "--faults", "1", "--fault", "wrong_types", "--seed", "4"],
        env={"LAKEHOUSE_HOME": str(tmp_path), "COLUMNS": "200"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "replay_manifest.json").read_text())
    assert [f["fault"] for f in manifest["faults"]] == ["wrong_types"] * 3
    assert {f["file"] for f in manifest["faults"]} == {
        f"flights/2013-01-0{d}.csv" for d in (1, 2, 3)
    }
    unknown = CliRunner().invoke(
        app, ["land", "--fault", "gremlins"], env={"LAKEHOUSE_HOME": str(tmp_path)}
    )
    assert unknown.exit_code != 0
    assert "gremlins" in unknown.output


def test_land_at_a_scale_delivers_that_many_distinct_flights(tmp_path: Path) -> None:
    args = ["land", "--start", "2013-01-02", "--end", "2013-01-02", "--source", "flights"]
    env = {"LAKEHOUSE_HOME": str(tmp_path), "COLUMNS": "200"}
    assert CliRunner().invoke(app, args, env=env).exit_code == 0
    one = (tmp_path / "landing" / "flights" / "2013-01-02.csv").read_text().splitlines()
    result = CliRunner().invoke(app, [*args, "--scale", "3"], env=env)
    assert result.exit_code == 0, result.output
    three = (tmp_path / "landing" / "flights" / "2013-01-02.csv").read_text().splitlines()
    assert len(three) - 1 == 3 * (len(one) - 1)
    keys = {tuple(line.split(",")[i] for i in (0, 1, 2, 9, 10, 12, 4)) for line in three[1:]}
    assert len(keys) == len(three) - 1  # every copy is a distinct flight
