"""The functional core: pure Polars transforms (LazyFrame in, LazyFrame out; no I/O, no Dagster)."""
