"""The record of failed runs: what failed, on which days, and why, one JSON line per run."""

import json
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunFailure:
    """One failed run, as the run-failure sensor saw it."""

    run_id: str
    job: str
    failed_at: float  # UNIX time the sensor saw the failure
    partitions: str  # a day, a range "first..last", or "" for an unpartitioned run
    failed_steps: list[str]
    message: str  # the first failed step's error, else the run's


def record_failure(path: Path, failure: RunFailure) -> bool:
    """Append a failure unless this run is already recorded (a sensor retried after a crash).

    Returns:
        True if it was appended.
    """
    if any(f.run_id == failure.run_id for f in read_failures(path)):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as log:
        log.write(json.dumps(asdict(failure), sort_keys=True) + "\n")
    return True


def read_failures(path: Path) -> list[RunFailure]:
    """Every recorded failure, oldest first; none if nothing has failed yet."""
    if not path.exists():
        return []
    return [
        RunFailure(**json.loads(line))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
