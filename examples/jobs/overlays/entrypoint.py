"""Totals in a currency: one job deployed in variants that share a base manifest.

``CURRENCY`` and ``ROUNDING`` come from ``runtime_env``: the base manifest sets both, the
overlay replaces ``CURRENCY`` only.
"""

from __future__ import annotations

import os


class Totals:
    def __init__(self) -> None:
        self.currency = os.environ.get("CURRENCY", "EUR")
        self.digits = int(os.environ.get("ROUNDING", "2"))

    def perform(self, amounts: list[float]) -> dict[str, object]:
        """The total of `amounts`, rounded, in the job's currency."""
        return {"total": round(sum(amounts), self.digits), "currency": self.currency}

    def docs_input_example(self) -> dict[str, list[float]]:
        return {"amounts": [40.5, 1.25]}
