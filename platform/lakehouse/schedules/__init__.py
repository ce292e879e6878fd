"""Schedules: safety nets next to the event-driven sensors."""
