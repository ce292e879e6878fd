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

    @classmethod
    def combine(cls, parts: Sequence["DuplicateKeys"]) -> "DuplicateKeys":
        """The duplicates of rows found part by part, when no key spans two parts (e.g. a
        day-scoped key over chunks of days).
        """
        samples = [p.sample for p in parts if p.sample.height]
        return cls(
            keys=sum(p.keys for p in parts),
            excess_rows=sum(p.excess_rows for p in parts),
            sample=pl.concat(samples).head(SAMPLE_ROWS) if samples else parts[0].sample,
        )


def duplicate_keys(frame: pl.DataFrame, key: Sequence[str]) -> DuplicateKeys:
    """Find business keys that occur more than once."""
    # Equal keys hash equally, so as many distinct hashes as rows proves every key unique
    # (the usual case, ~10x cheaper than counting keys); else the keys are counted.
    if frame.select(key).hash_rows().n_unique() == frame.height:
        frame = frame.clear()
    counts = frame.group_by(list(key)).len("rows").filter(pl.col("rows") > 1)
    return DuplicateKeys(
        keys=counts.height,
        excess_rows=int(counts["rows"].sum() - counts.height) if counts.height else 0,
        sample=counts.sort(list(key)).head(SAMPLE_ROWS),
    )


@dataclass(frozen=True)
class Reconciliation:
    """Per delivered file: its rows against staged + quarantined + duplicates removed.

    Attributes:
        by_delivery: One row per delivery file: raw, staged, quarantined, deduplicated,
            difference.
    """

    by_delivery: pl.DataFrame

    @property
    def passed(self) -> bool:
        """True when every delivered row is accounted for in every file, exactly."""
        return bool((self.by_delivery["difference"] == 0).all())

    def pass_rates(self) -> pl.DataFrame:
        """Per delivery, the share of its rows that kept the contract (staged, or superseded
        by a later copy of their key or a newer snapshot); 1.0 for a file with no rows.
        """
        passed = pl.col("raw") - pl.col("quarantined")
        rate = pl.when(pl.col("raw") > 0).then(passed / pl.col("raw")).otherwise(1.0)
        return self.by_delivery.select("delivery", pass_rate=rate)

    @classmethod
    def combine(cls, parts: Sequence["Reconciliation"]) -> "Reconciliation":
        """One reconciliation from several over parts of a run's rows (a delivery split across
        parts is summed).
        """
        counts = ("raw", "staged", "quarantined", "deduplicated", "difference")
        return cls(
            by_delivery=pl.concat([p.by_delivery for p in parts])
            .group_by("delivery")
            .agg(pl.col(c).sum() for c in counts)
            .sort("delivery")
        )

    @property
    def totals(self) -> dict[str, int]:
        """The counts summed over all deliveries."""
        columns = ("raw", "staged", "quarantined", "deduplicated", "difference")
        return {c: int(self.by_delivery[c].sum()) for c in columns}


def reconcile(
    raw: pl.Series, staged: pl.Series, quarantined: pl.Series, deduplicated: pl.Series
) -> Reconciliation:
    """Reconcile per delivery from the `_source_file` of each set of rows; `deduplicated`
    holds one entry per row removed as an older copy of its business key (or as part of a
    superseded snapshot).
    """

    def per_delivery(files: pl.Series, name: str) -> pl.DataFrame:
        return files.rename("delivery").to_frame().group_by("delivery").agg(pl.len().alias(name))

    counts = per_delivery(raw, "raw")
    for series, name in (
        (staged, "staged"),
        (quarantined, "quarantined"),
        (deduplicated, "deduplicated"),
    ):
        counts = counts.join(per_delivery(series, name), on="delivery", how="full", coalesce=True)
    names = ["raw", "staged", "quarantined", "deduplicated"]
    counts = counts.with_columns(pl.col(n).fill_null(0).cast(pl.Int64) for n in names)
    difference = pl.col("raw") - pl.col("staged") - pl.col("quarantined") - pl.col("deduplicated")
    return Reconciliation(by_delivery=counts.with_columns(difference=difference).sort("delivery"))


@dataclass(frozen=True)
class RowCountAnomalies:
    """Days whose row count is far from the same weekday's trailing median.

    Attributes:
        by_day: Every checked day: day, rows, baseline (null without enough history),
            deviation ((rows - baseline) / baseline), anomalous.
        tolerance: The largest deviation that is not an anomaly.
    """

    by_day: pl.DataFrame
    tolerance: float

    @property
    def anomalies(self) -> pl.DataFrame:
        """Only the anomalous days."""
        return self.by_day.filter(pl.col("anomalous"))

    @property
    def passed(self) -> bool:
        """True when no checked day is anomalous."""
        return self.anomalies.height == 0

    @property
    def unchecked(self) -> int:
        """Days that had too little history for a baseline."""
        return int(self.by_day["baseline"].is_null().sum())


