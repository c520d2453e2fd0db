"""A job that replaces the log format: every line, the runtime's own included, becomes
the JSON this class chooses (``ts``, ``level``, ``text``, the job's name, and the
request's ``tracing_id`` and ``caller_name`` when there is one).
"""

from __future__ import annotations

import datetime
import json
import logging
import os

logger = logging.getLogger("racetrack")


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(),
            "level": record.levelname.lower(),
            "text": record.getMessage(),
            "job": os.environ.get("JOB_NAME", ""),
        }
        for field in ("tracing_id", "caller_name"):
            value = getattr(record, field, None)
            if value:
                entry[field] = value
        return json.dumps(entry)


class JsonLogger:
    def __init__(self) -> None:
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonLines())

    def perform(self, text: str) -> int:
        """Log `text` and answer its length."""
        logger.info("Received %r", text)
        return len(text)
