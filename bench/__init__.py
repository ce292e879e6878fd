"""Benchmarks of the lakehouse platform (issue #7): `make bench`, or `python -m bench`.

Every implementation runs in its own subprocess so its time and the peak memory of its process
tree are its own; `bench.run` orchestrates, compares the marts and writes the report.
"""
