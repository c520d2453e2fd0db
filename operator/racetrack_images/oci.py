"""Write OCI images with the standard library, and push them with ``registry``.

Why not buildah or umoci: they would need their own storage setup (and buildah a running
user namespace story) for what is, here, three steps: tar a folder into a gzip layer, write
a config and a manifest that name the layers by digest, upload the blobs. Doing it in Python
keeps the recipe readable in one place, lets a job image reuse the base image's layers by
digest (the registry already has them, so a push uploads only the small job layer), and
needs nothing but the distribution registry on the other end.

Layers are written with sorted entries, root ownership and a fixed mtime, so the same input
gives the same digest and a rebuild never re-uploads what the registry already has.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from racetrack_images.registry import Reference, Registry

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
#: A fixed timestamp for every file and the image config, so builds are reproducible.
EPOCH = 0
CREATED = "1970-01-01T00:00:00Z"
HISTORY_AUTHOR = "racetrack-operator"
#: The one extended attribute layers carry: file capabilities (``newuidmap`` needs its own to
#: map a rootless builder's user namespace). tar records it as a PAX header, as GNU tar does.
CAPABILITY_XATTR = "security.capability"
PAX_CAPABILITY = "SCHILY.xattr." + CAPABILITY_XATTR


@dataclass(frozen=True)
class Blob:
    digest: str
    size: int
    media_type: str

    def descriptor(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


@dataclass(frozen=True)
class Layer:
    blob: Blob
    #: Digest of the uncompressed tar (the config's ``rootfs.diff_ids``).
    diff_id: str


@dataclass(frozen=True)
class ImageConfig:
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    env: list[str] = field(
        default_factory=lambda: [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        ]
    )
    working_dir: str | None = None
    exposed_ports: list[int] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    #: The signal that stops the container (systemd as PID 1 wants ``SIGRTMIN+3``).
    stop_signal: str | None = None


def config_document(config: ImageConfig, layers: list[Layer]) -> dict[str, Any]:
    """The OCI image config JSON for ``layers`` (pure)."""
    runtime: dict[str, Any] = {"Env": config.env}
    if config.entrypoint is not None:
        runtime["Entrypoint"] = config.entrypoint
    if config.cmd is not None:
        runtime["Cmd"] = config.cmd
    if config.working_dir:
        runtime["WorkingDir"] = config.working_dir
    if config.exposed_ports:
        runtime["ExposedPorts"] = {f"{port}/tcp": {} for port in config.exposed_ports}
    if config.labels:
        runtime["Labels"] = dict(config.labels)
    if config.stop_signal:
        runtime["StopSignal"] = config.stop_signal
    return {
        "created": CREATED,
        "architecture": "amd64",
        "os": "linux",
        "config": runtime,
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        # One entry per layer: tools that rebuild on top of an image (buildah --layers)
        # refuse a config whose history does not account for its layers.
        "history": [{"created": CREATED, "created_by": HISTORY_AUTHOR} for _ in layers],
    }


def manifest_document(config: Blob, layers: list[Layer]) -> dict[str, Any]:
    return {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": config.descriptor(),
        "layers": [layer.blob.descriptor() for layer in layers],
    }


def canonical_json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def _temporary(directory: Path) -> Path:
    """A new empty file with a unique name in ``directory`` (renamed into place later)."""
    descriptor, name = tempfile.mkstemp(suffix=".tmp", dir=directory)
    os.close(descriptor)
    return Path(name)


class BlobStore:
    """An OCI image layout folder (``oci-layout``, ``index.json``, ``blobs/sha256/...``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        layout = root / "oci-layout"
        if not layout.exists():
            layout.write_text('{"imageLayoutVersion":"1.0.0"}')

    def path(self, digest: str) -> Path:
        return self.root / "blobs" / "sha256" / digest.removeprefix("sha256:")

    def put_bytes(self, data: bytes, media_type: str) -> Blob:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if not target.exists():
            temporary = _temporary(self.root / "blobs")
            temporary.write_bytes(data)
            temporary.rename(target)
        return Blob(digest, len(data), media_type)

    def put_json(self, document: dict[str, Any], media_type: str) -> Blob:
        return self.put_bytes(canonical_json(document), media_type)

    def add_layer(self, write_tar: Callable[[tarfile.TarFile], None]) -> Layer:
        """Build a gzip layer from whatever ``write_tar`` adds to a tar stream."""
        # A unique temporary name: two clusters may build images into one store at once.
        temporary = _temporary(self.root / "blobs")
        raw_hash = hashlib.sha256()
        with temporary.open("wb") as raw_file:
            hashing = _HashingWriter(raw_file)
            # mtime=0 in the gzip header too, or the digest would change with the clock.
            with (
                gzip.GzipFile(fileobj=hashing, mode="wb", compresslevel=6, mtime=EPOCH) as gz,
                tarfile.open(fileobj=_HashingWriter(gz, raw_hash), mode="w|") as tar,
            ):
                write_tar(tar)
        digest = "sha256:" + hashing.hash.hexdigest()
        temporary.rename(self.path(digest))
        return Layer(Blob(digest, hashing.size, LAYER_TYPE), "sha256:" + raw_hash.hexdigest())

    def write_image(self, config: ImageConfig, layers: list[Layer], ref_name: str) -> Blob:
        """Write config and manifest, and record the manifest in ``index.json`` as ``ref_name``."""
        config_blob = self.put_json(config_document(config, layers), CONFIG_TYPE)
        manifest = self.put_json(manifest_document(config_blob, layers), MANIFEST_TYPE)
        index_path = self.root / "index.json"
        index: dict[str, Any] = {"schemaVersion": 2, "manifests": []}
        if index_path.exists():
            index = json.loads(index_path.read_text())
        entries = [
            m
            for m in index["manifests"]
            if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != ref_name
        ]
        entries.append(
            {
                **manifest.descriptor(),
                "annotations": {"org.opencontainers.image.ref.name": ref_name},
            }
        )
        index["manifests"] = entries
        # Rename into place: a reader (another cluster starting) never sees half a file.
        temporary = _temporary(self.root)
        temporary.write_text(json.dumps(index, indent=2))
        temporary.rename(index_path)
        return manifest

    def manifest(self, ref_name: str) -> tuple[Blob, dict[str, Any]] | None:
        """The manifest recorded as ``ref_name``, or None."""
        index_path = self.root / "index.json"
        if not index_path.exists():
            return None
        for entry in json.loads(index_path.read_text())["manifests"]:
            if entry.get("annotations", {}).get("org.opencontainers.image.ref.name") == ref_name:
                blob = Blob(entry["digest"], entry["size"], entry["mediaType"])
                if self.path(blob.digest).exists():
                    return blob, json.loads(self.path(blob.digest).read_bytes())
        return None

    def layers_of(self, ref_name: str) -> list[Layer]:
        """The layers of a stored image, with their diff ids, to build another image on top."""
        found = self.manifest(ref_name)
        if found is None:
            raise KeyError(ref_name)
        _, manifest = found
        config = json.loads(self.path(manifest["config"]["digest"]).read_bytes())
        return [
            Layer(Blob(d["digest"], d["size"], d["mediaType"]), diff_id)
            for d, diff_id in zip(manifest["layers"], config["rootfs"]["diff_ids"], strict=True)
        ]


class _HashingWriter(io.RawIOBase):
    """A write-only stream that hashes and counts what passes through it."""

    def __init__(self, target: IO[bytes] | gzip.GzipFile, hash_: Any = None) -> None:
        self.target = target
        self.hash = hash_ if hash_ is not None else hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.hash.update(view)
        self.size += len(view)
        self.target.write(view)
        return len(view)


def _normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mtime = EPOCH
    return info


def add_tree(
    tar: tarfile.TarFile,
    source: Path,
    prefix: str = "",
    exclude: Callable[[str], bool] = lambda _: False,
    *,
    root_owned: bool = False,
) -> None:
    """Add ``source``'s contents under ``prefix`` (sorted, fixed mtime).

    Ownership is kept as it is on disk (a debootstrap root filesystem has a few files that
    are not root's, and they must stay so) unless ``root_owned``, which makes every entry
    root's (files a build wrote as whatever user it ran as). Symlinks stay symlinks; device
    nodes and fifos are skipped (the container runtime provides /dev); a file capability
    is kept (see ``CAPABILITY_XATTR``).
    """
    for directory, dirnames, filenames in os.walk(source):
        dirnames.sort()
        relative_dir = Path(directory).relative_to(source)
        for name in [*sorted(dirnames), *sorted(filenames)]:
            relative = (relative_dir / name).as_posix()
            if exclude(relative):
                if name in dirnames:
                    dirnames.remove(name)
                continue
            path = Path(directory) / name
            arcname = f"{prefix}/{relative}" if prefix else relative
            info = tar.gettarinfo(str(path), arcname)
            if info.ischr() or info.isblk() or info.isfifo():
                continue
            info.mtime = EPOCH
            if root_owned:
                _normalise(info)
            if info.isreg() and (capability := _capability(path)) is not None:
                # Bytes in a PAX header: tarfile writes them back unchanged from this form.
                info.pax_headers = {PAX_CAPABILITY: capability.decode("utf-8", "surrogateescape")}
            if info.isreg():
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)


