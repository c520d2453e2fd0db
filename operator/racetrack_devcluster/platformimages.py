"""The platform's own images, made here without a Docker engine and pushed to a registry.

- **operator** (``racetrack/operator``): Debian bookworm's Python 3.11 (the python3 base
  image's OS layer), one layer of the project's dependencies at the versions installed next
  to this code, one layer of the project's packages and commands. The operator, the gateway
  agent and the admission webhooks all run it, each with its own command (as the manifests
  say).
- **builder** (``racetrack/builder``): the build pods' image, as the real-node dev cluster
  makes it (``realnode.builderimage``).
- **haproxy** (``racetrack/haproxy``): Debian bookworm with Debian's ``haproxy`` package
  (2.6 LTS), the gateway's data plane.

Reproducible: every layer we write has sorted entries, fixed times and owners and a gzip
header without a clock, so the same OS layer, the same pinned wheels and the same sources
give the same digest. Slow steps (debootstrap, pip) are cached in the cache folder's OCI
store by what goes in, like the base image's layers. Images are tagged with the package
version.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import re
import shutil
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from packaging.requirements import Requirement

import racetrack_api
import racetrack_builder
import racetrack_cli
import racetrack_gateway
import racetrack_images
import racetrack_job_runtime
import racetrack_job_wrapper
import racetrack_kube
import racetrack_operator
import racetrack_webhooks
from racetrack_devcluster.realnode import baseimage, builderimage
from racetrack_images import oci
from racetrack_images.registry import Reference, Registry

DISTRIBUTION = "racetrack-operator"
RECIPE_VERSION = "1"
#: Bumped when the operator dependency layer's recipe changes (not its pins, which are hashed).
DEPS_RECIPE_VERSION = "3"
OPERATOR_REPOSITORY = "racetrack/operator"
BUILDER_REPOSITORY = builderimage.BUILDER_REPOSITORY
HAPROXY_REPOSITORY = "racetrack/haproxy"
HAPROXY_PACKAGES = ("haproxy",)
#: Every package of the product (the wheel's), so one image runs any of its commands.
PRODUCT_PACKAGES: tuple[ModuleType, ...] = (
    racetrack_api,
    racetrack_kube,
    racetrack_images,
    racetrack_operator,
    racetrack_cli,
    racetrack_builder,
    racetrack_gateway,
    racetrack_job_runtime,
    racetrack_job_wrapper,
    racetrack_webhooks,
)
#: The project's console scripts (pyproject.toml), as ``usr/local/bin`` commands.
COMMANDS = {
    "racetrack": ("racetrack_cli.main", "main"),
    "racetrack-job": ("racetrack_job_runtime.cli", "main"),
    "racetrack-builder": ("racetrack_builder.cli", "main"),
    "racetrack-gateway": ("racetrack_gateway.main", "main"),
}
IMAGE_ENV = [
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "PYTHONUNBUFFERED=1",
    "PYTHONDONTWRITEBYTECODE=1",
]
_NAME = re.compile(r"[-_.]+")
#: The checkout's image recipes for Docker/BuildKit users, and the operator image's lock file
#: (both ways of building install exactly it).
IMAGES_DIR = Path(__file__).resolve().parents[2] / "images"
LOCK_FILE = IMAGES_DIR / "operator" / "requirements.txt"
_LOCK_HEADER = (
    "# The operator image's Python dependencies, the whole closure pinned; both\n"
    "# `racetrack dev images` and images/operator/Containerfile install exactly these.\n"
    "# Regenerate from the versions installed in .venv: racetrack dev images --lock\n"
)


class PlatformImageError(RuntimeError):
    """A platform image cannot be made; the message says why and what to do."""


def package_version() -> str:
    return importlib.metadata.version(DISTRIBUTION)


def _canonical(name: str) -> str:
    return _NAME.sub("-", name).lower()


def dependency_pins() -> list[str]:
    """``name==version`` of every distribution the product needs at run time (its whole
    dependency closure, markers evaluated for this interpreter), as installed here, sorted."""
    pins: dict[str, str] = {}
    pending: list[tuple[str, frozenset[str]]] = [(DISTRIBUTION, frozenset())]
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        name, extras = pending.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        distribution = importlib.metadata.distribution(name)
        if _canonical(name) != DISTRIBUTION:
            pins[_canonical(name)] = f"{_canonical(name)}=={distribution.version}"
        for text in distribution.requires or []:
            requirement = Requirement(text)
            marker = requirement.marker
            if marker is not None and not any(
                marker.evaluate({"extra": extra}) for extra in (extras or {""})
            ):
                continue
            pending.append((requirement.name, frozenset(requirement.extras)))
    return [pins[name] for name in sorted(pins)]


def without_scripts(record: str) -> str:
    """A wheel's RECORD without its console scripts (``bin/``), which the layer leaves out:
    pip writes the interpreter that ran it into each script, so their hashes in RECORD would
    change with the checkout's path and the layer would not be reproducible."""
    kept = []
    for line in record.splitlines(keepends=True):
        parts = [part for part in line.split(",", 1)[0].split("/") if part != ".."]
        if parts[:1] != ["bin"]:
            kept.append(line)
    return "".join(kept)


