"""Pure check logic: frames in, frozen results out."""

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

SAMPLE_ROWS = 20


@dataclass(frozen=True)
class DuplicateKeys:
    """Rows sharing a business key.

    Attributes:
        keys: Distinct key values that occur more than once.
        excess_rows: Rows beyond the first for those keys.
        sample: Up to `SAMPLE_ROWS` duplicated keys with their counts.
    """

    keys: int
    excess_rows: int
    sample: pl.DataFrame

    @property
    def passed(self) -> bool:
        """True when every key is unique."""
        return self.keys == 0


def duplicate_keys(frame: pl.DataFrame, key: Sequence[str]) -> DuplicateKeys:
    """Find business keys that occur more than once."""
    counts = frame.group_by(list(key)).len("rows").filter(pl.col("rows") > 1)
    return DuplicateKeys(
        keys=counts.height,
        excess_rows=int(counts["rows"].sum() - counts.height) if counts.height else 0,
        sample=counts.sort(list(key)).head(SAMPLE_ROWS),
    )


@dataclass(frozen=True)
class Reconciliation:
    """Per partition: delivered rows against staged + quarantined + duplicates removed.

    Attributes:
        by_day: One row per day: raw, staged, quarantined, deduplicated, difference.
    """

    by_day: pl.DataFrame

    @property
    def passed(self) -> bool:
        """True when every delivered row is accounted for on every day, exactly."""
        return bool((self.by_day["difference"] == 0).all())

    def pass_rates(self) -> pl.DataFrame:
        """Per day, the share of rows offered to the staged table (delivered minus older copies
        of a key) that reached it; 1.0 on a day with nothing offered.
        """
        offered = pl.col("raw") - pl.col("deduplicated")
        rate = pl.when(offered > 0).then(pl.col("staged") / offered).otherwise(1.0)
        return self.by_day.select("day", pass_rate=rate)

    @property
    def totals(self) -> dict[str, int]:
        """The counts summed over all days."""
        columns = ("raw", "staged", "quarantined", "deduplicated", "difference")
        return {c: int(self.by_day[c].sum()) for c in columns}


def reconcile(
    raw: pl.Series, staged: pl.Series, quarantined: pl.Series, deduplicated: pl.Series
) -> Reconciliation:
    """Reconcile per day from the partition-day column of each set of rows; `deduplicated`
    holds one entry per row removed as a duplicate.
    """

    def per_day(days: pl.Series, name: str) -> pl.DataFrame:
        return days.rename("day").to_frame().group_by("day").agg(pl.len().alias(name))

    counts = per_day(raw, "raw")
    for series, name in (
        (staged, "staged"),
        (quarantined, "quarantined"),
        (deduplicated, "deduplicated"),
    ):
        counts = counts.join(per_day(series, name), on="day", how="full", coalesce=True)
    names = ["raw", "staged", "quarantined", "deduplicated"]
    counts = counts.with_columns(pl.col(n).fill_null(0).cast(pl.Int64) for n in names)
    difference = pl.col("raw") - pl.col("staged") - pl.col("quarantined") - pl.col("deduplicated")
    return Reconciliation(by_day=counts.with_columns(difference=difference).sort("day"))


@dataclass(frozen=True)
class Orphans:
    """Facts whose natural key has no dimension row.

    Attributes:
        counts: Dimension -> number of facts pointing to its unknown member.
        top_keys: The most frequent orphan keys: dimension, key, facts.
    """

    counts: dict[str, int]
    top_keys: pl.DataFrame

    @property
    def passed(self) -> bool:
        """True when every fact found its dimension rows."""
        return not any(self.counts.values())


def orphans(fact: pl.DataFrame, keys: dict[str, tuple[str, str]], unknown: int) -> Orphans:
    """Count facts whose surrogate key is the unknown member, by dimension and natural key.

    Args:
        fact: The fact rows.
        keys: Dimension name -> (surrogate key column, natural key column) in `fact`.
        unknown: The unknown member's surrogate key.
    """
    counts, tops = {}, []
    for dimension, (surrogate, natural) in keys.items():
        missing = fact.filter(pl.col(surrogate) == unknown)
        counts[dimension] = missing.height
        tops.append(
            missing.group_by(key=pl.col(natural).fill_null("(none)"))
            .len("facts")
            .with_columns(dimension=pl.lit(dimension))
            .select("dimension", "key", "facts")
        )
    top = pl.concat(tops).sort("facts", "dimension", "key", descending=[True, False, False])
    return Orphans(counts=counts, top_keys=top.head(SAMPLE_ROWS))
