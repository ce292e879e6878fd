"""Property-based fuzzing of real deliveries: a real flights day, mutated the ways files break
(truncation, byte flips, quote, delimiter and line-break insertions, other encodings,
duplicated and reordered lines), must end with every delivered line in exactly one of staged,
quarantined or deduplicated, or the whole file rejected with a message naming it; and a run
over it must change nothing already published for other days (nor for its own day when it is
rejected).

`make test` runs a bounded number of examples (the `default` Hypothesis profile of
platform_tests/conftest.py); `make fuzz` runs many more (the `fuzz` profile).
"""

import io
import shutil
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from lakehouse.assets.staged import LINE_KEY, Staging, settler
from lakehouse.declarations import declared
from lakehouse.definitions import build_resources, defs
from lakehouse.landing import RAW_LINE, LandingFile, LandingFileError, read_delivery, write_atomic
from lakehouse.resources.delta_tables import DeltaStore
from lakehouse.runner import materialize_range
from lakehouse.settings import Settings
from lakehouse.simulator.sample import AIRPORTS, FLIGHTS, sample_bytes
from platform_tests.conftest import SAMPLE_END, SAMPLE_START

DAY = date(2013, 1, 2)
NAME = f"flights/{DAY}.csv"

# One mutation: what it does, where (a fraction of the file or of its lines), and with what.
INSERTS = [b'"', b",", b"\n", b"\r", b"\x00", b"\xff", "\ufeff".encode(), "é".encode(), b'""']
MUTATION = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("flip"), st.floats(0, 1), st.integers(0, 255)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.sampled_from(INSERTS)),
    # A quote where a field starts opens a quoted field: the csv reader follows it past lines.
    st.tuples(st.just("quote_field"), st.floats(0, 1), st.integers(0, 18), st.booleans()),
    st.tuples(st.just("duplicate"), st.floats(0, 1), st.floats(0, 1)),
    st.tuples(st.just("swap"), st.floats(0, 1), st.floats(0, 1)),
    st.tuples(st.just("shuffle"), st.randoms(use_true_random=False)),
    st.tuples(
        st.just("encode"), st.floats(0, 1), st.sampled_from(["utf-16", "latin-1", "utf-8-sig"])
    ),
)
MUTATIONS = st.lists(MUTATION, min_size=1, max_size=4)


def at(share: float, n: int) -> int:
    """The index a share of the way through `n` items."""
    return min(int(share * n), max(n - 1, 0))


def mutate(data: bytes, mutations: list[tuple[Any, ...]]) -> bytes:
    """Apply the mutations in order."""
    for kind, *args in mutations:
        lines = data.split(b"\n")
        if kind == "truncate":
            data = data[: at(args[0], len(data) + 1)]
        elif kind == "flip" and data:
            i = at(args[0], len(data))
            data = data[:i] + bytes([args[1]]) + data[i + 1 :]
        elif kind == "insert":
            i = at(args[0], len(data) + 1)
            data = data[:i] + args[1] + data[i:]
        elif kind == "quote_field":
            i = at(args[0], len(lines))
            fields = lines[i].split(b",")
            j = min(args[1], len(fields) - 1)
            fields[j] = b'"' + fields[j] + (b'"' if args[2] else b"")
            lines[i] = b",".join(fields)
            data = b"\n".join(lines)
        elif kind == "duplicate":
            line = lines[at(args[0], len(lines))]
            lines.insert(at(args[1], len(lines) + 1), line)
            data = b"\n".join(lines)
        elif kind == "swap" and len(lines) > 1:
            i, j = at(args[0], len(lines)), at(args[1], len(lines))
            lines[i], lines[j] = lines[j], lines[i]
            data = b"\n".join(lines)
        elif kind == "shuffle":
            header, body = lines[:1], lines[1:]
            args[0].shuffle(body)
            data = b"\n".join(header + body)
        elif kind == "encode":
            # A name with a letter outside ASCII, then the whole file in another encoding.
            text = data.decode("utf-8", errors="replace")
            i = at(args[0], len(text) + 1)
            data = (text[:i] + "Zürich" + text[i:]).encode(args[1], errors="replace")
    return data


