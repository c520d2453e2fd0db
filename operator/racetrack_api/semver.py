"""Semantic versions: parsing and ordering, one rule for job versions and job type versions.

Precedence is semver.org's: major, minor and patch compare numerically; a release sorts
above its pre-releases; pre-release identifiers compare one by one, numeric ones
numerically and below alphanumeric ones (so ``1.0.0-rc.2 < 1.0.0-rc.10 < 1.0.0``). Build
metadata (``+...``) is not part of our versions: it cannot be a label value.
"""

from __future__ import annotations

import re
from typing import Final

#: semver.org's regular expression without the ``+build`` part.
SEMVER_REGEX: Final = (
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(-((0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?$"
)
_SEMVER = re.compile(SEMVER_REGEX)

#: (major, minor, patch, is_release, pre-release identifiers as comparable tuples)
SemverKey = tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]
_INVALID: Final[SemverKey] = (-1, -1, -1, 0, ())


def is_semver(version: str) -> bool:
    return _SEMVER.match(version) is not None


def semver_key(version: str) -> SemverKey:
    """Sort key with semver.org precedence; an invalid version sorts below every valid one."""
    match = _SEMVER.match(version)
    if match is None:
        return _INVALID
    major, minor, patch = (int(match.group(i)) for i in (1, 2, 3))
    label = match.group(5)
    if not label:
        return (major, minor, patch, 1, ())
    parts = tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in label.split(".")
    )
    return (major, minor, patch, 0, parts)


def is_stable(version: str) -> bool:
    """A release, not a pre-release (what ``latest`` may resolve to)."""
    match = _SEMVER.match(version)
    return match is not None and not match.group(5)
