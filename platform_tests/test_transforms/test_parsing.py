import polars as pl

from lakehouse.transforms.parsing import (
    TYPE_ERRORS,
    parse_fields,
    parse_text,
    parse_utc_instant,
    quick_casts,
)

TYPES: dict[str, pl.DataType] = {"n": pl.Int16(), "x": pl.Float64(), "s": pl.String()}


def test_quick_casts_give_exactly_what_the_parsers_give() -> None:
    raw = pl.LazyFrame(
        {
            "n": ["12", " 12", "NA", "12x", "", "+5", " NA ", None, "99999"],
            "x": ["1.5", "1e3", " 2 ", "NA", "far", "", "3", "4", "5"],
            "s": ["a", " b ", "NA", "", "c", "d", "e", "f", "g"],
            "t": ["2013-01-01T10:00:00Z"] * 8 + ["noon"],
        }
    )
    parsers = {name: parse_text(name, dtype) for name, dtype in TYPES.items()}
    parsers["t"] = parse_utc_instant("t")

    exact = parse_fields(raw, parsers).collect()
    quick = parse_fields(raw, parsers, quick=quick_casts(TYPES)).collect()

    assert quick.equals(exact.select(quick.columns))
    assert quick["n"].to_list() == [12, 12, None, None, None, 5, None, None, None]
    assert quick[TYPE_ERRORS].to_list() == [
        None,
        None,
        None,
        "n='12x'",
        "x='far'",
        None,
        None,
        None,
        "n='99999'; t='noon'",
    ]
