import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import polars as pl
import pytest
from dagster_duckdb import DuckDBResource

from lakehouse.resources import warehouse_io
from lakehouse.resources.partitioning import MissingPartitionError, PartitionMismatchError
from lakehouse.resources.warehouse_io import (
    DuckDBWarehouseIOManager,
    SchemaDriftError,
    WarehouseLockedError,
    arrow_stream,
    as_utc,
    batches,
    diff_columns,
    drift_message,
)
from lakehouse.sql import quote

DAYS = dg.DailyPartitionsDefinition(start_date="2013-01-01", end_date="2013-01-04")
D1, D2 = date(2013, 1, 1), date(2013, 1, 2)


def io_manager(path: Path, **kwargs: Any) -> DuckDBWarehouseIOManager:
    return DuckDBWarehouseIOManager(duckdb=DuckDBResource(database=str(path)), **kwargs)


def daily_asset(rows: dict[str, list[Any]], name: str = "daily") -> dg.AssetsDefinition:
    """A partitioned mart returning `rows` for the run's day (an empty list: no rows)."""

    @dg.asset(key=["marts", name], partitions_def=DAYS, metadata={"partition_expr": "day"})
    def _asset(context: dg.AssetExecutionContext) -> pl.DataFrame:
        day = date.fromisoformat(context.partition_key)
        count = len(next(iter(rows.values())))
        return pl.DataFrame({"day": [day] * count, **rows}).with_columns(
            pl.col("day").cast(pl.Date)
        )

    return _asset


def run(asset: dg.AssetsDefinition, db: Path, day: date, **io: Any) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [asset], resources={"io_manager": io_manager(db, **io)}, partition_key=day.isoformat()
    )


def table(db: Path, name: str = "daily") -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.sql(f'SELECT * FROM "marts"."{name}" ORDER BY ALL').fetchall()


