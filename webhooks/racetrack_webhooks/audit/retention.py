"""Which audit events to prune: the oldest beyond the count, and any older than the age limit.

Both limits are settings (``RACETRACK_AUDIT_MAX_EVENTS``, ``RACETRACK_AUDIT_MAX_AGE_DAYS``);
0 turns a limit off. Events are ordered by when the change happened (``spec.time``), the
name breaking ties, so the same log always loses the same events.
"""

from __future__ import annotations

import dataclasses
import datetime


@dataclasses.dataclass(frozen=True)
class Stored:
    name: str
    time: datetime.datetime


def parse_time(value: str) -> datetime.datetime | None:
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def to_prune(
    events: list[Stored],
    now: datetime.datetime,
    max_events: int,
    max_age: datetime.timedelta | None,
) -> list[str]:
    """Names to delete, oldest first."""
    ordered = sorted(events, key=lambda e: (e.time, e.name))
    doomed = []
    if max_age is not None:
        doomed = [e for e in ordered if now - e.time > max_age]
    keep = ordered[len(doomed) :]
    if max_events > 0 and len(keep) > max_events:
        doomed += keep[: len(keep) - max_events]
    return [e.name for e in doomed]
