from datetime import date

import polars as pl
import pytest

from lakehouse.landing import parse_delivery
from lakehouse.simulator.replay import split_by_day
from lakehouse.simulator.sample import FLIGHTS, sample_bytes
from lakehouse.simulator.scale import FLIGHT_NUMBER_STRIDE, scale_delivery
from lakehouse.transforms.flights import TYPED_FLIGHTS

HEADER = b"year,month,day,carrier,flight,origin,sched_dep_time"
DAY = HEADER + b"\n2013,1,1,UA,1545,EWR,515\n2013,1,1,AA,1141,JFK,540\n"


def test_factor_one_is_the_delivery_itself() -> None:
    assert scale_delivery(DAY, 1) == DAY


def test_the_first_copy_is_byte_identical_and_later_copies_are_new_flights() -> None:
    scaled = scale_delivery(DAY, 3)
    assert scaled.startswith(DAY)
    assert scaled.split(b"\n")[3:] == [
        b"2013,1,1,UA,11545,EWR,515",
        b"2013,1,1,AA,11141,JFK,540",
        b"2013,1,1,UA,21545,EWR,515",
        b"2013,1,1,AA,21141,JFK,540",
        b"",
    ]


def test_a_delivery_without_a_final_newline_keeps_that_shape() -> None:
    scaled = scale_delivery(DAY.removesuffix(b"\n"), 2)
    assert scaled == DAY + b"2013,1,1,UA,11545,EWR,515\n2013,1,1,AA,11141,JFK,540"


def test_header_only_and_broken_lines() -> None:
    assert scale_delivery(HEADER + b"\n", 5) == HEADER + b"\n"
    broken = HEADER + b"\n2013,1,1,UA,NA,EWR,515\n2013,1,1,UA\n"
    # Lines that cannot be offset are copied as delivered: they stay as broken as they came.
    assert scale_delivery(broken, 2) == broken + b"2013,1,1,UA,NA,EWR,515\n2013,1,1,UA\n"


def test_a_factor_below_one_or_a_header_without_flight_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        scale_delivery(DAY, 0)
    with pytest.raises(ValueError, match="no `flight` column"):
        scale_delivery(b"a,b\n1,2\n", 2)


def test_a_real_sample_day_scaled_has_distinct_business_keys() -> None:
    sample = sample_bytes(FLIGHTS)
    header = sample.partition(b"\n")[0]
    lines = split_by_day(sample, FLIGHTS)[date(2013, 1, 1)]
    day = b"\n".join([header, *lines]) + b"\n"
    assert max(int(line.split(b",")[10]) for line in lines) < FLIGHT_NUMBER_STRIDE
    rows = parse_delivery(scale_delivery(day, 4), FLIGHTS, source_file="f").rows
    assert rows.height == 4 * len(lines)
    assert rows.select(TYPED_FLIGHTS.key).unique().height == rows.height
    first = rows.filter(pl.col("_line_number") <= len(lines) + 1).drop("_line_number")
    original = parse_delivery(day, FLIGHTS, source_file="f").rows.drop("_line_number")
    assert first.equals(original)
