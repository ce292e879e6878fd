"""The lake's Delta tables: one commit per run, nothing partial visible, pruning, history."""

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from lakehouse.assets.raw import RAW_FILE_STATISTICS
from lakehouse.resources import delta_tables
from lakehouse.resources.delta_tables import DeltaStore, SchemaDriftError
from lakehouse.resources.lake_io import (
    DailyScan,
    LakeIOManager,
    MissingPartitionError,
    PartitionMismatchError,
    PartitionStaging,
    StagedPartitions,
    split_days,
)

D1, D2, D3 = date(2013, 1, 1), date(2013, 1, 2), date(2013, 1, 3)
SCHEMA = pl.Schema({"day": pl.Date, "value": pl.Int64})
DAYS = dg.DailyPartitionsDefinition(start_date="2013-01-01", end_date="2013-01-04")
RANGE = {
    "dagster/asset_partition_range_start": "2013-01-01",
    "dagster/asset_partition_range_end": "2013-01-03",
}
# A daily asset written a range at a time, its days in the `day` column.
DAILY_RANGE: dict[str, Any] = {
    "partitions_def": DAYS,
    "metadata": {"partition_expr": "day"},
    "backfill_policy": dg.BackfillPolicy.single_run(),
}


def rows(day: date, *values: int) -> pl.DataFrame:
    return pl.DataFrame({"day": [day] * len(values), "value": list(values)}, schema=SCHEMA)


def staged_asset(produce: Any) -> dg.AssetsDefinition:
    """A daily asset whose body stages day files itself, like the raw and staged layers."""

    @dg.asset(
        key=["raw", "numbers"],
        **DAILY_RANGE,
    )
    def numbers(context: dg.AssetExecutionContext) -> Any:
        days = [date.fromisoformat(k) for k in context.partition_keys]
        with PartitionStaging("day") as staging:
            produce(staging, days)
            yield dg.Output(staging.staged(SCHEMA))

    return numbers


def run(lake: Path, asset: dg.AssetsDefinition, **kw: Any) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [asset], resources={"io_manager": LakeIOManager(base_dir=str(lake))}, **kw
    )


def table(lake: Path) -> pl.DataFrame:
    return pl.read_delta(str(lake / "raw" / "numbers")).sort("day", "value")


def test_staged_days_replace_exactly_the_runs_partitions_in_one_commit(
    tmp_path: Path, scratch: Path
) -> None:
    def first(staging: PartitionStaging, days: list[date]) -> None:
        for day in days:
            staging.write(day, rows(day, 1))

    def second(staging: PartitionStaging, days: list[date]) -> None:
        staging.write(D2, rows(D2, 20, 21))
        staging.write_missing(days, SCHEMA)  # D3 has no rows: it still replaces the old ones

    assert run(tmp_path, staged_asset(first), tags=RANGE).success
    second_range = {**RANGE, "dagster/asset_partition_range_start": "2013-01-02"}
    assert run(tmp_path, staged_asset(second), tags=second_range).success
    assert table(tmp_path).rows() == [(D1, 1), (D2, 20), (D2, 21)]
    log = DeltaTable(str(tmp_path / "raw" / "numbers"))
    assert log.version() == 1  # one commit per run
    assert DeltaStore(str(tmp_path)).present_partitions(log) == {
        ("2013-01-01",): 1,
        ("2013-01-02",): 2,
        ("2013-01-03",): 0,
    }
    assert list(scratch.iterdir()) == []


@pytest.mark.parametrize(
    ("staged", "message"),
    [
        pytest.param([D1, D2], r"1 day\(s\) \(2013-01-03\)", id="a day missing"),
        pytest.param([D1, D2, D3], r"1 day\(s\) \(2013-01-03\)", id="a day too many"),
    ],
)
def test_staged_days_that_are_not_the_runs_commit_nothing(
    tmp_path: Path, scratch: Path, staged: list[date], message: str
) -> None:
    def once(staging: PartitionStaging, days: list[date]) -> None:
        for day in days:
            staging.write(day, rows(day, 1))

    assert run(tmp_path, staged_asset(once), tags=RANGE).success

    def wrong(staging: PartitionStaging, _: list[date]) -> None:
        for day in staged:
            staging.write(day, rows(day, 9))

    two_days = {**RANGE, "dagster/asset_partition_range_end": "2013-01-02"}
    tags = two_days if staged == [D1, D2, D3] else RANGE
    result = run(tmp_path, staged_asset(wrong), tags=tags, raise_on_error=False)
    assert not result.success
    assert any(
        message and "differ from the partitions" in str(e.step_failure_data.error.cause)
        for e in result.all_events
        if e.is_step_failure
    )
    assert table(tmp_path)["value"].to_list() == [1, 1, 1]
    assert DeltaTable(str(tmp_path / "raw" / "numbers")).version() == 0
    assert list(scratch.iterdir()) == []


