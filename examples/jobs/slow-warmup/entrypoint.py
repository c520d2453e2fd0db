"""A job that needs time before it can serve: it "loads a model" in ``warm_up``.

The runtime answers ``/live`` at once but ``/ready`` only after ``warm_up`` returned, so
Kubernetes sends no traffic to a replica that is still loading. ``WARMUP_SECONDS``
(default 5) sets how long the pretend loading takes.
"""

from __future__ import annotations

import logging
import os
import time

log = logging.getLogger(__name__)


class SlowStarter:
    def __init__(self) -> None:
        self.model: dict[str, float] | None = None

    def warm_up(self) -> None:
        seconds = float(os.environ.get("WARMUP_SECONDS", "5"))
        log.info("Loading the model (%.1f s)", seconds)
        time.sleep(seconds)
        self.model = {"bias": 0.5, "weight": 2.0}

    def perform(self, x: float) -> float:
        """Apply the loaded linear model to `x`."""
        assert self.model is not None, "perform called before warm_up"
        return self.model["weight"] * x + self.model["bias"]
