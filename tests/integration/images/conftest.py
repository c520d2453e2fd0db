"""A real distribution registry (Debian's docker-registry) on loopback, one per test module.

No control plane is needed: these tests push and read images and artifacts the way build
pods and ``racetrack source push`` do, against the same registry the dev cluster runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import registry_process  # type: ignore[import-not-found]
from racetrack_images.registry import Registry
from registry_process import registry, storage

__all__ = ["read_only_registry", "registry", "storage"]


@pytest.fixture(scope="module")
def read_only_registry(storage: Path) -> Iterator[Registry]:
    """The same storage served read-only: pulls work, every push is refused."""
    yield from registry_process.serve(storage, "read-only.yml", read_only=True)
