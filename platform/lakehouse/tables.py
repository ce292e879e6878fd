"""Time travel on the lake's Delta tables, for the CLI: history, restore, vacuum, optimize.

A table is named `layer/table` (`staged/flights`), as its asset key. Restoring is a new commit
that makes the newest version hold what an older one held; history is kept.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lakehouse.resources.delta_tables import PARTITIONS, ROWS, RUN_ID, DeltaStore, TableStoreError


@dataclass(frozen=True)
class Version:
    """One commit of a table."""

    version: int
    at: datetime
    operation: str
    run_id: str
    partitions: str
    rows: str


def table_uri(store: DeltaStore, name: str) -> str:
    """The URI of the table `layer/table`.

    Raises:
        TableStoreError: the name is not `layer/table`.
    """
    parts = name.strip("/").split("/")
    if len(parts) < 2:  # noqa: PLR2004  (a layer and a table)
        msg = f"{name!r} is not a table; name it layer/table, e.g. staged/flights"
        raise TableStoreError(msg)
    return store.uri(parts)


def history(store: DeltaStore, name: str, limit: int | None = None) -> list[Version]:
    """The table's commits, newest first."""
    return [_version(entry) for entry in store.history(table_uri(store, name), limit)]


def _version(entry: dict[str, Any]) -> Version:
    millis = int(entry.get("timestamp", 0))
    return Version(
        version=int(entry.get("version", -1)),
        at=datetime.fromtimestamp(millis / 1000, tz=UTC),
        operation=str(entry.get("operation", "")),
        run_id=str(entry.get(RUN_ID, "")),
        partitions=str(entry.get(PARTITIONS, "")),
        rows=str(entry.get(ROWS, "")),
    )


def parse_target(text: str) -> int | datetime:
    """A version number, or an ISO timestamp (UTC when it names no zone).

    Raises:
        ValueError: it is neither.
    """
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        msg = f"{text!r} is neither a version number nor a timestamp like 2026-12-06T12:00"
        raise ValueError(msg) from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def restore(
    store: DeltaStore, name: str, target: int | datetime, reason: str
) -> tuple[int, list[tuple[str, ...]]]:
    """Bring a table back to `target`; returns the new version and the partitions whose data
    the restore changed (all of an unpartitioned table: `[()]`).
    """
    uri = table_uri(store, name)
    before = store.files_by_partition(store.require(uri))
    version = store.restore(uri, target, {"reason": reason})
    after = store.files_by_partition(store.require(uri))
    changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    return version, changed