def row_count_anomalies(
    history: pl.DataFrame,
    checked: pl.DataFrame,
    *,
    weeks: int = 4,
    min_weeks: int = 2,
    tolerance: float = 0.3,
) -> RowCountAnomalies:
    """Compare each checked day's rows with the median of the same weekday over the `weeks`
    weeks before it (flights follow the week: Saturdays are a fifth lighter), from earlier
    days of `checked` and from `history`.

    Args:
        history: Earlier days (day, rows), e.g. read from the table's stored partitions.
        checked: The days to judge (day, rows); they win over `history` for the same day.
        weeks: How many earlier same weekdays form the baseline.
        min_weeks: Fewer earlier same weekdays than this leaves a day unjudged.
        tolerance: |rows - baseline| / baseline above this is an anomaly.
    """
    schema = {"day": pl.Date, "rows": pl.Int64}
    checked = checked.select(pl.col("day").cast(pl.Date), pl.col("rows").cast(pl.Int64))
    earlier = history.cast(schema).join(checked, on="day", how="anti")  # type: ignore[arg-type]
    series = pl.concat([earlier, checked]).sort("day")
    # Rows of the same weekday 1..weeks weeks back, found by date so gaps in history count.
    back = [
        series.select(pl.col("day") + pl.duration(weeks=w), rows=pl.col("rows")).rename(
            {"rows": f"w{w}"}
        )
        for w in range(1, weeks + 1)
    ]
    judged = checked.sort("day")
    for frame in back:
        judged = judged.join(frame, on="day", how="left")
    previous = [f"w{w}" for w in range(1, weeks + 1)]
    enough = pl.sum_horizontal(pl.col(c).is_not_null() for c in previous) >= min_weeks
    baseline = pl.when(enough).then(pl.concat_list(previous).list.drop_nulls().list.median())
    deviation = (pl.col("rows") - pl.col("baseline")) / pl.col("baseline")
    by_day = (
        judged.with_columns(baseline=baseline)
        .with_columns(deviation=pl.when(pl.col("baseline") > 0).then(deviation))
        .with_columns(
            anomalous=(pl.col("deviation").abs() > tolerance).fill_null(
                (pl.col("baseline") == 0) & (pl.col("rows") > 0)
            )
        )
        .select("day", "rows", "baseline", "deviation", "anomalous")
    )
    return RowCountAnomalies(by_day=by_day, tolerance=tolerance)


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


def orphan_keys(fact: pl.DataFrame, keys: dict[str, tuple[str, str]], unknown: int) -> pl.DataFrame:
    """Every natural key of `fact` that found no dimension row, with its number of facts.

    Args:
        fact: The fact rows (all of them, or one chunk: results of chunks add up).
        keys: Dimension name -> (surrogate key column, natural key column) in `fact`.
        unknown: The unknown member's surrogate key.

    Returns:
        One row per (dimension, key) with `facts`, the rows pointing to the unknown member.
    """
    found = [
        fact.filter(pl.col(surrogate) == unknown)
        .group_by(key=pl.col(natural).cast(pl.String).fill_null("(none)"))
        .len("facts")
        .select(pl.lit(dimension).alias("dimension"), "key", pl.col("facts").cast(pl.Int64))
        for dimension, (surrogate, natural) in keys.items()
    ]
    return pl.concat(found)


def summarize_orphans(found: Sequence[pl.DataFrame], dimensions: Sequence[str]) -> Orphans:
    """The orphans of a whole fact from the `orphan_keys` of its chunks: exact totals per
    dimension (0 for one with none) and the most frequent keys over all chunks.
    """
    none = pl.DataFrame(schema={"dimension": pl.String, "key": pl.String, "facts": pl.Int64})
    per_key = (
        pl.concat([none, *found])
        .group_by("dimension", "key")
        .agg(pl.col("facts").sum())
        .sort("facts", "dimension", "key", descending=[True, False, False])
    )
    totals = dict(per_key.group_by("dimension").agg(pl.col("facts").sum()).iter_rows())
    return Orphans(
        counts={dimension: int(totals.get(dimension, 0)) for dimension in dimensions},
        top_keys=per_key.head(SAMPLE_ROWS),
    )


def orphans(fact: pl.DataFrame, keys: dict[str, tuple[str, str]], unknown: int) -> Orphans:
    """Count facts whose surrogate key is the unknown member, by dimension and natural key.

    Args:
        fact: The fact rows.
        keys: Dimension name -> (surrogate key column, natural key column) in `fact`.
        unknown: The unknown member's surrogate key.
    """
    return summarize_orphans([orphan_keys(fact, keys, unknown)], list(keys))
