"""Images that public Dockerfiles start ``FROM``, made here and seeded in the dev registry
under the names docker.io gives them, as an air-gapped installation's registry holds copies.

Pods and build pods on the real node reach no registry but the local one, so a job's own
Dockerfile saying ``FROM python:3.11-slim-bookworm`` could not be built. The dev cluster
gives Dockerfile builds ``docker.io`` as a registry mirrored by the local registry
(``RACETRACK_BUILD_REGISTRY_MIRRORS``), and pushes there, as ``library/python``:

- ``3.11-slim-bookworm`` and ``3.11-slim``: the python3 base image's OS layer (debootstrapped
  Debian bookworm with its Python 3.11) and one small layer adding ``python`` (Debian
  names the interpreter ``python3`` only) and the folders tools expect. Not docker.io's
  image: the same Debian release and Python minor version, without pip, which Debian leaves
  out of its ``python3`` package (a Dockerfile that runs ``pip install`` needs another base).
"""

from __future__ import annotations

import hashlib
import tarfile

from racetrack_devcluster.realnode import baseimage
from racetrack_images import oci
from racetrack_images.registry import Reference, Registry

RECIPE_VERSION = "1"
PYTHON_REPOSITORY = "library/python"
PYTHON_TAGS = ("3.11-slim-bookworm", "3.11-slim")
#: The registry whose images these stand in for, as ``RACETRACK_BUILD_REGISTRY_MIRRORS`` says.
MIRRORED_REGISTRY = "docker.io"


def python_config() -> oci.ImageConfig:
    return oci.ImageConfig(
        cmd=["python3"],
        env=[
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG=C.UTF-8",
        ],
        labels={
            "io.racetrack.recipe": f"debootstrap-{baseimage.SUITE}-python-{RECIPE_VERSION}",
            "org.opencontainers.image.description": (
                "Debian bookworm with Python 3.11, made by the racetrack dev cluster in place "
                "of docker.io's python:3.11-slim-bookworm"
            ),
        },
    )


def _write_python_layer(tar: tarfile.TarFile) -> None:
    baseimage.add_skeleton(tar)
    for folder in ("usr", "usr/local", "usr/local/bin"):
        oci.add_directory(tar, folder)
    baseimage.add_python_link(tar)


def python_image(store: oci.BlobStore, base: baseimage.BaseImage) -> str:
    """The python image on ``base``'s OS layer, made once per base image; its ref name."""
    key = hashlib.sha256(f"{base.ref_name}\0{RECIPE_VERSION}".encode()).hexdigest()[:16]
    ref_name = f"mirror-python-{key}"
    if store.manifest(ref_name) is None:
        # The base image's first layer is its OS layer (debootstrap): see baseimage.
        os_layer = store.layers_of(base.ref_name)[0]
        layers = [os_layer, store.add_layer(_write_python_layer)]
        store.write_image(python_config(), layers, ref_name)
    return ref_name


def seed(
    store: oci.BlobStore, base: baseimage.BaseImage, registry_host: str, registry: Registry
) -> list[str]:
    """Push the stand-in images to the dev registry under docker.io's names; what was pushed."""
    ref_name = python_image(store, base)
    pushed = []
    for tag in PYTHON_TAGS:
        target = Reference(registry_host, PYTHON_REPOSITORY, tag)
        oci.push(store, ref_name, target, registry)
        pushed.append(str(target))
    return pushed