def lock_text(pins: list[str]) -> str:
    return _LOCK_HEADER + "".join(f"{pin}\n" for pin in pins)


def locked_pins(path: Path = LOCK_FILE) -> list[str]:
    if not path.exists():
        raise PlatformImageError(f"{path} is missing; write it with: racetrack dev images --lock")
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def code_files() -> dict[str, bytes]:
    return baseimage.package_files(PRODUCT_PACKAGES)


def command_script(module: str, function: str) -> bytes:
    return (
        f"#!/usr/bin/python3\nimport sys\n\nfrom {module} import {function}\n\n"
        f"sys.exit({function}())\n"
    ).encode()


def write_code_layer(tar: tarfile.TarFile, files: dict[str, bytes]) -> None:
    """The product's packages in site-packages, its commands, and ``python`` for the
    manifests' ``python -m ...`` (Debian names it ``python3`` only)."""
    first, *others = COMMANDS.items()
    command, (module, function) = first
    baseimage.add_packages(tar, files, command, command_script(module, function))
    for command, (module, function) in others:
        oci.add_file(tar, f"usr/local/bin/{command}", command_script(module, function), 0o755)
    baseimage.add_python_link(tar)
    baseimage.add_skeleton(tar)


def operator_config(version: str) -> oci.ImageConfig:
    return oci.ImageConfig(
        cmd=["python", "-m", "racetrack_operator"],
        env=IMAGE_ENV,
        labels=_labels("operator", version),
    )


