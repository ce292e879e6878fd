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
