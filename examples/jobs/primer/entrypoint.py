"""Primality by trial division over 6k +/- 1: a small CPU-bound job.

Its manifest sets no version, so it is deployed as 0.0.1, the original's default.
"""

from __future__ import annotations

import math


class Primer:
    def perform(self, number: int) -> bool:
        """Whether `number` is a prime."""
        if number < 4:
            return number in (2, 3)
        if number % 2 == 0 or number % 3 == 0:
            return False
        for k in range(5, math.isqrt(number) + 1, 6):
            if number % k == 0 or number % (k + 2) == 0:
                return False
        return True

    def docs_input_example(self) -> dict[str, int]:
        return {"number": 7919}
