"""Scaling a flights delivery up for benchmarks: k copies of every row, each a distinct flight.

Pure bytes in, bytes out, so the benchmark harness and (later) `lakehouse land --scale` produce
the same files.
"""

# Real flight numbers are below 10,000, so offsetting copy i by i * 10,000 keeps every copy's
# business key (year, month, day, carrier, flight, origin, sched_dep_time) distinct.
FLIGHT_NUMBER_STRIDE = 10_000


def scale_delivery(data: bytes, factor: int) -> bytes:
    """A flights delivery with `factor` copies of every line after the header.

    The first copy is the delivery itself, byte for byte. Copies 2..factor follow it (copy
    after copy, each in the original line order) with `flight` raised by
    `(copy - 1) * FLIGHT_NUMBER_STRIDE`, so they are new flights, not re-deliveries that
    deduplication would remove. A line whose `flight` is not a plain integer (or that does not
    split into the header's fields) is copied unchanged: it stays as broken as delivered.

    Args:
        data: The delivery's bytes: a header line, then one line per row.
        factor: How many copies of each row (1 returns `data` unchanged).

    Raises:
        ValueError: `factor` is below 1, or the header has no `flight` column.
    """
    if factor < 1:
        msg = f"scale factor must be at least 1, got {factor}"
        raise ValueError(msg)
    if factor == 1:
        return data
    header, _, body = data.partition(b"\n")
    columns = header.rstrip(b"\r").decode().split(",")
    if "flight" not in columns:
        msg = "the header has no `flight` column to make copies distinct"
        raise ValueError(msg)
    position, width = columns.index("flight"), len(columns)
    if not body:
        return data  # a header-only delivery ("nothing happened") has nothing to copy
    ending = body.endswith(b"\n")
    lines = body.removesuffix(b"\n").split(b"\n")
    split = [line.split(b",") for line in lines]
    copies = [body if ending else body + b"\n"]
    for copy in range(1, factor):
        offset = copy * FLIGHT_NUMBER_STRIDE
        copies.append(
            b"".join(
                _offset_flight(line, fields, position, width, offset) + b"\n"
                for line, fields in zip(lines, split, strict=True)
            )
        )
    scaled = header + b"\n" + b"".join(copies)
    return scaled if ending else scaled[:-1]


def _offset_flight(
    line: bytes, fields: list[bytes], position: int, width: int, offset: int
) -> bytes:
    if len(fields) != width or not fields[position].isdigit():
        return line
    shifted = list(fields)
    shifted[position] = str(int(fields[position]) + offset).encode()
    return b",".join(shifted)
