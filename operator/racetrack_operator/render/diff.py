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


def deep_merge_patch(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any] | None:
    """The RFC 7386 merge patch turning ``before`` into ``after`` at any depth (a nested
    object that lost a key needs that key set to null, which the top-level diff would not
    say); lists are replaced whole. None means "do not write"."""
    if before == after:
        return None
    patch: dict[str, Any] = {}
    for key, value in after.items():
        old = before.get(key)
        if old == value:
            continue
        if isinstance(old, dict) and isinstance(value, dict):
            patch[key] = deep_merge_patch(old, value)
        else:
            patch[key] = value
    for key in before:
        if key not in after:
            patch[key] = None
    return patch
