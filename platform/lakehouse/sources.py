"""What a source's deliveries look like, as the landing zone, the raw layer and the sensors see
them; derived from its declaration (`declarations.SourceSpec`).
"""

from dataclasses import dataclass
from enum import Enum

from lakehouse.declarations import SourceSpec, declared_sources


class Cadence(Enum):
    """How a source is delivered."""

    DAILY = "daily"  # one file per day of events, named by that day
    SNAPSHOT = "snapshot"  # a full reference table, named by the day it was taken


@dataclass(frozen=True)
class Source:
    """A landing source.

    Attributes:
        name: Folder under the landing zone and table name in every layer.
        columns: The header a delivery must carry, in the order the producer writes it.
        cadence: Daily event files or dated reference snapshots.
        null_values: Texts meaning "no value" in its files.
    """

    name: str
    columns: tuple[str, ...]
    cadence: Cadence
    null_values: tuple[str, ...] = ("NA", "")


def landing_source(spec: SourceSpec) -> Source:
    """The landing view of a declared source."""
    return Source(
        name=spec.name,
        columns=tuple(spec.landing.header),
        cadence=Cadence.DAILY if spec.daily else Cadence.SNAPSHOT,
        null_values=tuple(spec.landing.null_values),
    )


def sources() -> dict[str, Source]:
    """Every declared source's landing view, by name."""
    return {name: landing_source(spec) for name, spec in declared_sources().items()}
