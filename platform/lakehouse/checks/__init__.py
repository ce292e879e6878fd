"""Data-quality checks: pure logic in `logic.py`, Dagster results built in the asset shells."""
