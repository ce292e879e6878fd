"""The vega-datasets package's CSV files (real public data: Seattle weather, stock prices),
located without importing the package, which loads pandas.
"""

import importlib.util
from pathlib import Path


def vega_file(name: str) -> Path:
    """A data file shipped in the `vega-datasets` package (e.g. `seattle-weather.csv`).

    Raises:
        FileNotFoundError: the package or the file is not installed.
    """
    spec = importlib.util.find_spec("vega_datasets")
    if spec is None or not spec.submodule_search_locations:
        msg = "the vega-datasets package is not installed; run `make install` (or `uv sync`)"
        raise FileNotFoundError(msg)
    path = Path(next(iter(spec.submodule_search_locations))) / "_data" / name
    if not path.exists():
        msg = f"{name} is not in vega-datasets ({path.parent})"
        raise FileNotFoundError(msg)
    return path