def test_rematerializing_a_partition_replaces_it(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    run(daily_asset({"v": [1, 2]}), db, D1)
    run(daily_asset({"v": [3]}), db, D1)
    assert table(db) == [(D1, 3)]


def test_writing_one_partition_leaves_the_others(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    run(daily_asset({"v": [1]}), db, D1)
    run(daily_asset({"v": [2]}), db, D2)
    run(daily_asset({"v": [10]}), db, D1)
    assert table(db) == [(D1, 10), (D2, 2)]


def test_an_empty_output_empties_its_partition_only(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    run(daily_asset({"v": [1]}), db, D1)
    run(daily_asset({"v": [2]}), db, D2)
    empty = daily_asset({"v": pl.Series([], dtype=pl.Int64).to_list()})
    assert run(empty, db, D2).success
    assert table(db) == [(D1, 1)]


def test_rows_without_a_partition_value_are_refused(tmp_path: Path) -> None:
    @dg.asset(key=["marts", "daily"], partitions_def=DAYS, metadata={"partition_expr": "day"})
    def undated() -> pl.DataFrame:
        return pl.DataFrame({"day": [D1, None], "v": [1, 2]})

    db = tmp_path / "w.duckdb"
    with pytest.raises(PartitionMismatchError, match=r"1 row\(s\) lie outside .*day=None"):
        run(undated, db, D1)
    assert not db.exists()  # refused before the warehouse was opened


def test_a_new_column_is_added(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    run(daily_asset({"v": [1]}), db, D1)
    run(daily_asset({"v": [2], "w": ["x"]}), db, D2)
    assert table(db) == [(D1, 1, None), (D2, 2, "x")]


def test_a_removed_column_is_an_error_naming_it_and_keeps_the_data(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    run(daily_asset({"v": [1], "w": ["x"]}), db, D1)
    with pytest.raises(SchemaDriftError, match=r"marts\.daily\.w is missing from the output"):
        run(daily_asset({"v": [2]}), db, D1)
    assert table(db) == [(D1, 1, "x")]


def test_a_retyped_column_is_an_error_naming_it(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    run(daily_asset({"v": [1]}), db, D1)
    with pytest.raises(SchemaDriftError, match=r"marts\.daily\.v changed BIGINT -> VARCHAR"):
        run(daily_asset({"v": ["one"]}), db, D1)
    assert table(db) == [(D1, 1)]


def test_columns_are_inserted_by_name_not_position(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    run(daily_asset({"a": [1], "b": [2]}), db, D1)
    run(daily_asset({"b": [20], "a": [10]}), db, D2)
    assert table(db) == [(D1, 1, 2), (D2, 10, 20)]


def test_reserved_words_and_quotes_in_names_are_quoted(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    run(daily_asset({"select": [1], 'we"ird': [2]}, name="order"), db, D1)
    assert table(db, "order") == [(D1, 1, 2)]


class FailingInsert:
    """A connection that fails on INSERT, after the DELETE of the same transaction ran."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con

    def execute(self, sql: str, *args: Any) -> Any:
        if sql.startswith("INSERT"):
            raise duckdb.IOException("simulated crash between delete and insert")
        return self._con.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def test_a_failure_between_delete_and_insert_keeps_the_old_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "w.duckdb"
    run(daily_asset({"v": [1, 2]}), db, D1)
    real_connect = DuckDBWarehouseIOManager.connect

    @contextmanager
    def failing(self: DuckDBWarehouseIOManager, **kw: Any) -> Iterator[Any]:
        with real_connect(self, **kw) as con:
            yield FailingInsert(con)

    monkeypatch.setattr(DuckDBWarehouseIOManager, "connect", failing)
    with pytest.raises(duckdb.IOException, match="simulated crash"):
        run(daily_asset({"v": [9]}), db, D1)
    monkeypatch.undo()
    assert table(db) == [(D1, 1), (D1, 2)]


def test_connections_are_closed_after_a_failed_write(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    run(daily_asset({"v": [1]}), db, D1)
    with pytest.raises(SchemaDriftError):
        run(daily_asset({"v": ["x"]}), db, D1)
    # Another process can take the write lock only if this one closed its connection.
    code = f"import duckdb; duckdb.connect({str(db)!r}).execute('CHECKPOINT')"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.slow
def test_a_lock_held_elsewhere_is_reported_with_its_holder(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, sys, time
            con = duckdb.connect({str(db)!r})
            print("locked", flush=True)
            time.sleep(60)
        """)],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(WarehouseLockedError, match=rf"locked by .*\(PID {holder.pid}\)"):
            run(daily_asset({"v": [1]}), db, D1, lock_retries=2, lock_wait_seconds=0.01)
    finally:
        holder.kill()
        holder.communicate()


def test_quote_doubles_embedded_quotes() -> None:
    assert quote('a"b') == '"a""b"'


def test_drift_message_lists_every_problem() -> None:
    changes = diff_columns({"a": "INTEGER", "b": "VARCHAR"}, {"a": "DOUBLE", "c": "DATE"})
    assert changes.added == [("c", "DATE")]
    message = drift_message("marts.t", changes)
    assert message is not None
    assert "marts.t.b is missing from the output" in message
    assert "marts.t.a changed INTEGER -> DOUBLE" in message
    assert drift_message("marts.t", diff_columns({"a": "INTEGER"}, {"a": "INTEGER"})) is None


def test_timestamps_read_back_from_duckdb_are_named_utc() -> None:
    frame = pl.DataFrame({"t": [datetime(2013, 1, 1, tzinfo=UTC)]}).with_columns(
        pl.col("t").dt.convert_time_zone("Etc/UTC")
    )
    assert as_utc(frame).schema["t"] == pl.Datetime("us", "UTC")


def test_the_first_write_on_a_fresh_data_home_creates_the_folder_and_the_file(
    tmp_path: Path,
) -> None:
    db = tmp_path / "data" / "w.duckdb"  # `make clean`: no data folder at all
    assert run(daily_asset({"v": [1]}), db, D1).success
    assert table(db) == [(D1, 1)]


@pytest.mark.parametrize("created", [True, False], ids=["empty warehouse", "no warehouse file"])
def test_reading_a_table_never_materialized_says_what_to_run(tmp_path: Path, created: bool) -> None:
    @dg.asset(key=["marts", "reader"], ins={"daily": dg.AssetIn(["marts", "daily"])})
    def reader(daily: pl.DataFrame) -> None:
        raise AssertionError("must not run")

    db = tmp_path / "data" / "w.duckdb"
    if created:
        db.parent.mkdir()
        duckdb.connect(str(db)).close()
    source = dg.AssetSpec(["marts", "daily"]).with_io_manager_key("io_manager")
    with pytest.raises(MissingPartitionError, match=r"marts.daily has never been materialized"):
        dg.materialize([source, reader], resources={"io_manager": io_manager(db)})
    assert db.parent.exists() is created  # a read creates no folder and no empty warehouse


def lazy_asset(values: list[int]) -> dg.AssetsDefinition:
    """A partitioned mart returning a LazyFrame of `values` for the run's day."""

    @dg.asset(key=["marts", "daily"], partitions_def=DAYS, metadata={"partition_expr": "day"})
    def _asset(context: dg.AssetExecutionContext) -> pl.LazyFrame:
        day = date.fromisoformat(context.partition_key)
        return pl.LazyFrame({"day": [day] * len(values), "v": values})

    return _asset


@pytest.mark.parametrize("lazy", [True, False], ids=["LazyFrame", "DataFrame"])
def test_batches_cover_every_row_in_order_a_few_at_a_time(lazy: bool) -> None:
    frame = pl.DataFrame({"v": list(range(7))})
    got = list(batches(frame.lazy() if lazy else frame, 3))
    assert [b["v"].to_list() for b in got] == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(batches(frame.head(0).lazy() if lazy else frame.head(0), 3)) == []


def test_an_empty_arrow_stream_keeps_its_types() -> None:
    stream = arrow_stream(pl.LazyFrame(schema={"day": pl.Date, "v": pl.Int16}), 3)
    assert [str(t) for t in stream.schema.types] == ["date32[day]", "int16"]
    assert stream.read_all().num_rows == 0


class Batches:
    """`batches` as the IO manager calls it: records the batch sizes, and fails after the
    first `fail_after` batches were handed over (0: never).
    """

    def __init__(self, fail_after: int = 0) -> None:
        self.fail_after = fail_after
        self.sizes: list[int] = []

    def __call__(self, frame: pl.DataFrame | pl.LazyFrame, rows: int) -> Iterator[pl.DataFrame]:
        for batch in batches(frame, rows):
            if self.fail_after and len(self.sizes) == self.fail_after:
                msg = "simulated crash in the middle of the inserts"
                raise OSError(msg)
            self.sizes.append(batch.height)
            yield batch


def test_a_lazy_output_is_inserted_in_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = Batches()
    monkeypatch.setattr(warehouse_io, "batches", seen)
    db = tmp_path / "w.duckdb"
    assert run(lazy_asset(list(range(7))), db, D1, insert_batch_rows=3).success
    assert seen.sizes == [3, 3, 1]
    assert table(db) == [(D1, v) for v in range(7)]


def test_a_failure_between_batches_keeps_every_old_row_and_adds_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "w.duckdb"
    run(lazy_asset([1, 2]), db, D1)
    failing = Batches(fail_after=1)
    monkeypatch.setattr(warehouse_io, "batches", failing)
    with pytest.raises(duckdb.InvalidInputException, match="middle of the inserts"):
        run(lazy_asset(list(range(10, 17))), db, D1, insert_batch_rows=3)
    assert failing.sizes == [3]  # the first batch was handed to the INSERT, then it failed
    assert table(db) == [(D1, 1), (D1, 2)]


def test_a_lazy_output_outside_the_partition_is_refused_before_writing(tmp_path: Path) -> None:
    @dg.asset(key=["marts", "daily"], partitions_def=DAYS, metadata={"partition_expr": "day"})
    def stray() -> pl.LazyFrame:
        return pl.LazyFrame({"day": [D1, D2, D2, None], "v": [1, 2, 3, 4]})

    db = tmp_path / "w.duckdb"
    outside = r"3 row\(s\) lie outside .*\(day=2013-01-02; day=None\)"
    with pytest.raises(PartitionMismatchError, match=outside):
        run(stray, db, D1)
    assert not db.exists()


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [({"columns": ["c", "a"]}, [(2.0, 1)]), (None, [(D1, 1, "x", 2.0)])],
    ids=["named columns, in that order", "every column"],
)
def test_an_input_loads_only_the_columns_it_names(
    tmp_path: Path, metadata: dict[str, Any] | None, expected: list[tuple[Any, ...]]
) -> None:
    db = tmp_path / "w.duckdb"
    run(daily_asset({"a": [1], "b": ["x"], "c": [2.0]}), db, D1)
    loaded: list[pl.DataFrame] = []

    @dg.asset(
        key=["marts", "reader"],
        partitions_def=DAYS,
        ins={"daily": dg.AssetIn(["marts", "daily"], metadata=metadata)},
    )
    def reader(daily: pl.DataFrame) -> None:
        loaded.append(daily)

    source = dg.AssetSpec(
        ["marts", "daily"], partitions_def=DAYS, metadata={"partition_expr": "day"}
    ).with_io_manager_key("io_manager")
    dg.materialize(
        [source, reader], resources={"io_manager": io_manager(db)}, partition_key=D1.isoformat()
    )
    assert loaded[0].rows() == expected


def memory_limit(manager: DuckDBWarehouseIOManager) -> str:
    with manager.connect() as con:
        row = con.execute("SELECT current_setting('memory_limit')").fetchone()
    assert row is not None
    return str(row[0])


def test_duckdb_memory_is_limited_unless_the_resource_sets_its_own(tmp_path: Path) -> None:
    def expected(limit: str) -> str:
        with duckdb.connect(config={"memory_limit": limit}) as con:
            return str(con.execute("SELECT current_setting('memory_limit')").fetchone()[0])  # type: ignore[index]

    db = tmp_path / "w.duckdb"
    assert memory_limit(io_manager(db, memory_limit="100MB")) == expected("100MB")
    resource = DuckDBResource(database=str(db), connection_config={"memory_limit": "200MB"})
    own = DuckDBWarehouseIOManager(duckdb=resource, memory_limit="100MB")
    assert memory_limit(own) == expected("200MB")


def test_duckdb_does_not_keep_insertion_order_unless_the_resource_asks(tmp_path: Path) -> None:
    def keeps_order(manager: DuckDBWarehouseIOManager) -> bool:
        with manager.connect() as con:
            row = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
        assert row is not None
        return bool(row[0])

    db = tmp_path / "w.duckdb"
    assert not keeps_order(io_manager(db))
    resource = DuckDBResource(
        database=str(db), connection_config={"preserve_insertion_order": True}
    )
    assert keeps_order(DuckDBWarehouseIOManager(duckdb=resource))