def _capability(path: Path) -> bytes | None:
    try:
        return os.getxattr(path, CAPABILITY_XATTR, follow_symlinks=False)
    except OSError:
        return None


def add_file(tar: tarfile.TarFile, arcname: str, data: bytes, mode: int = 0o644) -> None:
    info = _normalise(tarfile.TarInfo(arcname))
    info.size = len(data)
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))


def add_directory(tar: tarfile.TarFile, arcname: str, mode: int = 0o755) -> None:
    info = _normalise(tarfile.TarInfo(arcname))
    info.type = tarfile.DIRTYPE
    info.mode = mode
    tar.addfile(info)


def push(store: BlobStore, ref_name: str, target: Reference, registry: Registry) -> str:
    """Upload a stored image's blobs (skipping those the registry has) and its manifest under
    ``target``'s tag; returns the manifest digest."""
    found = store.manifest(ref_name)
    if found is None:
        raise KeyError(ref_name)
    manifest_blob, manifest = found
    for descriptor in [manifest["config"], *manifest["layers"]]:
        registry.upload_blob(
            target.repository, descriptor["digest"], store.path(descriptor["digest"])
        )
    body = store.path(manifest_blob.digest).read_bytes()
    registry.put_manifest(target.repository, target.reference, body, MANIFEST_TYPE)
    return manifest_blob.digest
