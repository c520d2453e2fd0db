"""Chained SHA-256: each round hashes the previous digest. As slow as `rounds` makes it,
and the same answer everywhere, which makes it a handy load for capacity tests.
"""

from __future__ import annotations

import hashlib


class ChainedHash:
    def perform(self, text: str, rounds: int = 100_000) -> str:
        """The hex digest after `rounds` rounds of SHA-256, starting from `text`."""
        if rounds < 1:
            raise ValueError("rounds must be at least 1")
        digest = text.encode()
        for _ in range(rounds):
            digest = hashlib.sha256(digest).digest()
        return digest.hex()

    def docs_input_example(self) -> dict[str, object]:
        return {"text": "racetrack", "rounds": 100_000}
