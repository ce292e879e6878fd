"""Production wiring: executors, the Celery worker app, the shared warehouse, `doctor`."""
