"""lakehouse: an asset-based data platform on Dagster (landing -> raw -> staged -> marts)."""

import os

# Polars' allocator (jemalloc) is built to return freed pages to the system after 0.5 s. A
# chunked step frees and allocates about a gigabyte a second, so each chunk faulted its memory
# in again: ~5M page faults and ~6 s of kernel time in a year at 50x. Keeping freed pages for
# jemalloc's own default of 10 s costs ~0.1 GB of peak memory. jemalloc reads this once, when
# Polars is first imported, which is after this package's import; the user's value wins.
ALLOCATOR_ENV = "_RJEM_MALLOC_CONF"
os.environ.setdefault(ALLOCATOR_ENV, "dirty_decay_ms:10000")