def test_a_failed_commit_leaves_the_previous_version_and_nothing_visible(
    tmp_path: Path, scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = DeltaStore(str(tmp_path))
    uri = store.uri(["raw", "numbers"])
    lake = LakeIOManager(base_dir=str(tmp_path))

    def write(value: int) -> dg.ExecuteInProcessResult:
        @dg.asset(key=["raw", "numbers"], partitions_def=DAYS, metadata={"partition_expr": "day"})
        def numbers() -> pl.DataFrame:
            return rows(D1, value)

        return dg.materialize(
            [numbers], resources={"io_manager": lake}, partition_key="2013-01-01",
            raise_on_error=False,
        )  # fmt: skip

    assert write(1).success

    def store_unreachable(*args: object, **kwargs: object) -> None:
        msg = "the store went away mid-commit"
        raise OSError(msg)

    with monkeypatch.context() as patched:
        patched.setattr(DeltaTable, "create_write_transaction", store_unreachable)
        assert not write(2).success
    # A generic Delta reader sees the old version only, though the new file was put in place.
    assert pl.read_delta(uri)["value"].to_list() == [1]
    files = sorted(Path(uri).rglob("*.parquet"))
    assert len(files) == 2
    # vacuum removes the failed write's file (retention 0 here; 7 days by default).
    removed = store.vacuum(uri, retention_hours=0)
    assert len(removed) == 1
    assert pl.read_delta(uri)["value"].to_list() == [1]
    assert list(scratch.iterdir()) == []


def test_a_frame_of_several_days_is_staged_one_file_per_day_in_row_order(scratch: Path) -> None:
    several = pl.concat([rows(D2, 3, 1), rows(D1, 2), rows(D2, 2)])
    with PartitionStaging("day") as staging:
        staging.write_days(several)
        staging.write_missing([D1, D2, D3], SCHEMA)
        staged = staging.staged()
        assert sorted(staged.files) == [D1, D2, D3]
        assert staged.rows == {D1: 1, D2: 3, D3: 0}
        got = staged.scan().collect()
    assert got.schema == SCHEMA
    assert got.rows() == [(D1, 2), (D2, 3), (D2, 1), (D2, 2)]
    assert list(scratch.iterdir()) == []


def test_a_failed_background_write_is_raised_not_lost(scratch: Path) -> None:
    unwritable = rows(D1, 1).with_columns(blob=pl.Series([object()], dtype=pl.Object))
    with PartitionStaging("day") as staging:
        staging.write(D1, unwritable)  # written by the background thread, which fails
        with pytest.raises(pl.exceptions.ComputeError, match="Object"):
            staging.staged()
    assert list(scratch.iterdir()) == []


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(pl.concat([rows(D1, 2), rows(D2, 3, 1), rows(D3, 4)]), id="ordered by day"),
        pytest.param(pl.concat([rows(D2, 3, 1), rows(D1, 2), rows(D2, 2)]), id="days mixed"),
        pytest.param(rows(D1), id="no rows"),
    ],
)
def test_split_days_gives_each_days_rows_in_order(frame: pl.DataFrame) -> None:
    expected = frame.partition_by("day", as_dict=True, maintain_order=True)
    split = list(split_days(frame, "day"))
    assert [day for day, _ in split] == [day for (day,) in expected]
    assert all(part.equals(expected[(day,)]) for day, part in split)


@pytest.mark.parametrize(
    ("statistics", "min_max"),
    [pytest.param(True, True, id="default"), pytest.param(RAW_FILE_STATISTICS, False, id="raw")],
)
def test_day_files_are_written_with_the_statistics_asked_for(
    scratch: Path, statistics: bool | dict[str, bool], min_max: bool
) -> None:
    with PartitionStaging("day", statistics=statistics) as staging:
        staging.write(D1, rows(D1, 1, 2))
        staging.write_days(pl.concat([rows(D2, 3), rows(D3, 4)]))
        staged: StagedPartitions = staging.staged()
        for file in staged.files.values():
            for column in pq.ParquetFile(file).metadata.row_group(0).to_dict()["columns"]:
                stats = column["statistics"]
                assert (stats["has_min_max"], stats["null_count"]) == (min_max, 0), file


