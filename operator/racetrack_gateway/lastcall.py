"""When each job version was last called, and when that is worth writing to its Job.

HAProxy counts seconds since each server last took a call; the agent turns that into a
time and writes it to the Job's ``status.lastCallTime`` (what the purge score reads) only
when it is at least ``interval`` newer than the time already there: at most one write per
Job per interval, whichever gateway replica writes, and never a time going backwards.
"""

from __future__ import annotations

import datetime


def called_at(now: datetime.datetime, seconds_since_last: int | None) -> datetime.datetime | None:
    if seconds_since_last is None:
        return None
    return (now - datetime.timedelta(seconds=seconds_since_last)).replace(microsecond=0)


def worth_writing(
    stored: datetime.datetime | None, observed: datetime.datetime | None, interval: float
) -> bool:
    if observed is None:
        return False
    return stored is None or (observed - stored).total_seconds() >= interval


def to_wire(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
