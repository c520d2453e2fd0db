"""JSON merge patches between two status dicts (top level), or None when equal."""

from __future__ import annotations

from typing import Any


def merge_patch(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any] | None:
    """The merge patch turning ``before`` into ``after``; None means "do not write"."""
    if before == after:
        return None
    patch: dict[str, Any] = {key: value for key, value in after.items() if before.get(key) != value}
    for key in before:
        if key not in after:
            patch[key] = None  # merge patch: null removes the field
    return patch
