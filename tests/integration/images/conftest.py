"""A real distribution registry (Debian's docker-registry) on loopback, one per test module.

No control plane is needed: these tests push and read images and artifacts the way build
pods and ``racetrack source push`` do, against the same registry the dev cluster runs.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import support  # type: ignore[import-not-found]
from racetrack_devcluster.processes import PortAllocator
from racetrack_devcluster.realnode import registry as registry_process
from racetrack_images.registry import Registry


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not Path(registry_process.REGISTRY).exists():
        pytest.skip(f"{registry_process.REGISTRY} is missing (install with: racetrack dev prereqs)")
    return tmp_path_factory.mktemp("registry")


@pytest.fixture(scope="module")
def registry(storage: Path) -> Iterator[Registry]:
    yield from _serve(storage, "registry.yml", read_only=False)


@pytest.fixture(scope="module")
def read_only_registry(storage: Path) -> Iterator[Registry]:
    """The same storage served read-only: pulls work, every push is refused."""
    yield from _serve(storage, "read-only.yml", read_only=True)


def _serve(work: Path, name: str, *, read_only: bool) -> Iterator[Registry]:
    address = f"127.0.0.1:{PortAllocator().claim('registry')}"
    config = registry_process.write_config(work / name, work / "storage", address)
    if read_only:
        settings = yaml.safe_load(config.read_text())
        settings["storage"]["maintenance"] = {"readonly": {"enabled": True}}
        config.write_text(yaml.safe_dump(settings))
    with (work / f"{name}.log").open("wb") as log:
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
