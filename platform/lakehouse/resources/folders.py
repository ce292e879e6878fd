"""The local folders stores write into: a fresh data home (`make clean`) has none of them, so a
store creates its own before its first write. Reads never create one: a table never built stays
a named error instead of an empty folder or file.
"""

from pathlib import Path

from lakehouse.resources.delta_tables import is_object_store


def ensure_folder(location: str | Path) -> None:
    """Create the local folder `location` with its parents, unless it exists.

    An object-store URI (`s3://bucket/lake`) needs nothing: its folders are key prefixes that
    exist once a key under them is written (the bucket itself is the deployment's, and
    `lakehouse doctor` reports a missing one).
    """
    if isinstance(location, str) and is_object_store(location):
        return
    Path(location).mkdir(parents=True, exist_ok=True)
