"""Rolls dice and reports, on ``/metrics``, how many rolls gave each face.

``metrics()`` is called on every scrape; each entry becomes a gauge (with labels when
given), exported next to the runtime's own ``requests_started_total`` and friends.
"""

from __future__ import annotations

import random
import time
from typing import Any


class DiceStats:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.faces = dict.fromkeys(range(1, 7), 0)
        self.random = random.Random()

    def perform(self, rolls: int = 1, seed: int | None = None) -> list[int]:
        """Roll a die `rolls` times (reproducibly when a `seed` is given)."""
        rng = random.Random(seed) if seed is not None else self.random
        results = [rng.randint(1, 6) for _ in range(rolls)]
        for face in results:
            self.faces[face] += 1
        return results

    def metrics(self) -> list[dict[str, Any]]:
        gauges: list[dict[str, Any]] = [
            {
                "name": "dice_uptime_seconds",
                "description": "Seconds since the job started",
                "value": time.monotonic() - self.started,
            }
        ]
        for face, count in self.faces.items():
            gauges.append(
                {
                    "name": "dice_rolls",
                    "description": "Rolls that gave each face",
                    "value": count,
                    "labels": {"face": str(face)},
                }
            )
        return gauges
