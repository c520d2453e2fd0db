"""JSON merge patches (RFC 7386) between two status dicts, or None when equal; lists are
replaced whole, as merge patches do."""

from __future__ import annotations

from typing import Any


def merge_patch(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any] | None:
    """The merge patch turning ``before`` into ``after``; None means "do not write".

    Objects are patched key by key, at any depth: a merge patch merges nested objects, so a
    key that disappeared from one must be sent as null, or the stored object would keep it.
    """
    if before == after:
        return None
    patch: dict[str, Any] = {}
    for key, value in after.items():
        old = before.get(key)
        if old == value:
            continue
        if isinstance(old, dict) and isinstance(value, dict):
            patch[key] = merge_patch(old, value)
        else:
            patch[key] = value
    for key in before:
        if key not in after:
            patch[key] = None  # merge patch: null removes the field
    return patch