def haproxy_config(version: str) -> oci.ImageConfig:
    return oci.ImageConfig(
        cmd=["haproxy", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"],
        env=IMAGE_ENV[:1],
        labels=_labels("haproxy", version),
        stop_signal="SIGUSR1",
    )


def _labels(name: str, version: str) -> dict[str, str]:
    return {
        "org.opencontainers.image.title": f"racetrack-{name}",
        "org.opencontainers.image.version": version,
        "io.racetrack.recipe": f"{name}-{baseimage.SUITE}-{RECIPE_VERSION}",
    }


def _key(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class PlatformImage:
    """One image in the cache's OCI store: where it is (``ref_name``) and where it goes."""

    name: str
    ref_name: str
    repository: str


class PlatformImageBuilder(builderimage.BuilderImageBuilder):
    """Makes (once per input) the platform's images in the cache's OCI store."""

    def ensure_all(self) -> list[PlatformImage]:
        builders = self.ensure_builders(None)
        return [
            self.ensure_operator(),
            PlatformImage("builder", builders.builder_ref, BUILDER_REPOSITORY),
            self.ensure_haproxy(),
        ]

    def ensure_operator(self) -> PlatformImage:
        os_ref = f"base-os-{baseimage.os_key(baseimage.mirror())}"
        if self.store.manifest(os_ref) is None:
            self._build_os_layer(os_ref)
        pins = locked_pins()
        deps_ref = f"operator-deps-{_key(DEPS_RECIPE_VERSION, *pins)}"
        if self.store.manifest(deps_ref) is None:
            self.build_deps_layer(deps_ref, pins)
        version = package_version()
        files = code_files()
        code = self.store.add_layer(lambda tar: write_code_layer(tar, files))
        layers = [*self.store.layers_of(os_ref), *self.store.layers_of(deps_ref), code]
        ref_name = f"operator-{version}-{_key(os_ref, deps_ref, code.blob.digest)}"
        self.store.write_image(operator_config(version), layers, ref_name)
        return PlatformImage("operator", ref_name, OPERATOR_REPOSITORY)

    def ensure_haproxy(self) -> PlatformImage:
        os_ref = "haproxy-os-" + _key(
            RECIPE_VERSION, baseimage.SUITE, *HAPROXY_PACKAGES, baseimage.mirror()
        )
        if self.store.manifest(os_ref) is None:
            self._build_os_layer(os_ref, HAPROXY_PACKAGES, what="HAProxy image")
        version = package_version()
        ref_name = f"haproxy-{version}-{_key(os_ref)}"
        layers = self.store.layers_of(os_ref)
        self.store.write_image(haproxy_config(version), layers, ref_name)
        return PlatformImage("haproxy", ref_name, HAPROXY_REPOSITORY)

    def build_deps_layer(self, ref_name: str, pins: list[str]) -> None:
        """pip installs exactly ``pins`` (no resolving: the closure is already pinned) as
        wheels for the image's CPython 3.11 into a folder that becomes one layer."""
        self.progress(f"Building the operator image's dependency layer ({len(pins)} wheels)")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        target = Path(tempfile.mkdtemp(prefix="operator-deps-", dir=self.work_dir))
        try:
            self._run(
                "pip install of the operator's dependencies",
                # The closure is pinned already: nothing to resolve.
                baseimage.pip_target_argv(target, pins, "--no-deps"),
                "operator-image-deps.log",
            )
            for record in target.glob("*.dist-info/RECORD"):
                record.write_text(without_scripts(record.read_text()))
            # Bytecode in the layer: compiling the Kubernetes client's thousands of modules
            # at every start takes longer than a liveness probe waits on a loaded node (the
            # root filesystem is read-only, so nothing is ever cached). Checked against a
            # hash, not the source's mtime, so the bytes are the same on every build.
            self._run(
                "compiling the operator's dependencies",
                [
                    sys.executable, "-m", "compileall", "-q", "-j", "0",
                    "--invalidation-mode", "unchecked-hash",
                    "-s", str(target), "-p", f"/{baseimage.SITE_PACKAGES}", str(target),
                ],
                "operator-image-compile.log",
            )  # fmt: skip
            layer = self.store.add_layer(
                lambda tar: oci.add_tree(
                    tar,
                    target,
                    prefix=baseimage.SITE_PACKAGES,
                    exclude=lambda p: p.startswith("bin"),
                    root_owned=True,
                )
            )
            self.store.write_image(operator_config(package_version()), [layer], ref_name)
        finally:
            shutil.rmtree(target, ignore_errors=True)


def push_all(
    store: oci.BlobStore, images: list[PlatformImage], host: str, registry: Registry, tag: str
) -> dict[str, str]:
    """Push each image as ``host/repository:tag``; returns name -> reference by digest."""
    pushed = {}
    for image in images:
        target = Reference(host, image.repository, tag)
        digest = oci.push(store, image.ref_name, target, registry)
        pushed[image.name] = f"{host}/{image.repository}:{tag}@{digest}"
    return pushed
