"""A test job whose perform (and warm-up) block until the test creates a gate file.

``GATE_FILE`` releases ``perform``; ``WARMUP_GATE_FILE`` (if set) holds ``warm_up``. No
test waits for a fixed time: they wait for observable states and then open the gate.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def wait_for(path: str) -> None:
    deadline = time.monotonic() + 60
    while not Path(path).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never appeared")
        time.sleep(0.01)


class Gated:
    def warm_up(self) -> None:
        gate = os.environ.get("WARMUP_GATE_FILE")
        if gate:
            wait_for(gate)

    def perform(self, tag: str) -> str:
        wait_for(os.environ["GATE_FILE"])
        return tag
