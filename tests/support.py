"""Small helpers shared by the test tiers (importable as ``support``: tests/ is on sys.path)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def eventually(
    condition: Callable[[], T], timeout: float = 60.0, what: str = "", interval: float = 0.2
) -> T:
    """Poll until ``condition`` returns something truthy; the deadline only stops a hang."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what or condition.__doc__}")
        time.sleep(interval)


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def job_ready(job: dict[str, Any]) -> bool:
    """Whether a racetrack.io Job (as JSON) is Ready for its current generation."""
    return any(
        condition["type"] == "Ready"
        and condition["status"] == "True"
        and condition.get("observedGeneration") == job["metadata"]["generation"]
        for condition in job.get("status", {}).get("conditions", [])
    )