def daily_numbers(lake: Path) -> Path:
    @dg.asset(
        key=["raw", "numbers"],
        **DAILY_RANGE,
    )
    def numbers(context: dg.AssetExecutionContext) -> pl.DataFrame:
        days = [rows(date.fromisoformat(k), int(k[-1])) for k in context.partition_keys]
        return pl.concat(days).with_columns(note=pl.lit("n"))

    assert run(lake, numbers, tags=RANGE).success
    return lake / "raw" / "numbers"


def load(lake: Path, days: list[date], annotation: type = pl.LazyFrame) -> Any:
    """What the IO manager hands an input mapped to `days` of raw/numbers (read by a
    downstream asset of that annotation).
    """
    got: dict[str, Any] = {}

    @dg.asset(
        key=["s", "reader"],
        partitions_def=DAYS,
        ins={"numbers": dg.AssetIn(["raw", "numbers"])},
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def reader(numbers: annotation) -> None:  # type: ignore[valid-type]
        got["input"] = numbers

    @dg.asset(key=["raw", "numbers"], partitions_def=DAYS, metadata={"partition_expr": "day"})
    def numbers() -> None:
        raise AssertionError

    tags = {
        "dagster/asset_partition_range_start": days[0].isoformat(),
        "dagster/asset_partition_range_end": days[-1].isoformat(),
    }
    result = dg.materialize(
        [numbers, reader],
        selection=[reader.key],
        resources={"io_manager": LakeIOManager(base_dir=str(lake))},
        tags=tags,
    )
    assert result.success
    return got["input"]


def test_a_load_scans_only_the_mapped_partitions_and_columns(tmp_path: Path) -> None:
    folder = daily_numbers(tmp_path)
    # Corrupt the days not asked for: reading them would fail.
    for day in (D1, D3):
        for file in (folder / f"day={day}").glob("*.parquet"):
            file.write_bytes(b"not parquet")
    scan = load(tmp_path, [D2])
    plan = scan.select("value").explain()
    assert "day=2013-01-02" in plan
    assert "day=2013-01-01" not in plan
    assert "day=2013-01-03" not in plan
    assert "PROJECT 2/3 COLUMNS" in plan  # value, and day for the filter; not note
    assert scan.collect().rows() == [(D2, 2, "n")]


def test_a_load_names_the_partitions_never_written(tmp_path: Path) -> None:
    daily_numbers(tmp_path)
    store = DeltaStore(str(tmp_path))
    store.delete_where(store.uri(["raw", "numbers"]), "day = '2013-01-02'", {})
    # A partition whose rows were deleted is empty, not missing: its file is gone though.
    with pytest.raises(MissingPartitionError, match=r"1 partition\(s\) .*\(2013-01-02\)"):
        load(tmp_path, [D1, D2])


def test_a_daily_scan_reads_chunks_of_the_version_the_step_started_with(tmp_path: Path) -> None:
    daily_numbers(tmp_path)
    scan = load(tmp_path, [D1, D2, D3], DailyScan)
    assert isinstance(scan, DailyScan)
    assert scan.schema == pl.Schema({**SCHEMA, "note": pl.String})
    assert scan.scan([D2, D3]).collect()["value"].to_list() == [2, 3]
    store = DeltaStore(str(tmp_path))
    store.delete_where(store.uri(["raw", "numbers"]), None, {})  # a later commit
    assert scan.scan([D1]).collect()["value"].to_list() == [1]
    with pytest.raises(ValueError, match="outside the run"):
        scan.scan([date(2013, 1, 9)])


def test_zoned_timestamps_keep_their_zone_and_read_as_utc_elsewhere(tmp_path: Path) -> None:
    local = datetime(2013, 6, 1, 9, 0)
    frame = pl.DataFrame({"at": [local]}).with_columns(
        pl.col("at").dt.replace_time_zone("America/New_York")
    )

    @dg.asset(key=["s", "zoned"])
    def zoned() -> pl.DataFrame:
        return frame

    got: dict[str, pl.DataFrame] = {}

    @dg.asset(key=["s", "reader"], ins={"zoned": dg.AssetIn(["s", "zoned"])})
    def reader(zoned: pl.DataFrame) -> None:
        got["zoned"] = zoned

    assert run(tmp_path, zoned).success
    assert dg.materialize(
        [zoned, reader],
        selection=[reader.key],
        resources={"io_manager": LakeIOManager(base_dir=str(tmp_path))},
    ).success
    assert got["zoned"].equals(frame)
    generic = pl.read_delta(str(tmp_path / "s" / "zoned"))
    assert generic["at"].to_list() == [datetime(2013, 6, 1, 13, 0, tzinfo=UTC)]


def test_history_names_each_run_and_restore_brings_a_version_back(tmp_path: Path) -> None:
    values = iter([1, 2])

    @dg.asset(key=["s", "versions"])
    def versions() -> pl.DataFrame:
        return pl.DataFrame({"v": [next(values)]})

    first, second = run(tmp_path, versions), run(tmp_path, versions)
    store = DeltaStore(str(tmp_path))
    uri = store.uri(["s", "versions"])
    runs = [h.get(delta_tables.RUN_ID) for h in store.history(uri)]
    assert runs == [second.run_id, first.run_id]
    assert store.restore(uri, 0, {"reason": "bad backfill"}) == 2
    assert pl.read_delta(uri)["v"].to_list() == [1]
    assert pl.read_delta(uri, version=1)["v"].to_list() == [2]


def test_a_retyped_column_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    store = DeltaStore(str(tmp_path))
    uri = store.uri(["s", "t"])
    table = store.open(uri)
    assert table is None
    with pytest.raises(SchemaDriftError, match="'value' changed Int64 -> String"):
        store.evolve(
            _table_with(tmp_path, uri), uri, pl.Schema({"day": pl.Date, "value": pl.String})
        )


def _table_with(tmp_path: Path, uri: str) -> DeltaTable:
    pl.DataFrame({"day": [D1], "value": [1]}).write_delta(uri)
    return DeltaTable(uri)


def test_rows_outside_the_run_commit_nothing(tmp_path: Path) -> None:
    daily_numbers(tmp_path)

    @dg.asset(key=["raw", "numbers"], partitions_def=DAYS, metadata={"partition_expr": "day"})
    def numbers() -> pl.DataFrame:
        return pl.concat([rows(D1, 10), rows(D2, 20)])

    result = run(tmp_path, numbers, partition_key="2013-01-01", raise_on_error=False)
    [failure] = [e for e in result.all_events if e.is_step_failure]
    cause = failure.step_failure_data.error.cause
    assert cause is not None
    assert PartitionMismatchError.__name__ in cause.cls_name
    assert "day=2013-01-02" in cause.message
    assert table(tmp_path)["value"].to_list() == [1, 2, 3]


def test_the_first_write_creates_a_fresh_lake_root_and_a_read_never_does(tmp_path: Path) -> None:
    lake = tmp_path / "data" / "lake"  # `make clean`: no data folder at all
    with pytest.raises(MissingPartitionError, match=r"raw/numbers has no table at .*materialize"):
        load(lake, [D1])
    assert not lake.parent.exists()
    daily_numbers(lake)
    assert (lake / "raw" / "numbers" / "_delta_log").is_dir()


def test_a_foreign_file_in_a_table_folder_is_not_read_and_vacuum_removes_it(
    tmp_path: Path,
) -> None:
    folder = daily_numbers(tmp_path)
    foreign = folder / "day=2013-01-01" / "someone-elses.parquet"
    pl.DataFrame({"value": [999]}).write_parquet(foreign)
    assert 999 not in pl.read_delta(str(folder))["value"].to_list()
    assert load(tmp_path, [D1]).collect()["value"].to_list() == [1]
    store = DeltaStore(str(tmp_path))
    assert any("someone-elses" in f for f in store.vacuum(str(folder), retention_hours=0))
    assert not foreign.exists()


def test_a_damaged_newest_log_entry_is_named_with_what_to_do(tmp_path: Path) -> None:
    folder = daily_numbers(tmp_path)
    daily_numbers(tmp_path)  # a second version
    (folder / "_delta_log" / "00000000000000000001.json").write_text("{cut short")
    with pytest.raises(delta_tables.TableStoreError, match="raw/numbers is not a readable") as e:
        DeltaStore(str(tmp_path)).open(str(folder))
    assert "move that entry away" in str(e.value)


def test_a_table_of_a_newer_protocol_is_refused_by_name(tmp_path: Path) -> None:
    folder = daily_numbers(tmp_path)
    first = folder / "_delta_log" / "00000000000000000000.json"
    entries = [json.loads(line) for line in first.read_text().splitlines()]
    for entry in entries:
        if "protocol" in entry:
            entry["protocol"] = {"minReaderVersion": 4, "minWriterVersion": 8}
    first.write_text("\n".join(json.dumps(e) for e in entries) + "\n")
    with pytest.raises(delta_tables.TableStoreError, match="newer Delta protocol"):
        DeltaStore(str(tmp_path)).open(str(folder))


def test_a_table_written_run_after_run_is_checkpointed_every_ten_commits(tmp_path: Path) -> None:
    @dg.asset(key=["raw", "numbers"], partitions_def=DAYS, metadata={"partition_expr": "day"})
    def numbers(context: dg.AssetExecutionContext) -> pl.DataFrame:
        return rows(date.fromisoformat(context.partition_key), 1)

    for _ in range(12):  # versions 0..11, as a day's landing run commits each
        assert run(tmp_path, numbers, partition_key="2013-01-01").success
    log = tmp_path / "raw" / "numbers" / "_delta_log"
    # The tenth commit (version 9) is checkpointed: an open reads it and two commits after it.
    assert [p.name for p in log.glob("*.checkpoint.parquet")] == [
        "00000000000000000009.checkpoint.parquet"
    ]
    assert table(tmp_path)["value"].to_list() == [1]


def test_a_store_reusing_tables_sees_every_later_commit_and_keeps_versions_apart(
    tmp_path: Path,
) -> None:
    daily_numbers(tmp_path)
    reusing, other = DeltaStore(str(tmp_path), reuse_tables=True), DeltaStore(str(tmp_path))
    uri = reusing.uri(["raw", "numbers"])
    first = reusing.open(uri)
    assert first is not None
    version = first.version()
    other.delete_where(uri, "value = 2", {})  # another writer commits
    again = reusing.open(uri)
    assert again is first  # brought up to date, not read again
    assert again.version() == version + 1
    assert sorted(reusing.scan(again).collect()["value"]) == [1, 3]
    older = reusing.open(uri, version)
    assert older is not None
    assert older is not first
    assert (older.version(), first.version()) == (version, version + 1)
    assert sorted(reusing.scan(older).collect()["value"]) == [1, 2, 3]


def test_a_run_reads_each_of_its_tables_from_its_checkpoint_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    @dg.asset(
        key=["raw", "numbers"],
        **DAILY_RANGE,
    )
    def numbers(context: dg.AssetExecutionContext) -> pl.DataFrame:
        return pl.concat(rows(date.fromisoformat(k), 1) for k in context.partition_keys)

    @dg.asset(
        key=["staged", "doubled"],
        ins={"numbers": dg.AssetIn(["raw", "numbers"])},
        **DAILY_RANGE,
    )
    def doubled(numbers: pl.LazyFrame) -> pl.LazyFrame:
        return numbers.with_columns(pl.col("value") * 2)

    manager = LakeIOManager(base_dir=str(tmp_path / "lake"), catalog_path=str(tmp_path / "c.db"))

    def materialize() -> None:
        result = dg.materialize([numbers, doubled], resources={"io_manager": manager}, tags=RANGE)
        assert result.success

    materialize()  # creates both tables
    opened: list[str] = []
    constructor = DeltaTable.__init__

    def counted(self: DeltaTable, table_uri: str, *args: Any, **kwargs: Any) -> None:
        opened.append(Path(str(table_uri)).name)
        constructor(self, table_uri, *args, **kwargs)

    monkeypatch.setattr(DeltaTable, "__init__", counted)
    # Each table is written, checked and published, and `numbers` is also read; a run without
    # reuse opened them 7 times.
    materialize()
    assert sorted(opened) == ["doubled", "numbers"]
    materialize()  # a new run opens them afresh, and sees the previous run's commits
    assert sorted(opened) == ["doubled", "doubled", "numbers", "numbers"]
    assert DeltaTable(str(tmp_path / "lake" / "staged" / "doubled")).version() == 2
