"""Log format: one line per event on stdout, the request's tracing id on every line.

Plain lines follow the original wrapper's shape, ``[YYYY-MM-DD HH:MM:SS] LEVEL message,
key=value``, so people used to Racetrack logs read them as before; ``LOG_STRUCTURED`` turns
them into one JSON object per line for log collectors. The tracing id (and, with
``LOG_CALLER_NAME``, the caller's name) lives in a ``ContextVar`` set by the middleware;
sync user code runs in a worker thread with a copy of the request's context, so its own
``logging`` calls carry them too.

A job may set its own formatter on the root logger's handlers, as the original allowed
(``handler.setFormatter(...)`` in ``__init__``): the writer then formats every line with
it, the runtime's own and access lines included; records carry ``tracing_id`` and
``caller_name`` as attributes.

Extra fields go in ``extra={"fields": {...}}``. Exceptions are printed with their
traceback (plain) or as an ``exc_info`` string (structured).

Records are written by a background thread: the event loop only enqueues. Writing from
the loop thread released the GIL on every ``write`` syscall and the loop then waited for
worker threads to hand it back, which measured as a third of the runtime's per-request
cost under load. The writer wakes at most every ``BATCH_SECONDS`` (20 ms), drains what is
queued and writes it with one syscall, so a busy job pays neither a thread switch nor a
write per line. The tracing id is captured when the record is
enqueued (the writer thread has no request context). ``setup_logging`` returns a function
that drains the queue; the CLI calls it before the process exits.

Access lines skip the ``logging`` machinery altogether (``access()`` enqueues a small
tuple; the writer formats it like any INFO line): a ``LogRecord`` per request cost more
than everything else the runtime adds to a trivial call. ``logging._srcfile = None`` (the
logging HOWTO's own optimisation) spares the caller lookup that no line of ours prints.
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import logging.handlers
import queue
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

TRACING_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "racetrack_tracing_id", default=None
)
CALLER_NAME: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "racetrack_caller_name", default=None
)
LOGGER_NAME = "racetrack.job"
ACCESS_LOGGER_NAME = "racetrack.job.access"
BATCH_SECONDS = 0.02  # longest a line waits before it is written
_LEVELS = {"WARNING": "WARN ", "CRITICAL": "CRIT ", "INFO": "INFO "}

# An access line waiting to be written: (unix time, message, tracing id, caller name).
AccessEntry = tuple[float, str, "str | None", "str | None"]
_queue: queue.SimpleQueue[logging.LogRecord | AccessEntry | None] | None = None


def get_logger() -> logging.Logger:
    return logging.getLogger(LOGGER_NAME)


def access(message: str) -> None:
    """Log one access line (INFO) with the current tracing id, as cheaply as possible."""
    if _queue is None:
        logging.getLogger(ACCESS_LOGGER_NAME).info(message)
    else:
        _queue.put((time.time(), message, TRACING_ID.get(), CALLER_NAME.get()))


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = dict(getattr(record, "fields", None) or {})
    tracing_id = record.__dict__.get("tracing_id", TRACING_ID.get())
    if tracing_id is not None:
        fields["tracing_id"] = tracing_id
    caller_name = record.__dict__.get("caller_name", CALLER_NAME.get())
    if caller_name is not None:
        fields["caller_name"] = caller_name
    return fields


@functools.lru_cache(maxsize=4)
def _local_stamp(second: int) -> str:
    """``YYYY-MM-DD HH:MM:SS``; cached, as a busy job writes many lines per second."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))


class PlainFormatter(logging.Formatter):
    """``[2026-01-02 03:04:05] INFO  message, key=value``."""

    def format(self, record: logging.LogRecord) -> str:
        exc = self.formatException(record.exc_info) if record.exc_info else None
        return self.line(
            record.created, record.levelname, record.getMessage(), "", _fields(record), exc
        )

    @staticmethod
    def line(
        created: float, level: str, message: str, name: str, fields: dict[str, Any], exc: str | None
    ) -> str:
        text = f"[{_local_stamp(int(created))}] {_LEVELS.get(level, level[:5])} {message}"
        for key, value in fields.items():
            shown = str(value)
            text += f', {key}="{shown}"' if " " in shown else f", {key}={shown}"
        return text + "\n" + exc if exc else text


