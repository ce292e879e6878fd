"""Structured logs: every Dagster log line as one JSON object, for a log shipper to index.

`deploy/dagster.yaml` attaches `JsonFormatter` to a stderr handler through
`python_logs.dagster_handler_config`, so every run's events and `context.log` lines (on the run
worker, the daemon and Celery workers alike) come out as JSON with the run, job, step and event
type as fields instead of words inside a sentence.
"""

import json
import logging
from datetime import UTC, datetime
from typing import Any


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "message", "run_id", "job", "step", "event"}` per record."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON; Dagster's fields when the record carries them."""
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
        }
        meta = getattr(record, "dagster_meta", None)  # set by Dagster's log handler
        if isinstance(meta, dict):
            event = meta.get("dagster_event")
            line.update(
                message=meta.get("orig_message") or record.getMessage(),
                run_id=meta.get("run_id"),
                job=meta.get("job_name"),
                step=meta.get("step_key"),
                event=getattr(event, "event_type_value", None),
            )
        else:
            line["message"] = record.getMessage()
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)
