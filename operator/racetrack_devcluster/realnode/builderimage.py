"""The build pods' images, made here like the base image and pushed to the local registry.

- **builder** (``racetrack/builder``): Debian bookworm with Python 3.11 (the base image's),
  pip, git and the CA certificates, plus ``racetrack_builder`` and ``racetrack_images`` and a
  ``racetrack-builder`` command. It fetches sources and composes python3 images; its pip
  installs requirements for exactly the Python the job will run on.
- **buildkit** (``racetrack/buildkit``): the builder's layers plus BuildKit's ``buildkitd``
  and ``buildctl`` and RootlessKit, for Dockerfile builds without root. Its OS layer already
  has what rootless BuildKit needs from Debian: ``runc``, ``newuidmap``/``newgidmap`` (with
  their file capability, kept in the layer), a user 1000 with a subordinate id range.

Layers are cached by what they are made of, like the base image's: a change to the builder's
code rebuilds one small layer, in milliseconds.
"""

from __future__ import annotations

import hashlib
import os
import struct
import tarfile
from dataclasses import dataclass
from pathlib import Path

import racetrack_builder
import racetrack_images
from racetrack_devcluster.realnode import baseimage
from racetrack_images import oci

RECIPE_VERSION = "2"
OS_PACKAGES = ("python3", "python3-pip", "git", "ca-certificates", "uidmap", "runc")
BUILDER_REPOSITORY = "racetrack/builder"
BUILDKIT_REPOSITORY = "racetrack/buildkit"
#: The unprivileged users of build pods: the builder's, and rootless BuildKit's (the id its
#: upstream image uses, with the same subordinate range).
BUILDER_UID = 65532
BUILDKIT_UID = 1000
SUBORDINATE_IDS = "100000:65536"
BUILDKIT_HOME = "/home/user"
_SCRIPT = b"""#!/usr/bin/python3
import sys

from racetrack_builder.cli import main

sys.exit(main())
"""


@dataclass(frozen=True)
class BuilderImages:
    builder_ref: str
    builder_tag: str
    buildkit_ref: str | None
    buildkit_tag: str | None


