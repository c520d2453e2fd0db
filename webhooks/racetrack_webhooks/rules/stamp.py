"""The stamp of an audited change: who made it, as which racetrack User, when, and what it was.

The mutating webhook writes it into the annotation ``racetrack.io/last-change`` of the object
in the same request as the change, so the change and its actor are stored together or not at
all; the auditor turns each new stamp it sees into AuditEvents. Compact JSON, because people
read it too (``kubectl get rtjob adder-v1-0-0 -o yaml``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from racetrack_api.labels import ANNOTATION_LAST_CHANGE

JsonDict = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class LastChange:
    by: str
    """The Kubernetes user name that made the change (``request.userInfo.username``)."""
    at: str
    """When it was admitted: RFC 3339 with microseconds, so two changes never share it."""
    actions: tuple[str, ...]
    """The AuditActions of the change, e.g. ``("job_changed",)``."""
    user: str | None = None
    """The racetrack User that identity maps to, if any."""
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    """What changed, for the event's description: field names, the new target; no values
    that could be secret."""


def encode(change: LastChange) -> str:
    body: JsonDict = {"by": change.by, "at": change.at, "actions": list(change.actions)}
    if change.user:
        body["user"] = change.user
    if change.details:
        body["details"] = dict(change.details)
    return json.dumps(body, separators=(",", ":"), sort_keys=True)


def decode(value: str | None) -> LastChange | None:
    """The stamp, or None for a missing or unreadable one (never raises: it is user-visible
    metadata, and a hand-edited value must not stop the auditor)."""
    if not value:
        return None
    try:
        body = json.loads(value)
        actions = tuple(str(action) for action in body["actions"])
        details = body.get("details") or {}
        if not isinstance(details, dict):
            details = {}
        return LastChange(
            by=str(body["by"]),
            at=str(body["at"]),
            actions=actions,
            user=str(body["user"]) if body.get("user") else None,
            details=details,
        )
    except (ValueError, KeyError, TypeError):
        return None


def annotations_of(obj: Mapping[str, Any] | None) -> dict[str, str]:
    if not obj:
        return {}
    found = (obj.get("metadata") or {}).get("annotations") or {}
    return {str(key): str(value) for key, value in found.items()}


def last_change_of(obj: Mapping[str, Any] | None) -> LastChange | None:
    return decode(annotations_of(obj).get(ANNOTATION_LAST_CHANGE))
