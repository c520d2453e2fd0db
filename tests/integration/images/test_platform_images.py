"""The platform's images made for real (debootstrap, pip, our layers), pushed to a real
registry with the package version as tag, and started: their commands run in a root made of
their layers.

The OS layers come from the shared cache (debootstrapped once); the operator's dependency
layer is installed again from the lock into a fresh store to prove it reproducible.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from racetrack_devcluster import platformimages
from racetrack_devcluster.build import default_cache_dir
from racetrack_images.registry import Registry


@pytest.fixture(scope="module")
def builder() -> platformimages.PlatformImageBuilder:
    return platformimages.PlatformImageBuilder(default_cache_dir(), print)


@pytest.fixture(scope="module")
def images(builder: platformimages.PlatformImageBuilder) -> list[platformimages.PlatformImage]:
    return builder.ensure_all()


def test_the_dependency_layer_is_the_same_when_installed_again(
    builder: platformimages.PlatformImageBuilder,
    images: list[platformimages.PlatformImage],
    tmp_path: Path,
) -> None:
    fresh = platformimages.PlatformImageBuilder(tmp_path, print)
    fresh.build_deps_layer("again", platformimages.locked_pins())
    (operator,) = [image for image in images if image.name == "operator"]
    cached_deps = builder.store.layers_of(operator.ref_name)[1]
    assert fresh.store.layers_of("again") == [cached_deps]


def test_images_are_pushed_under_the_package_version_by_digest(
    builder: platformimages.PlatformImageBuilder,
    images: list[platformimages.PlatformImage],
    registry: Registry,
) -> None:
    host = registry.base_url.removeprefix("http://")
    version = platformimages.package_version()
    pushed = platformimages.push_all(builder.store, images, host, registry, version)
    assert set(pushed) == {"operator", "builder", "haproxy"}
    for image in images:
        found = registry.manifest(image.repository, version)
        assert found is not None
        digest, body = found
        manifest = builder.store.manifest(image.ref_name)
        assert manifest is not None
        assert digest == manifest[0].digest
        assert pushed[image.name] == f"{host}/{image.repository}:{version}@{digest}"
        assert len(json.loads(body)["layers"]) >= 1
    # Pushing the same images again changes nothing.
    assert platformimages.push_all(builder.store, images, host, registry, version) == pushed


@pytest.fixture(scope="module")
def unpacked(
    builder: platformimages.PlatformImageBuilder,
    images: list[platformimages.PlatformImage],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Path]]:
    if os.geteuid() != 0:
        pytest.skip("starting an image's commands in its own root (chroot) needs root")
    roots = {}
    for image in images:
        root = tmp_path_factory.mktemp(image.name)
        for layer in builder.store.layers_of(image.ref_name):
            with tarfile.open(builder.store.path(layer.blob.digest)) as tar:
                tar.extractall(root, filter="fully_trusted")
        roots[image.name] = root
    yield roots
    for root in roots.values():
        shutil.rmtree(root, ignore_errors=True)


def run_in(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    chroot = shutil.which("chroot") or "/usr/sbin/chroot"
    return subprocess.run(
        [chroot, str(root), *argv], capture_output=True, text=True, check=False, timeout=120,
        env={"PATH": platformimages.IMAGE_ENV[0].removeprefix("PATH="), "HOME": "/tmp"},
    )  # fmt: skip


def test_the_operator_image_runs_every_deployable(unpacked: dict[str, Path]) -> None:
    root = unpacked["operator"]
    imports = run_in(
        root, "python", "-c",
        "import racetrack_operator.handlers, racetrack_webhooks.__main__, "
        "racetrack_gateway.main, racetrack_operator.__main__; print('ok')",
    )  # fmt: skip
    assert imports.stdout.strip() == "ok", imports.stderr
    cli = run_in(root, "racetrack", "--help")
    assert cli.returncode == 0 and "usage" in cli.stdout, cli.stderr
    # The operator's own entry point, without a cluster: it reads its settings first.
    settings = run_in(root, "env", "RACETRACK_METRICS_PORT=x", "python", "-m", "racetrack_operator")
    assert settings.returncode == 2 and "RACETRACK_METRICS_PORT" in settings.stderr


def test_the_haproxy_image_runs_an_lts_haproxy(unpacked: dict[str, Path]) -> None:
    version = run_in(unpacked["haproxy"], "haproxy", "-v")
    assert version.returncode == 0, version.stderr
    assert "HAProxy version 2.6" in version.stdout


def test_the_builder_image_runs_the_builder(unpacked: dict[str, Path]) -> None:
    result = run_in(unpacked["builder"], "racetrack-builder", "--help")
    assert result.returncode == 0 and "usage" in result.stdout, result.stderr
