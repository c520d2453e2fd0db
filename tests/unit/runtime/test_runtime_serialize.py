"""Results users commonly return come out as the JSON they expect."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from racetrack_job_runtime.serialize import NotSerializableError, to_json_bytes


class Color(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int
    when: datetime.date


class Custom:
    def __to_json__(self) -> dict[str, str]:
        return {"custom": "yes"}


class ArrayLike:
    def tolist(self) -> list[int]:
        return [1, 2]


def load(value: Any) -> Any:
    return json.loads(to_json_bytes(value))


def test_plain_values_pass_through() -> None:
    assert load({"a": [1, 2.5, "x", None, True]}) == {"a": [1, 2.5, "x", None, True]}


def test_none_is_null() -> None:
    assert to_json_bytes(None) == b"null"


def test_common_python_types_are_converted() -> None:
    value = {
        "point": Point(1, datetime.date(2024, 5, 6)),
        "at": datetime.datetime(2024, 5, 6, 7, 8, 9),
        "path": Path("/tmp/x"),
        "id": uuid.UUID(int=1),
        "color": Color.RED,
        "tags": {"a"},
        "price": decimal.Decimal("1.5"),
        "custom": Custom(),
        "array": ArrayLike(),
        "pair": (1, 2),
    }
    assert load(value) == {
        "point": {"x": 1, "when": "2024-05-06"},
        "at": "2024-05-06T07:08:09",
        "path": "/tmp/x",
        "id": "00000000-0000-0000-0000-000000000001",
        "color": "red",
        "tags": ["a"],
        "price": 1.5,
        "custom": {"custom": "yes"},
        "array": [1, 2],
        "pair": [1, 2],
    }


def test_unicode_is_kept_readable() -> None:
    assert to_json_bytes("zażółć") == '"zażółć"'.encode()


@pytest.mark.parametrize("value", [object(), float("nan"), {"x": float("inf")}])
def test_unserializable_results_raise_a_readable_error(value: Any) -> None:
    with pytest.raises(NotSerializableError):
        to_json_bytes(value)
