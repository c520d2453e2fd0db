"""A real distribution registry (Debian's docker-registry) on loopback for tests, as the dev
cluster runs it (importable as ``registry_process``: tests/ is on sys.path). A test module or
conftest imports the fixtures ``storage`` and ``registry`` to have one per module."""

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
    """A folder for a registry's configuration and storage; skips where it is not installed."""
    if not Path(registry_process.REGISTRY).exists():
        pytest.skip(f"{registry_process.REGISTRY} is missing (install with: racetrack dev prereqs)")
    return tmp_path_factory.mktemp("registry")


@pytest.fixture(scope="module")
def registry(storage: Path) -> Iterator[Registry]:
    """A registry serving ``storage`` for the module (import this fixture where needed)."""
    yield from serve(storage, "registry.yml")


def serve(work: Path, name: str, *, read_only: bool = False) -> Iterator[Registry]:
    """Serve ``work/storage`` with the configuration ``work/name`` until the generator ends."""
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
