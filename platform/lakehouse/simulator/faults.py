"""What real deliveries do wrong, injected on purpose: the replay's faults and their manifest.

A replay is a list of steps (write these bytes as that day's file); faults change a step's bytes
or add, move and reorder steps. Every fault is written down with what the platform must do
about it, so a test can check that each one ended in quarantine, a rejected file, a no-op or a
reprocess, with no row unaccounted.
"""

import random
from dataclasses import asdict, dataclass, field
from datetime import date
from enum import Enum


class Fault(Enum):
    """A kind of fault, by what happens to the delivery."""

    MALFORMED_LINES = "malformed_lines"  # lines cut short: too few fields
    WRONG_TYPES = "wrong_types"  # a field that is not a number where one is due
    TRUNCATED = "truncated"  # the file ends in the middle of a line
    EMPTY = "empty"  # zero bytes
    DUPLICATE = "duplicate"  # the same file delivered twice
    CORRECTED = "corrected"  # a wrong version first, the corrected one later
    LATE = "late"  # delivered after every other day
    ADDED_COLUMN = "added_column"  # a column the source does not have
    RENAMED_COLUMN = "renamed_column"  # a column under another name
    OUT_OF_ORDER = "out_of_order"  # swapped with the next day's delivery


class Outcome(Enum):
    """What the platform must do about a fault."""

    QUARANTINE = "quarantine"  # the named lines are quarantined, the rest staged
    REJECTED = "rejected"  # the file is refused with the reason; nothing of it is ingested
    NO_OP = "no_op"  # nothing new happens
    REPROCESS = "reprocess"  # the day is processed again and ends as the final delivery


OUTCOMES = {
    Fault.MALFORMED_LINES: Outcome.QUARANTINE,
    Fault.WRONG_TYPES: Outcome.QUARANTINE,
    Fault.TRUNCATED: Outcome.QUARANTINE,
    Fault.EMPTY: Outcome.REJECTED,
    Fault.DUPLICATE: Outcome.NO_OP,
    Fault.CORRECTED: Outcome.REPROCESS,
    Fault.LATE: Outcome.REPROCESS,
    Fault.ADDED_COLUMN: Outcome.REJECTED,
    Fault.RENAMED_COLUMN: Outcome.REJECTED,
    Fault.OUT_OF_ORDER: Outcome.REPROCESS,
}


@dataclass(frozen=True)
class Step:
    """Write `body` as `source`'s delivery for `day`."""

    source: str
    day: date
    body: bytes
    fault: Fault | None = None


@dataclass(frozen=True)
class Injected:
    """One injected fault, as the manifest records it.

    Attributes:
        source: The source whose delivery it changed.
        day: The delivery's day.
        fault: What was done.
        expect: What the platform must do.
        lines: File lines that must end in quarantine (1 = header).
        detail: What exactly changed, for a person.
    """

    source: str
    day: date
    fault: Fault
    expect: Outcome
    lines: list[int] = field(default_factory=list)
    detail: str = ""

    def to_json(self) -> dict[str, object]:
        """The manifest entry."""
        entry = asdict(self)
        return {
            **entry,
            "day": self.day.isoformat(),
            "fault": self.fault.value,
            "expect": self.expect.value,
            "file": f"{self.source}/{self.day.isoformat()}.csv",
        }


def _lines(body: bytes) -> tuple[bytes, list[bytes]]:
    header, *rows = body.rstrip(b"\n").split(b"\n")
    return header, rows


def _join(header: bytes, rows: list[bytes]) -> bytes:
    return b"\n".join([header, *rows]) + b"\n"


def _pick(rows: list[bytes], rng: random.Random, most: int = 3) -> list[int]:
    """Up to `most` distinct row indexes (0-based, after the header)."""
    return sorted(rng.sample(range(len(rows)), min(most, len(rows))))


def _column(header: bytes, name: str) -> int:
    return header.decode().split(",").index(name)


