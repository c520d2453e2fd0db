"""Which job version a requested version names: exact, ``latest`` or a wildcard.

The original's rules: ``latest`` is the highest stable (no pre-release) version; a wildcard
is dotted numbers and ``x`` with at least one ``x`` (``1.x``, ``1.2.x``, ``x``), each ``x``
standing for one or more characters, and names the highest stable version it matches; any
other string is an exact version. Only versions that serve are candidates for ``latest``
and wildcards; an exact version names its Job whether or not it serves (and the gateway
answers 503 while it does not).

HAProxy cannot match a wildcard, so every alias a stable version answers to is written out
as a key: for ``1.2.3`` that is ``latest`` and the 11 wildcards that match it (``x``,
``1.x``, ``x.3``, ``1.2.x``, ``x.x.x``, ...), each pointing at the highest serving version
that has it. A version with three numbers has exactly these: a number in a wildcard is
anchored between dots, so it can only stand for a whole component of the version, and the
``x`` parts cover contiguous runs of components.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from racetrack_api.semver import is_stable, semver_key

LATEST = "latest"


def wildcards(version: str) -> list[str]:
    """Every wildcard that matches a stable ``version`` (none for a pre-release)."""
    if not is_stable(version):
        return []
    parts = version.split(".")
    found: list[str] = []
    # Split the components into contiguous groups (cut or not after each but the last);
    # a group becomes "x", or its number when it is a single component.
    for cuts in itertools.product((False, True), repeat=len(parts) - 1):
        groups: list[list[str]] = [[parts[0]]]
        for part, cut in zip(parts[1:], cuts, strict=True):
            if cut:
                groups.append([part])
            else:
                groups[-1].append(part)
        choices = [["x"] if len(group) > 1 else ["x", group[0]] for group in groups]
        for pick in itertools.product(*choices):
            if "x" in pick:
                found.append(".".join(pick))
    return sorted(set(found))


def aliases(serving: Iterable[str]) -> dict[str, str]:
    """``latest`` and every wildcard -> the highest serving stable version it names."""
    resolved: dict[str, str] = {}
    for version in sorted((v for v in serving if is_stable(v)), key=semver_key):
        resolved[LATEST] = version
        for pattern in wildcards(version):
            resolved[pattern] = version
    return resolved