def _key(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def code_files() -> dict[str, bytes]:
    """The builder's Python packages, keyed by their path under site-packages."""
    return baseimage.package_files((racetrack_builder, racetrack_images))


def os_key() -> str:
    return _key(RECIPE_VERSION, baseimage.SUITE, *OS_PACKAGES, baseimage.mirror())


def code_key() -> str:
    files = code_files()
    return _key(RECIPE_VERSION, *(f"{p}:{hashlib.sha256(d).hexdigest()}" for p, d in files.items()))


CAP_SETGID = 6
CAP_SETUID = 7
_VFS_CAP_REVISION_2 = 0x02000000
_VFS_CAP_FLAGS_EFFECTIVE = 0x000001


def file_capability(capability: int) -> bytes:
    """``security.capability`` granting one capability, permitted and effective (what
    ``setcap cap_xxx+ep`` writes: struct vfs_cap_data, revision 2)."""
    magic = _VFS_CAP_REVISION_2 | _VFS_CAP_FLAGS_EFFECTIVE
    return struct.pack("<IIIII", magic, 1 << capability, 0, 0, 0)


def prepare_rootfs(rootfs: Path) -> None:
    """Users and folders build pods need, added to the debootstrapped root filesystem."""
    users = {
        "builder": (BUILDER_UID, "/tmp", "/usr/sbin/nologin"),
        "user": (BUILDKIT_UID, BUILDKIT_HOME, "/bin/sh"),
    }
    with (rootfs / "etc/passwd").open("a") as passwd, (rootfs / "etc/group").open("a") as group:
        for name, (uid, home, shell) in users.items():
            passwd.write(f"{name}:x:{uid}:{uid}::{home}:{shell}\n")
            group.write(f"{name}:x:{uid}:\n")
    for table in ("subuid", "subgid"):
        (rootfs / "etc" / table).write_text(f"user:{SUBORDINATE_IDS}\n")
    for folder in (".local/share/buildkit", ".local/tmp"):
        (rootfs / BUILDKIT_HOME.lstrip("/") / folder).mkdir(parents=True, exist_ok=True)
    # Debian installs newuidmap/newgidmap setuid root; with only the capability each needs,
    # a rootless BuildKit maps its ids and nothing runs as root (and in pods that forbid
    # privilege escalation, the capability is simply not granted).
    for program, capability in (("newuidmap", CAP_SETUID), ("newgidmap", CAP_SETGID)):
        path = rootfs / "usr/bin" / program
        path.chmod(0o755)
        os.setxattr(path, oci.CAPABILITY_XATTR, file_capability(capability))
    (rootfs / f"run/user/{BUILDKIT_UID}").mkdir(parents=True, exist_ok=True)
    for path in [rootfs / BUILDKIT_HOME.lstrip("/"), rootfs / f"run/user/{BUILDKIT_UID}"]:
        for item in [path, *path.rglob("*")]:
            item.chmod(0o700 if item.is_dir() else item.stat().st_mode)
            os.chown(item, BUILDKIT_UID, BUILDKIT_UID)


def builder_config() -> oci.ImageConfig:
    return oci.ImageConfig(
        entrypoint=["racetrack-builder"],
        env=[
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "PYTHONUNBUFFERED=1",
            "PYTHONDONTWRITEBYTECODE=1",
            "HOME=/tmp",
        ],
        labels={"io.racetrack.recipe": f"builder-{baseimage.SUITE}-{RECIPE_VERSION}"},
    )


def buildkit_config() -> oci.ImageConfig:
    base = builder_config()
    return oci.ImageConfig(
        entrypoint=base.entrypoint,
        env=[
            *[item for item in base.env if not item.startswith("HOME=")],
            f"HOME={BUILDKIT_HOME}",
            "USER=user",
            f"XDG_RUNTIME_DIR=/run/user/{BUILDKIT_UID}",
            f"TMPDIR={BUILDKIT_HOME}/.local/tmp",
            f"BUILDKIT_HOST=unix:///run/user/{BUILDKIT_UID}/buildkit/buildkitd.sock",
        ],
        labels={"io.racetrack.recipe": f"buildkit-{baseimage.SUITE}-{RECIPE_VERSION}"},
    )


class BuilderImageBuilder(baseimage.BaseImageBuilder):
    """Makes (once) and finds the builder images in the cache's OCI store."""

    def ensure_builders(self, buildkit_binaries: Path | None) -> BuilderImages:
        os_ref = f"builder-os-{os_key()}"
        if self.store.manifest(os_ref) is None:
            self._build_os_layer(os_ref, OS_PACKAGES, prepare_rootfs, what="builder image")
        files = code_files()
        code_ref = f"builder-code-{code_key()}"
        if self.store.manifest(code_ref) is None:
            layer = self.store.add_layer(
                lambda tar: baseimage.add_packages(tar, files, "racetrack-builder", _SCRIPT)
            )
            self.store.write_image(builder_config(), [layer], code_ref)
        builder_tag = _key(os_ref, code_ref)
        builder_ref = f"builder-{builder_tag}"
        layers = [*self.store.layers_of(os_ref), *self.store.layers_of(code_ref)]
        if self.store.manifest(builder_ref) is None:
            self.store.write_image(builder_config(), layers, builder_ref)
        if buildkit_binaries is None:
            return BuilderImages(builder_ref, builder_tag, None, None)
        binaries = {path.name: path.read_bytes() for path in sorted(buildkit_binaries.iterdir())}
        tools_ref = "buildkit-bin-" + _key(
            *(f"{n}:{hashlib.sha256(d).hexdigest()}" for n, d in binaries.items())
        )
        if self.store.manifest(tools_ref) is None:
            layer = self.store.add_layer(lambda tar: _write_binaries(tar, binaries))
            self.store.write_image(buildkit_config(), [layer], tools_ref)
        buildkit_tag = _key(builder_ref, tools_ref)
        buildkit_ref = f"buildkit-{buildkit_tag}"
        if self.store.manifest(buildkit_ref) is None:
            self.store.write_image(
                buildkit_config(), [*layers, *self.store.layers_of(tools_ref)], buildkit_ref
            )
        return BuilderImages(builder_ref, builder_tag, buildkit_ref, buildkit_tag)


def _write_binaries(tar: tarfile.TarFile, binaries: dict[str, bytes]) -> None:
    oci.add_directory(tar, "usr/local/bin")
    for name, data in binaries.items():
        oci.add_file(tar, f"usr/local/bin/{name}", data, mode=0o755)
