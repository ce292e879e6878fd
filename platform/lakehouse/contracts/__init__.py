"""Data contracts: pandera schemas (Polars backend) for the staged tables, and the split of a
frame into the rows that keep them and the rows that go to quarantine.
"""