def body_lines(data: bytes) -> int:
    """The physical lines after the header, as the landing zone splits them."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return max(len(lines) - 1, 0)


def airports_staged() -> pl.DataFrame:
    """The airports' time zones staging reads (the real sample's)."""
    return pl.read_csv(
        io.BytesIO(sample_bytes(AIRPORTS)), columns=["faa", "tzone"], null_values="NA"
    )


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def staged_split(raw: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Where the platform's staging puts the raw rows: staged, quarantined or deduplicated
    (the flights source's declared steps, as its staged asset runs them).
    """
    settle = settler(Staging(declared("flights")), {"airports": airports_staged()}, "fuzz")
    settled = settle(raw)
    return {
        "staged": settled.valid,
        "quarantined": settled.quarantine,
        "deduplicated": settled.removed,
    }


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutations=MUTATIONS)
def test_every_line_of_a_mutated_delivery_is_accounted_for_or_the_file_rejected(
    landed_sample: Path, fuzz_dir: Path, mutations: list[tuple[Any, ...]]
) -> None:
    data = mutate((landed_sample / "flights" / f"{DAY}.csv").read_bytes(), mutations)
    path = fuzz_dir / "flights" / f"{DAY}.csv"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    file = LandingFile("flights", DAY, path)
    try:
        raw = read_delivery(file, FLIGHTS, ingested_at=datetime.now(UTC))
    except LandingFileError as rejected:
        problem = str(rejected)
    else:
        problem = None
    if problem is not None:
        assert problem.startswith(f"{NAME}:"), problem  # rejected, naming the file
        return
    # Every physical line after the header is in exactly one raw row: a line that could not
    # be split is a row of its own, a record with a quoted line break spans its lines.
    fields = list(FLIGHTS.columns)
    spans = raw.select(
        "_line_number",
        span=pl.when(pl.col(RAW_LINE).is_not_null())
        .then(1)
        .otherwise(1 + pl.sum_horizontal(pl.col(fields).str.count_matches("\n").fill_null(0))),
    ).sort("_line_number")
    expected_start = 2
    for number, span in spans.iter_rows():
        assert number == expected_start, (number, expected_start)
        expected_start += span
    assert expected_start - 2 == body_lines(data)
    # Every raw row ends in exactly one place.
    ends = staged_split(raw)
    placed = Counter(key for frame in ends.values() for key in frame.select(LINE_KEY).iter_rows())
    assert placed == Counter(raw.select(LINE_KEY).iter_rows())
    assert set(placed.values()) <= {1}


def published_rows(lake: Path) -> dict[str, pl.DataFrame]:
    """Every lake table's rows as readers see them (the published versions), in a fixed order."""
    store = DeltaStore(str(lake))
    tables = {}
    for layer, name in store.tables():
        table = store.open(store.uri([layer, name]))
        if table is not None:
            frame = store.scan(table).collect()
            tables[f"{layer}/{name}"] = frame.sort(frame.columns)
    return tables


def not_from(frame: pl.DataFrame, delivery: str) -> pl.DataFrame:
    """The rows that did not come from `delivery` (all of them in a table without lineage)."""
    if "_source_file" not in frame.columns:
        return frame
    return frame.filter(pl.col("_source_file") != delivery)


@pytest.fixture(scope="module")
def published(landed_sample: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The sample days materialized once; the fuzzed day is re-delivered over it."""
    home = tmp_path_factory.mktemp("published")
    settings = Settings(home=home, partition_start=SAMPLE_START, partition_end=date(2013, 12, 31))
    shutil.copytree(landed_sample, settings.landing_dir)
    with dg.instance_for_test() as instance:
        result = materialize_range(
            defs, SAMPLE_START, SAMPLE_END, instance, resources=build_resources(settings)
        )
    assert result.success
    return settings


@settings(
    # A whole run per example: a fiftieth of the profile's examples, at least three.
    max_examples=max(3, settings().max_examples // 50),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutations=MUTATIONS)
def test_a_run_over_a_mutated_delivery_changes_nothing_already_published(
    published: Settings, landed_sample: Path, mutations: list[tuple[Any, ...]]
) -> None:
    lake = published.lake_dir
    before = published_rows(lake)
    clean = (landed_sample / "flights" / f"{DAY}.csv").read_bytes()
    write_atomic(published.landing_dir / "flights" / f"{DAY}.csv", mutate(clean, mutations))
    selection = dg.AssetSelection.assets(
        ["raw", "flights"], ["staged", "flights"], ["staged", "flights_quarantine"]
    )
    with dg.instance_for_test() as instance:
        result = materialize_range(
            defs, DAY, DAY, instance, resources=build_resources(published), selection=selection
        )
    after = published_rows(lake)
    assert set(after) == set(before)
    for table, rows in before.items():  # every row of another delivery is as it was
        assert_frame_equal(not_from(after[table], NAME), not_from(rows, NAME), check_exact=True)
    failed = {e.step_key: e for e in result.all_events if e.is_step_failure}
    if "raw__flights" in failed:
        error = failed["raw__flights"].step_failure_data.error  # type: ignore[union-attr]
        assert NAME in str(error)
        for table, rows in before.items():  # a rejected file changes nothing, its day included
            assert_frame_equal(after[table], rows, check_exact=True)
        return
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    if failed or not checks["contract_pass_rate"].passed:
        # A day the blocking checks refuse is not published: the old staged day stays.
        assert_frame_equal(after["staged/flights"], before["staged/flights"], check_exact=True)
    if checks:
        assert checks["reconciliation"].passed
