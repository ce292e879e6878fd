"""The landing sources: what each delivery file must contain and how it is dated."""

from dataclasses import dataclass
from enum import Enum


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
        date_columns: For daily sources, the (year, month, day) columns that date a row.
    """

    name: str
    columns: tuple[str, ...]
    cadence: Cadence
    date_columns: tuple[str, str, str] | None = None


FLIGHTS = Source(
    name="flights",
    columns=(
        "year", "month", "day", "dep_time", "sched_dep_time", "dep_delay", "arr_time",
        "sched_arr_time", "arr_delay", "carrier", "flight", "tailnum", "origin", "dest",
        "air_time", "distance", "hour", "minute", "time_hour",
    ),
    cadence=Cadence.DAILY,
    date_columns=("year", "month", "day"),
)  # fmt: skip
WEATHER = Source(
    name="weather",
    columns=(
        "origin", "year", "month", "day", "hour", "temp", "dewp", "humid", "wind_dir",
        "wind_speed", "wind_gust", "precip", "pressure", "visib", "time_hour",
    ),
    cadence=Cadence.DAILY,
    date_columns=("year", "month", "day"),
)  # fmt: skip
AIRLINES = Source(name="airlines", columns=("carrier", "name"), cadence=Cadence.SNAPSHOT)
AIRPORTS = Source(
    name="airports",
    columns=("faa", "name", "lat", "lon", "alt", "tz", "dst", "tzone"),
    cadence=Cadence.SNAPSHOT,
)
PLANES = Source(
    name="planes",
    columns=(
        "tailnum", "year", "type", "manufacturer", "model", "engines", "seats", "speed", "engine",
    ),
    cadence=Cadence.SNAPSHOT,
)  # fmt: skip

SOURCES: dict[str, Source] = {s.name: s for s in (FLIGHTS, WEATHER, AIRLINES, AIRPORTS, PLANES)}
