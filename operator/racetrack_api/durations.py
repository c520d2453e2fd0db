"""Durations as Kubernetes tools write them (cert-manager's ``duration``, Go's
``time.ParseDuration`` without fractions): ``720h``, ``90m``, ``1h30m``, ``45s``."""

from __future__ import annotations

import re
from typing import Final

#: What a duration field accepts, in the RE2 subset shared by CEL and Python.
DURATION_REGEX: Final = r"^([0-9]+h)?([0-9]+m)?([0-9]+s)?$"
_UNITS: Final = {"h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"([0-9]+)([hms])")


def parse_duration(text: str) -> int:
    """Seconds in ``text``; ``ValueError`` naming the accepted form otherwise."""
    if not text or re.fullmatch(DURATION_REGEX, text) is None:
        raise ValueError(f"{text!r} is not a duration such as 720h, 90m, 1h30m or 45s")
    return sum(int(amount) * _UNITS[unit] for amount, unit in _PART.findall(text))