def damage(step: Step, fault: Fault, rng: random.Random) -> tuple[bytes, Injected]:
    """The faulty bytes of a delivery, and the manifest entry saying what to expect.

    Only faults that change a single file's bytes are handled here; the others rearrange steps
    (see `inject`).
    """
    header, rows = _lines(step.body)
    record = Injected(step.source, step.day, fault, OUTCOMES[fault])
    if fault is Fault.MALFORMED_LINES and rows:
        picked = _pick(rows, rng)
        for i in picked:
            rows[i] = b",".join(rows[i].split(b",")[:4])
        lines = [i + 2 for i in picked]
        return _join(header, rows), _with(record, lines, f"lines {lines} cut to 4 fields")
    if fault is Fault.WRONG_TYPES and rows:
        picked, month = _pick(rows, rng), _column(header, "month")
        for i in picked:
            fields = rows[i].split(b",")
            fields[month] = b"M"
            rows[i] = b",".join(fields)
        lines = [i + 2 for i in picked]
        return _join(header, rows), _with(record, lines, f"month='M' on lines {lines}")
    if fault is Fault.TRUNCATED and rows:
        cut = rng.randrange(len(rows))
        partial = b",".join(rows[cut].split(b",")[:3])  # mid-line: too few fields
        body = b"\n".join([header, *rows[:cut], partial])  # no final newline: cut off
        lost = len(rows) - cut - 1
        return body, _with(record, [cut + 2], f"cut in line {cut + 2}; {lost} lines never came")
    if fault is Fault.EMPTY:
        return b"", _with(record, [], "zero bytes")
    if fault is Fault.ADDED_COLUMN:
        body = _join(header + b",gate", [r + b",A1" for r in rows])
        return body, _with(record, [], "extra column gate")
    if fault is Fault.RENAMED_COLUMN:
        name = header.decode().split(",")[-1]
        renamed = header.decode().replace(name, f"{name}_utc").encode()
        return _join(renamed, rows), _with(record, [], f"column {name} renamed {name}_utc")
    # A fault that needs rows on an empty day delivers the day unchanged.
    return step.body, _with(record, [], "day had no rows; delivered unchanged")


def _with(record: Injected, lines: list[int], detail: str) -> Injected:
    return Injected(record.source, record.day, record.fault, record.expect, lines, detail)


def inject(
    steps: list[Step], rate: float, rng: random.Random, kinds: list[Fault] | None = None
) -> tuple[list[Step], list[Injected]]:
    """Give each step a fault with probability `rate`, chosen among `kinds` (default: all).

    Returns:
        The steps in delivery order and the manifest of what was injected.
    """
    choices = kinds or list(Fault)
    out: list[Step] = []
    late: list[Step] = []
    manifest: list[Injected] = []
    held_back: dict[str, Step] = {}  # per source: a day delivered after that source's next day

    def record(step: Step, fault: Fault, detail: str) -> None:
        manifest.append(Injected(step.source, step.day, fault, OUTCOMES[fault], detail=detail))

    for step in steps:
        fault = rng.choice(choices) if rng.random() < rate else None
        waiting = held_back.pop(step.source, None)
        if fault is Fault.OUT_OF_ORDER and waiting is None:
            held_back[step.source] = Step(step.source, step.day, step.body, fault)
            record(step, fault, f"delivered after {step.source}'s next day")
            continue
        if fault is None or fault is Fault.OUT_OF_ORDER:
            out.append(step)
        elif fault is Fault.DUPLICATE:
            out += [step, Step(step.source, step.day, step.body, fault)]
            record(step, fault, "the same bytes delivered twice")
        elif fault is Fault.CORRECTED:
            header, rows = _lines(step.body)
            wrong = _join(header, rows[: len(rows) // 2])
            out += [Step(step.source, step.day, wrong, fault), step]
            record(step, fault, "half the day first, then the whole day")
        elif fault is Fault.LATE:
            late.append(Step(step.source, step.day, step.body, fault))
            record(step, fault, "delivered after every other day")
        else:
            body, injected = damage(step, fault, rng)
            out.append(Step(step.source, step.day, body, fault))
            manifest.append(injected)
        if waiting is not None:
            out.append(waiting)
    # A day held back with no next day of its source is simply delivered last.
    return out + list(held_back.values()) + late, manifest
