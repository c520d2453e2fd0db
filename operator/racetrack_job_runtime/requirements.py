"""What the runtime needs installed in a job image, read from the project's own metadata.

The ``job-runtime`` extra of the ``racetrack-operator`` distribution (pyproject.toml) is the
one list of the runtime's dependencies: pip installs them with the project, and image builds
ask here which ones to put into an image, pinned to the versions installed next to this code
so an image runs exactly what the tests ran. Only build tooling calls this; a job image has
the packages, not the project's metadata.
"""

from __future__ import annotations

import importlib.metadata
import re

DISTRIBUTION = "racetrack-operator"
EXTRA = "job-runtime"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")
_EXTRA_MARKER = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def names() -> list[str]:
    """Distribution names of the runtime's dependencies, e.g. ``starlette``."""
    out = []
    for requirement in importlib.metadata.requires(DISTRIBUTION) or []:
        _, _, marker = requirement.partition(";")
        extras = _EXTRA_MARKER.findall(marker)
        match = _NAME.match(requirement)
        if EXTRA in extras and match is not None:
            out.append(match.group(0))
    return out


def pinned() -> list[str]:
    """``name==version`` of each dependency as installed here."""
    return [f"{name}=={importlib.metadata.version(name)}" for name in names()]
