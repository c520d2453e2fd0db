"""A test job exercising every optional feature and failure mode of the runtime."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

log = logging.getLogger(__name__)


class KitchenSink:
    def __init__(self) -> None:
        self.calls = 0

    def perform(self, a: int, b: int = 2) -> int:
        """Add two integers.

        Used by the runtime's process tests.
        """
        self.calls += 1
        log.info("User code adds %s and %s", a, b)
        return a + b

    def docs_input_example(self) -> dict[str, Any]:
        return {"a": 40, "b": 2}

    def fail(self, message: str) -> None:
        """Raise an error with `message`."""
        raise RuntimeError(message)

    def sleep(self, seconds: float) -> str:
        time.sleep(seconds)
        return "slept"

    async def async_add(self, a: int, b: int) -> int:
        await asyncio.sleep(0)
        return a + b

    def not_json(self) -> Any:
        return object()

    def auxiliary_endpoints(self) -> dict[str, Any]:
        return {
            "/fail": self.fail,
            "/sleep": self.sleep,
            "/async_add": self.async_add,
            "not_json": self.not_json,
        }

    def static_endpoints(self) -> dict[str, Any]:
        return {"/static/hello.txt": "hello.txt"}

    def metrics(self) -> list[dict[str, Any]]:
        return [
            {"name": "kitchen_calls", "value": self.calls, "description": "perform calls"},
            {"name": "kitchen_temperature", "value": 21.5, "labels": {"room": "main"}},
            {"name": "bad name!", "value": 1},
        ]
