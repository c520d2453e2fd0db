"""Image archives from the OCI store: one tar that both ``docker load`` and ``ctr import`` read.

Docker 20.10 (Debian's) loads only its own archive format (``manifest.json``), containerd's
``ctr images import`` (what ``kind load image-archive`` runs in a node) reads an OCI layout
(``index.json``). The blobs are the same, so one tar carries both descriptions. Names are
full references (``registry.k8s.io/pause:3.10.2``): ``io.containerd.image.name`` for
containerd, ``RepoTags`` for Docker.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

from racetrack_images import oci

#: containerd's annotation for the full name of an image in an OCI layout.
CONTAINERD_NAME = "io.containerd.image.name"
OCI_REF_NAME = "org.opencontainers.image.ref.name"


def tag_of(name: str) -> str:
    """The tag of a full reference (``host/repo:tag`` -> ``tag``; pure)."""
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        raise ValueError(f"image name {name!r} has no tag")
    return last.rsplit(":", 1)[1]


def complete(store: oci.BlobStore, ref_name: str) -> bool:
    """Whether the store holds ``ref_name`` whole: its manifest, config and every layer, each
    at its recorded size. An image with a blob missing or cut short (a cache cleaned by hand,
    a disk that filled up) counts as absent, so it is made again rather than half-used."""
    found = store.manifest(ref_name)
    if found is None:
        return False
    _, manifest = found
    for descriptor in [manifest["config"], *manifest["layers"]]:
        path = store.path(descriptor["digest"])
        if not path.is_file() or path.stat().st_size != descriptor["size"]:
            return False
    return True


def _blob_path(digest: str) -> str:
    return "blobs/sha256/" + digest.removeprefix("sha256:")


def descriptions(store: oci.BlobStore, images: dict[str, str]) -> tuple[dict[str, Any], list[Any]]:
    """The ``index.json`` and ``manifest.json`` documents for ``images`` (full name -> the
    store's ref name)."""
    index: dict[str, Any] = {"schemaVersion": 2, "manifests": []}
    docker: list[Any] = []
    for name, ref_name in sorted(images.items()):
        found = store.manifest(ref_name)
        if found is None:
            raise KeyError(f"{ref_name} is not in the image store {store.root}")
        blob, manifest = found
        index["manifests"].append(
            {
                **blob.descriptor(),
                "annotations": {CONTAINERD_NAME: name, OCI_REF_NAME: tag_of(name)},
            }
        )
        docker.append(
            {
                "Config": _blob_path(manifest["config"]["digest"]),
                "RepoTags": [name],
                "Layers": [_blob_path(layer["digest"]) for layer in manifest["layers"]],
            }
        )
    return index, docker


def _digests(store: oci.BlobStore, images: dict[str, str]) -> list[str]:
    digests: list[str] = []
    for ref_name in images.values():
        found = store.manifest(ref_name)
        assert found is not None  # descriptions() checked
        blob, manifest = found
        for digest in [
            blob.digest,
            manifest["config"]["digest"],
            *(layer["digest"] for layer in manifest["layers"]),
        ]:
            if digest not in digests:
                digests.append(digest)
    return digests


def write(store: oci.BlobStore, images: dict[str, str], target: Path) -> Path:
    """Write ``images`` into the tar ``target`` (through a temporary name, renamed when whole)."""
    index, docker = descriptions(store, images)
    temporary = target.with_name(f".{target.name}.tmp")
    with tarfile.open(temporary, "w") as tar:
        oci.add_file(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        oci.add_file(tar, "index.json", json.dumps(index, indent=1).encode())
        oci.add_file(tar, "manifest.json", json.dumps(docker, indent=1).encode())
        for digest in _digests(store, images):
            tar.add(store.path(digest), arcname=_blob_path(digest), filter=_root_owned)
    temporary.rename(target)
    return target


def _root_owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mtime = oci.EPOCH
    return info
