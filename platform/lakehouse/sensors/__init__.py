"""Sensors: thin Dagster shells over pure "what should run" planners."""
