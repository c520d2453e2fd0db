"""A real distribution registry (Debian's docker-registry) on loopback, one per test module.

No control plane is needed: these tests push and read images and artifacts the way build
pods and ``racetrack source push`` do, against the same registry the dev cluster runs.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import support  # type: ignore[import-not-found]
from racetrack_devcluster.processes import PortAllocator
from racetrack_devcluster.realnode import registry as registry_process
from racetrack_images.registry import Registry


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    if not Path(registry_process.REGISTRY).exists():
        pytest.skip(f"{registry_process.REGISTRY} is missing (install with: racetrack dev prereqs)")
    work = tmp_path_factory.mktemp("registry")
    port = PortAllocator().claim("registry")
    address = f"127.0.0.1:{port}"
    config = registry_process.write_config(work / "config.yml", work / "storage", address)
    with (work / "registry.log").open("wb") as log:
        process = subprocess.Popen(registry_process.argv(config), stdout=log, stderr=log)
    try:
        url = f"http://{address}"
        support.eventually(lambda: _answers(url), 20, "the registry answers")
        yield Registry(url)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _answers(url: str) -> bool:
    try:
        return registry_process.answers(url)
    except OSError:
        return False
