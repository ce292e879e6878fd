"""Software-defined assets: thin Dagster shells over the transforms, one table per module."""
