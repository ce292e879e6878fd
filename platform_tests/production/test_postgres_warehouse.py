"""The shared warehouse backend on a real PostgreSQL server, alone and with the S3 lake."""

import threading
from dataclasses import replace
from datetime import date
from typing import Any

import dagster as dg
import polars as pl
import pytest

from lakehouse.definitions import build_resources, defs
from lakehouse.resources.partitioning import PartitionSlice, partition_slice
from lakehouse.resources.postgres_warehouse_io import (
    PostgresWarehouseIOManager,
    WarehouseUnavailableError,
    connect,
    read_rows,
    replace_rows,
)
from lakehouse.resources.warehouse_io import SchemaDriftError
from lakehouse.runner import materialize_range
from lakehouse.settings import Settings
from platform_tests.production.services import Postgres, free_port
from platform_tests.test_end_to_end import expected_from_files

pytestmark = [pytest.mark.slow, pytest.mark.production]
D1, D2 = date(2013, 1, 1), date(2013, 1, 2)
DAYS = [date(2013, 1, d) for d in range(1, 8)]  # writers cover 1-5, 2-6 or 3-7


@pytest.fixture
def warehouse_url(postgres: Postgres, pg_database: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The warehouse database's URL without its password, which is only in the environment."""
    monkeypatch.setenv("LAKEHOUSE_WAREHOUSE_PASSWORD", postgres.password)
    return f"postgresql://{postgres.user}@{postgres.host}:{postgres.port}/{pg_database}"


def days_slice(days: list[date]) -> PartitionSlice:
    """The rows of `days` of a table partitioned on `flight_date`."""
    partitions = dg.DailyPartitionsDefinition(start_date="2013-01-01")
    return partition_slice("marts/t", partitions, "flight_date", [d.isoformat() for d in days])


def rows(day: date, writer: int, n: int = 3) -> pl.DataFrame:
    return pl.DataFrame(
        {"flight_date": [day] * n, "writer": [writer] * n, "seq": list(range(n))},
        schema={"flight_date": pl.Date, "writer": pl.Int64, "seq": pl.Int64},
    )


def test_production_storage_end_to_end_s3_lake_and_postgres_warehouse(
    landed: Settings, lake_uri: str, warehouse_url: str, postgres: Postgres
) -> None:
    production = replace(landed, lake_uri=lake_uri, warehouse_url=warehouse_url)
    resources = build_resources(production)
    assert isinstance(resources["warehouse_io_manager"], PostgresWarehouseIOManager)
    with dg.instance_for_test() as instance:
        result = materialize_range(defs, D1, D2, instance, resources=resources)
    assert result.success
    assert not landed.warehouse_path.exists(), "the DuckDB file must not be used"
    for later in landed.landing_dir.glob("*/2013-01-03.csv"):
        later.unlink()
    expected = expected_from_files(landed.landing_dir)
    with connect(warehouse_url, postgres.password) as con:
        mart = read_rows(con, "marts", "mart_ontime_daily", None)
        fact = read_rows(con, "marts", "fct_flights", None)
    assert mart is not None
    assert fact is not None
    totals = (
        mart.group_by("flight_date")
        .agg(pl.col("flights").sum(), pl.col("cancelled").sum())
        .sort("flight_date")
    )
    assert totals.equals(expected.cast(totals.schema))
    assert fact.height == int(expected["flights"].sum())


def test_concurrent_writers_leave_each_day_whole(warehouse_url: str, postgres: Postgres) -> None:
    """Six writers on separate connections replace overlapping day ranges of one table at once:
    every day ends with exactly one writer's rows, never a mix, a duplicate or nothing.
    """
    errors: list[BaseException] = []

    def writer(number: int) -> None:
        days = DAYS[number % 3 : number % 3 + 5]
        try:
            with connect(warehouse_url, postgres.password) as con:
                for _ in range(3):
                    frame = pl.concat([rows(day, number) for day in days])
                    replace_rows(con, "marts", "t", frame, days_slice(days))
        except BaseException as error:  # noqa: BLE001 (reported by the main thread)
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    with connect(warehouse_url, postgres.password) as con:
        table = read_rows(con, "marts", "t", None)
    assert table is not None
    per_day = table.group_by("flight_date").agg(
        pl.len().alias("rows"), pl.col("writer").n_unique().alias("writers")
    )
    assert per_day["rows"].to_list() == [3] * len(DAYS)
    assert per_day["writers"].to_list() == [1] * len(DAYS)


def test_replace_is_one_transaction_and_drift_names_the_column(
    warehouse_url: str, postgres: Postgres
) -> None:
    with connect(warehouse_url, postgres.password) as con:
        replace_rows(con, "marts", "t", rows(D1, 1), days_slice([D1]))
        # An empty output is an empty partition, and touches no other day.
        replace_rows(con, "marts", "t", rows(D2, 2), days_slice([D2]))
        replace_rows(con, "marts", "t", rows(D1, 3).head(0), days_slice([D1]))
        assert read_rows(con, "marts", "t", days_slice([D1])).height == 0  # type: ignore[union-attr]
        assert read_rows(con, "marts", "t", days_slice([D2])).height == 3  # type: ignore[union-attr]
        with pytest.raises(SchemaDriftError, match=r"marts\.t\.seq is missing"):
            replace_rows(con, "marts", "t", rows(D2, 4).drop("seq"), days_slice([D2]))
        with pytest.raises(SchemaDriftError, match=r"marts\.t\.writer changed bigint -> text"):
            replace_rows(
                con,
                "marts",
                "t",
                rows(D2, 4).with_columns(pl.lit("x").alias("writer")),
                days_slice([D2]),
            )
        # The failed writes rolled back: D2 still holds writer 2's rows.
        still = read_rows(con, "marts", "t", days_slice([D2]))
        assert still is not None
        assert still["writer"].to_list() == [2, 2, 2]
        replace_rows(
            con,
            "marts",
            "t",
            rows(D2, 5).with_columns(pl.lit(1.5).alias("extra")),
            days_slice([D2]),
        )
        added = read_rows(con, "marts", "t", days_slice([D2]))
        assert added is not None
        assert added["extra"].to_list() == [1.5] * 3


def test_unreachable_warehouse_names_the_server_and_setting_not_the_password() -> None:
    url = f"postgresql://lakehouse@127.0.0.1:{free_port()}/warehouse"
    with pytest.raises(WarehouseUnavailableError) as caught, connect(url, "s3cret-pw"):
        pass
    message = str(caught.value)
    assert f"127.0.0.1:{url.split(':')[2].split('/')[0]}/warehouse" in message
    assert "LAKEHOUSE_WAREHOUSE_URL" in message
    assert "s3cret-pw" not in message


class FailingCopies:
    """A connection whose cursors count bulk copies and fail on the `fail_at`-th one."""

    def __init__(self, con: Any, fail_at: int) -> None:
        self._con, self.fail_at, self.copies = con, fail_at, 0

    def cursor(self) -> Any:
        real, outer = self._con.cursor(), self

        class Cursor:
            def adbc_ingest(self, *args: Any, **kwargs: Any) -> Any:
                outer.copies += 1
                if outer.copies == outer.fail_at:
                    msg = "simulated crash in the middle of the copies"
                    raise RuntimeError(msg)
                return real.adbc_ingest(*args, **kwargs)

            def __getattr__(self, name: str) -> Any:
                return getattr(real, name)

        return Cursor()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def test_a_lazy_output_is_copied_in_batches_in_one_transaction(
    warehouse_url: str, postgres: Postgres
) -> None:
    with connect(warehouse_url, postgres.password) as con:
        replace_rows(con, "marts", "t", rows(D1, 1), days_slice([D1]))
        counting = FailingCopies(con, fail_at=0)
        replace_rows(counting, "marts", "t", rows(D1, 2, n=5).lazy(), days_slice([D1]), 2)
        assert counting.copies == 4  # the empty typed table, then 2 + 2 + 1 rows
        assert read_rows(con, "marts", "t", days_slice([D1]))["writer"].to_list() == [2] * 5  # type: ignore[index]
        failing = FailingCopies(con, fail_at=3)
        with pytest.raises(RuntimeError, match="middle of the copies"):
            replace_rows(failing, "marts", "t", rows(D1, 3, n=5).lazy(), days_slice([D1]), 2)
        still = read_rows(con, "marts", "t", days_slice([D1]))
        assert still is not None
        assert still["writer"].to_list() == [2] * 5
        picked = read_rows(con, "marts", "t", days_slice([D1]), ["seq", "writer"])
        assert picked is not None
        assert picked.columns == ["seq", "writer"]
