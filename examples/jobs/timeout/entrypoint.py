"""Misbehaves on request, to try timeouts, failures and a busy CPU.

- ``sleep``: waits `seconds`, then answers;
- ``spin``: keeps the CPU busy for `seconds`;
- ``fail``: raises an exception (answered 500 with its message).

With ``perform_timeout: 2`` in the manifest, a call longer than 2 seconds is answered 504
while the job keeps serving other calls.
"""

from __future__ import annotations

import logging
import time

logger = logging.getLogger("racetrack")


class Misbehaver:
    def perform(self, mode: str = "sleep", seconds: float = 1.0) -> dict[str, object]:
        """Sleep, spin or fail, as `mode` says."""
        started = time.monotonic()
        if mode == "sleep":
            logger.info("Sleeping %.1f s", seconds)
            time.sleep(seconds)
        elif mode == "spin":
            while time.monotonic() - started < seconds:
                pass
        elif mode == "fail":
            raise RuntimeError("failing on purpose, as asked")
        else:
            raise ValueError(f"unknown mode {mode!r}: use sleep, spin or fail")
        return {"mode": mode, "seconds": round(time.monotonic() - started, 3)}

    def docs_input_example(self) -> dict[str, object]:
        return {"mode": "sleep", "seconds": 1}
