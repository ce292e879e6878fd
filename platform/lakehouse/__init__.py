"""lakehouse: an asset-based data platform on Dagster (landing -> raw -> staged -> marts)."""
