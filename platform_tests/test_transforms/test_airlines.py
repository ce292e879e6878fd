from datetime import date

import polars as pl

from lakehouse.landing import PARSE_ERROR
from lakehouse.simulator.sample import AIRLINES
from lakehouse.transforms.airlines import stage_airlines
from lakehouse.transforms.parsing import ROW_ERRORS
from platform_tests.factories import raw_rows


def test_airlines_have_no_field_rules_so_only_an_unsplit_line_is_a_row_error() -> None:
    raw = raw_rows(
        AIRLINES, [{"carrier": "9E", "name": "Endeavor Air Inc."}, {}], date(2013, 1, 1)
    ).with_columns(
        pl.when(pl.col("carrier").is_null())
        .then(pl.lit("expected 2 fields, found 3"))
        .otherwise(pl.col(PARSE_ERROR))
        .alias(PARSE_ERROR)
    )

    staged = stage_airlines(raw).collect()

    assert staged[ROW_ERRORS].to_list() == [None, "expected 2 fields, found 3"]
    assert staged["carrier"].to_list() == ["9E", None]
