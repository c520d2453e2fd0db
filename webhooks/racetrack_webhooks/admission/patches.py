"""JSON patches (RFC 6902) that set annotations, the only thing the mutating webhook changes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

JsonDict = dict[str, Any]


def pointer(key: str) -> str:
    """The JSON pointer of an annotation: ``/`` and ``~`` escaped (RFC 6901)."""
    return "/metadata/annotations/" + key.replace("~", "~0").replace("/", "~1")


def annotation_patch(
    obj: Mapping[str, Any], current: Mapping[str, str], desired: Mapping[str, str]
) -> list[JsonDict]:
    """Operations turning the object's annotations ``current`` into ``desired``."""
    if dict(current) == dict(desired):
        return []
    if not (obj.get("metadata") or {}).get("annotations"):
        # No annotations map yet (or an empty one): add it whole; a pointer into a missing
        # map would fail the patch.
        return [{"op": "add", "path": "/metadata/annotations", "value": dict(desired)}]
    operations: list[JsonDict] = []
    for key in sorted(set(current) | set(desired)):
        if key not in desired:
            operations.append({"op": "remove", "path": pointer(key)})
        elif key not in current:
            operations.append({"op": "add", "path": pointer(key), "value": desired[key]})
        elif current[key] != desired[key]:
            operations.append({"op": "replace", "path": pointer(key), "value": desired[key]})
    return operations