class JsonFormatter(logging.Formatter):
    """``{"time": "...Z", "lvl": "INFO", "msg": "...", ...fields}``, one object per line."""

    def format(self, record: logging.LogRecord) -> str:
        exc = self.formatException(record.exc_info) if record.exc_info else None
        return self.line(
            record.created, record.levelname, record.getMessage(), record.name, _fields(record), exc
        )

    @staticmethod
    def line(
        created: float, level: str, message: str, name: str, fields: dict[str, Any], exc: str | None
    ) -> str:
        millis = int((created % 1) * 1000)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{millis:03d}Z"
        entry: dict[str, Any] = {"time": stamp, "lvl": level, "msg": message, "logger": name}
        entry.update(fields)
        if exc:
            entry["exc_info"] = exc
        return json.dumps(entry, default=str)


class _ContextQueueHandler(logging.handlers.QueueHandler):
    """Enqueues records as they are, plus the tracing id of the current context."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        record.tracing_id = TRACING_ID.get()
        record.caller_name = CALLER_NAME.get()
        return record


class _Writer(threading.Thread):
    """Formats queued records and access entries; writes them to stdout in batches."""

    def __init__(
        self,
        records: queue.SimpleQueue[logging.LogRecord | AccessEntry | None],
        fmt: PlainFormatter | JsonFormatter,
        handler: logging.Handler,
    ) -> None:
        super().__init__(name="log-writer", daemon=True)
        self.records = records
        self.fmt = fmt
        self.handler = handler

    def run(self) -> None:
        while True:
            batch = [self.records.get()]
            # Let a busy job's lines pile up briefly: waking this thread (and handing it the
            # GIL) once per line cost the event loop more than formatting the lines.
            time.sleep(BATCH_SECONDS)
            while len(batch) < 10_000:
                try:
                    batch.append(self.records.get_nowait())
                except queue.Empty:
                    break
            lines = [self._format(item) for item in batch if item is not None]
            if lines:
                sys.stdout.write("\n".join(lines) + "\n")
                sys.stdout.flush()
            if None in batch:
                return

    def _format(self, item: logging.LogRecord | AccessEntry) -> str:
        custom = self.handler.formatter
        if isinstance(item, tuple):
            created, message, tracing_id, caller_name = item
            if custom is not None:
                item = _access_record(created, message, tracing_id, caller_name)
            else:
                fields = {"tracing_id": tracing_id} if tracing_id is not None else {}
                if caller_name is not None:
                    fields["caller_name"] = caller_name
                return self.fmt.line(created, "INFO", message, ACCESS_LOGGER_NAME, fields, None)
        try:
            return (custom or self.fmt).format(item)
        except Exception as exc:  # a bad user log call or formatter must not stop all logging
            return f"(unformattable log record {item.msg!r}: {exc})"


def _access_record(
    created: float, message: str, tracing_id: str | None, caller_name: str | None
) -> logging.LogRecord:
    record = logging.makeLogRecord(
        {"name": ACCESS_LOGGER_NAME, "levelno": logging.INFO, "levelname": "INFO", "msg": message}
    )
    record.created = created
    record.msecs = (created % 1) * 1000
    record.tracing_id = tracing_id
    record.caller_name = caller_name
    return record


def setup_logging(structured: bool) -> Callable[[], None]:
    """Route every logger (ours, uvicorn's, the user's) to stdout in one format.

    Returns ``flush``: stops the writer thread after it wrote everything queued.
    """
    global _queue
    records: queue.SimpleQueue[logging.LogRecord | AccessEntry | None] = queue.SimpleQueue()
    handler = _ContextQueueHandler(records)
    writer = _Writer(records, JsonFormatter() if structured else PlainFormatter(), handler)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # As in the original: libraries log at INFO and above, but the ``racetrack`` logger
    # (which job code used for its own lines) also shows DEBUG.
    logging.getLogger("racetrack").setLevel(logging.DEBUG)
    logging._srcfile = None  # no caller lookup per record (see the module docstring)
    logging.logMultiprocessing = False
    _queue = records
    writer.start()

    def flush() -> None:
        if writer.is_alive():
            records.put(None)
            writer.join(timeout=5)
        sys.stdout.flush()

    return flush
