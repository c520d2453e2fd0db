"""A job's folder as an OCI artifact in a registry, and back.

``pack`` writes the folder (as ``git add .`` would see it, see ``gitignore``) into one
reproducible gzip tar: sorted entries, root ownership, a fixed time, and file modes reduced
to 0644 or 0755, so the same files always give the same digest and re-pushing an unchanged
folder changes nothing. The manifest names the artifact type, so a build refuses a
reference to anything else with a clear message. A Job names the artifact by digest: the
source of a build is immutable, which is what GitOps tools expect of a manifest.

``unpack`` extracts such an artifact in a build pod, refusing members that would land outside
the target folder.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from racetrack_images import gitignore, oci
from racetrack_images.registry import MANIFEST_TYPE, Reference, Registry, RegistryError

ARTIFACT_TYPE = "application/vnd.racetrack.source.v1"
EMPTY_CONFIG_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY_CONFIG = b"{}"
TITLE = "org.opencontainers.image.title"
ARCHIVE_NAME = "source.tar.gz"


class SourceError(ValueError):
    """The folder cannot be packed, or the artifact is not a job's source."""


@dataclass(frozen=True)
class Packed:
    manifest: bytes
    layer: oci.Blob
    files: int

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.manifest).hexdigest()


def included_files(root: Path) -> list[str]:
    """Paths (relative, sorted) of what would be packed: files and symlinks, not ignored."""
    found: list[str] = []
    rules: list[gitignore.Rule] = []
    for directory, dirnames, filenames in os.walk(root):
        relative_dir = Path(directory).relative_to(root).as_posix()
        prefix = "" if relative_dir == "." else relative_dir
        ignore_file = Path(directory) / ".gitignore"
        if ignore_file.is_file():
            rules = [*rules, *gitignore.parse(ignore_file.read_text(errors="replace"), prefix)]
        # git stores a link to a folder as a link, like a file: so do we.
        linked = [name for name in dirnames if (Path(directory) / name).is_symlink()]
        dirnames[:] = sorted(
            name
            for name in dirnames
            if name not in linked
            and not gitignore.ignored(rules, f"{prefix}/{name}" if prefix else name, is_dir=True)
        )
        for name in sorted([*filenames, *linked]):
            path = f"{prefix}/{name}" if prefix else name
            mode = os.lstat(Path(directory) / name).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
                continue
            if not gitignore.ignored(rules, path, is_dir=False):
                found.append(path)
    return sorted(found)


def pack(root: Path, store: oci.BlobStore) -> Packed:
    """Write the folder's artifact (layer and manifest) into ``store``."""
    if not root.is_dir():
        raise SourceError(f"{root} is not a folder")
    files = included_files(root)
    if not files:
        raise SourceError(f"{root} has no files to build (all are missing or ignored)")

    def write(tar: tarfile.TarFile) -> None:
        directories: set[str] = set()
        for relative in files:
            for parent in reversed(PurePosixPath(relative).parents[:-1]):
                if str(parent) not in directories:
                    directories.add(str(parent))
                    oci.add_directory(tar, str(parent))
            path = root / relative
            info = tar.gettarinfo(str(path), relative)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = oci.EPOCH
            if info.issym():
                tar.addfile(info)
                continue
            info.mode = 0o755 if info.mode & 0o111 else 0o644
            with path.open("rb") as handle:
                tar.addfile(info, handle)

    layer = store.add_layer(write)
    config = store.put_bytes(EMPTY_CONFIG, EMPTY_CONFIG_TYPE)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "artifactType": ARTIFACT_TYPE,
        "config": config.descriptor(),
        "layers": [{**layer.blob.descriptor(), "annotations": {TITLE: ARCHIVE_NAME}}],
    }
    body = oci.canonical_json(manifest)
    store.put_bytes(body, MANIFEST_TYPE)
    return Packed(body, layer.blob, len(files))


def push(packed: Packed, store: oci.BlobStore, target: Reference, registry: Registry) -> Reference:
    """Upload the artifact and tag it (``target``'s tag); returns its reference by digest."""
    config = json.loads(packed.manifest)["config"]
    registry.upload_blob(target.repository, config["digest"], EMPTY_CONFIG)
    registry.upload_blob(target.repository, packed.layer.digest, store.path(packed.layer.digest))
    registry.put_manifest(target.repository, target.reference, packed.manifest, MANIFEST_TYPE)
    return Reference(target.registry, target.repository, None, packed.digest)


def fetch(registry: Registry, source: Reference, target: Path, scratch: Path) -> int:
    """Download and unpack the artifact ``source`` (by digest) into ``target``; the number
    of files written."""
    if source.digest is None:
        raise SourceError(f"{source} must name the source by digest (@sha256:...)")
    found = registry.manifest(source.repository, source.digest)
    if found is None:
        raise RegistryError(f"{source}: no such artifact in the registry", 404)
    digest, body = found
    if digest != source.digest:
        raise SourceError(f"{source}: the registry answered with another manifest ({digest})")
    manifest: dict[str, Any] = json.loads(body)
    layers = manifest.get("layers") or []
    if manifest.get("artifactType") != ARTIFACT_TYPE or len(layers) != 1:
        raise SourceError(
            f"{source} is not a job's source (artifact type {manifest.get('artifactType')!r}); "
            "push a folder with `racetrack source push DIR`"
        )
    archive = scratch / "source.tar.gz"
    registry.download_blob(source.repository, layers[0]["digest"], archive)
    try:
        return unpack(archive, target)
    finally:
        archive.unlink(missing_ok=True)


def unpack(archive: Path, target: Path) -> int:
    """Extract a source archive, refusing anything that would escape ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    written = 0
    links: set[str] = set()
    with gzip.open(archive) as raw, tarfile.open(fileobj=raw, mode="r|") as tar:
        for member in tar:
            path = PurePosixPath(member.name)
            if path.is_absolute() or ".." in path.parts:
                raise SourceError(f"the source archive holds {member.name!r}, outside its folder")
            if any(str(parent) in links for parent in path.parents):
                raise SourceError(f"the source archive writes {member.name!r} through a link")
            destination = target / path
            if member.isdir():
                destination.mkdir(parents=True, exist_ok=True)
            elif member.issym():
                links.add(str(path))
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.symlink_to(member.linkname)
            elif member.isreg():
                destination.parent.mkdir(parents=True, exist_ok=True)
                extracted = tar.extractfile(member)
                assert extracted is not None
                with destination.open("wb") as out:
                    while chunk := extracted.read(1 << 20):
                        out.write(chunk)
                destination.chmod(0o755 if member.mode & 0o111 else 0o644)
                written += 1
    return written
