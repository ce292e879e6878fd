"""Benchmarks of the lakehouse platform (issue #7): `make bench`, or `python -m bench`.

Every implementation runs in its own subprocess so its time and the peak memory of its process
tree are its own; `bench.run` orchestrates, compares the marts and writes the report.
"""

import os

# The environment the benchmark was started in, taken before `lakehouse` (which bench.run
# imports) adds its own process settings, such as Polars' allocator: every implementation
# starts from it, as from a user's shell, and ours sets what it sets itself.
LAUNCH_ENV: dict[str, str] = dict(os.environ)
