"""A dev cluster of the test's own, removed afterwards whatever happened."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devcli import dev_environment, run  # type: ignore[import-not-found]


@pytest.fixture
def dev_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """An environment whose dev cluster state lives in a fresh folder (binaries stay cached)."""
    env = dev_environment(tmp_path / "state")
    yield env
    run("dev", "down", env=env)
