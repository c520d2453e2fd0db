"""What to do with pending events: confirm the one whose change was seen, drop the rest.

A pending event records a deletion (or a key rotation) that was admitted but may still be
refused after us. The auditor asks the world whether the change happened and lets this
module decide: seen -> confirm the newest pending event of that object and drop older ones
(earlier attempts that did not go through); not seen within the grace period -> drop (it was
refused later, or failed); otherwise wait.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections import defaultdict
from collections.abc import Callable


@dataclasses.dataclass(frozen=True)
class Pending:
    name: str
    subject: str
    """What the event is about: the object's uid (or the Secret and key version)."""
    time: datetime.datetime


@dataclasses.dataclass(frozen=True)
class Settlement:
    confirm: list[str]
    drop: list[str]


def settle(
    pending: list[Pending],
    happened: Callable[[str], bool],
    now: datetime.datetime,
    grace: datetime.timedelta,
) -> Settlement:
    by_subject: dict[str, list[Pending]] = defaultdict(list)
    for event in pending:
        by_subject[event.subject].append(event)
    confirm: list[str] = []
    drop: list[str] = []
    for subject, events in sorted(by_subject.items()):
        events.sort(key=lambda e: (e.time, e.name))
        if happened(subject):
            confirm.append(events[-1].name)
            drop += [e.name for e in events[:-1]]
        else:
            drop += [e.name for e in events if now - e.time > grace]
    return Settlement(confirm, drop)
