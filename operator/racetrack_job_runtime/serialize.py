"""Turning a ``perform`` result into JSON bytes.

``json.dumps`` with a ``default`` hook: plain JSON values take the fast path and never reach
the hook; the hook converts what job code commonly returns (dataclasses, dates, paths,
enums, sets, decimals, numpy arrays and scalars via ``tolist``, pydantic-style models via
``model_dump``, and anything with ``__to_json__``). Non-finite floats are refused
(``allow_nan=False``): ``NaN`` is not JSON and would break strict clients, so the caller
answers a clear 500 instead.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import json
import uuid
from pathlib import PurePath
from typing import Any


class NotSerializableError(TypeError):
    """The result cannot be expressed as JSON."""


def _default(obj: Any) -> Any:
    to_json = getattr(obj, "__to_json__", None)
    if callable(to_json):
        return to_json()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, datetime.date | datetime.time):
        return obj.isoformat()
    if isinstance(obj, datetime.timedelta):
        return obj.total_seconds()
    if isinstance(obj, PurePath | uuid.UUID):
        return str(obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, set | frozenset):
        return list(obj)
    if isinstance(obj, decimal.Decimal):
        return float(obj)
    model_dump = getattr(obj, "model_dump", None)
    if callable(model_dump):
        return model_dump(mode="json")
    tolist = getattr(obj, "tolist", None)
    if callable(tolist):
        return tolist()
    raise NotSerializableError(f"object of type {type(obj).__name__} is not JSON serializable")


def to_json_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON; raises ``NotSerializableError`` with a readable reason."""
    try:
        text = json.dumps(
            value, default=_default, allow_nan=False, ensure_ascii=False, separators=(",", ":")
        )
    except NotSerializableError:
        raise
    except (TypeError, ValueError, RecursionError) as exc:
        raise NotSerializableError(str(exc)) from exc
    return text.encode()
