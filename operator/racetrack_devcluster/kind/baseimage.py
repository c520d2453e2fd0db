"""kind's base image, made here: a debootstrap'ed Debian with systemd and a container runtime.

kind's own base image is Debian with systemd, containerd, runc, crictl and the CNI plugins,
plus kind's files: the entrypoint that fixes cgroups, mounts and DNS before handing over to
systemd, the kubelet and containerd units, and the containerd configuration. We make the
same from Debian's packages (containerd 1.6, runc, containernetworking-plugins; the config
format kind writes, version 2, is containerd 1.6's), crictl from its Go module, and kind's
files read from the kind module in the Go module cache (the same release as our ``kind``),
so the node behaves as kind expects without anything being downloaded but packages.

Where ours differs, and why:
- containerd is Debian's at ``/usr/bin`` (``/usr/local/bin`` links to it, where kind's unit
  looks), the CNI plugins are Debian's at ``/usr/lib/cni`` (``/opt/cni/bin`` links to it);
- the sandbox image in containerd's configuration is the pause image kubeadm names (ours);
- containerd's unit does not lower its OOM score (``OOMScoreAdjust=-999``): where the machine
  drops ``CAP_SYS_RESOURCE`` systemd could not apply it and containerd would never start.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from racetrack_devcluster import versions
from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.kind import archive
from racetrack_devcluster.realnode import baseimage
from racetrack_images import oci

RECIPE_VERSION = "1"
PACKAGES = (
    "systemd",
    "conntrack",
    "iptables",
    "nftables",
    "iproute2",
    "ethtool",
    "mount",
    "kmod",
    "libseccomp2",
    "pigz",
    "bash",
    "ca-certificates",
    "curl",
    "jq",
    "procps",
    "containerd",
    "runc",
    "containernetworking-plugins",
)
#: Folders kept empty in the image (the runtime mounts over them) and caches nobody reads.
_EMPTIED = ("proc/", "sys/", "dev/", "run/", "tmp/", "var/cache/apt/", "var/lib/apt/lists/")
_DROPPED = ("usr/share/doc/", "usr/share/man/", "usr/share/info/", "usr/share/locale/")
#: Units that make no sense in a container (as kind's Dockerfile removes them).
_UNWANTED_WANTS = (
    "lib/systemd/system/multi-user.target.wants",
    "etc/systemd/system/multi-user.target.wants",
    "etc/systemd/system/sockets.target.wants",
    "etc/systemd/system/timers.target.wants",
    "etc/systemd/system/getty.target.wants",
    "lib/systemd/system/local-fs.target.wants",
    "lib/systemd/system/basic.target.wants",
)

Progress = Callable[[str], None]


class KindBaseImageError(RuntimeError):
    """A step of kind's base image failed; the message names it."""


def kind_files() -> Path:
    """kind's base image files, in the kind module of the Go module cache."""
    modcache = subprocess.run(
        ["go", "env", "GOMODCACHE"], capture_output=True, text=True, check=True
    ).stdout.strip()
    files = Path(modcache) / f"sigs.k8s.io/kind@{versions.KIND_VERSION}/images/base/files"
    if not files.is_dir():
        # Building kind puts its module there; ask for it if the cache was cleaned since.
        subprocess.run(
            ["go", "mod", "download", f"sigs.k8s.io/kind@{versions.KIND_VERSION}"],
            capture_output=True,
            check=True,
        )
    return files


def excluded(relative: str) -> bool:
    """Leave out what is below ``_EMPTIED`` (not the folders) and all of ``_DROPPED`` (pure)."""
    with_slash = relative + "/"
    if any(relative.startswith(prefix) for prefix in _EMPTIED):
        return True
    return any(with_slash.startswith(prefix) for prefix in _DROPPED)


def containerd_config(kind_config: str, sandbox_image: str) -> str:
    """kind's containerd configuration with our sandbox image (pure)."""
    lines = []
    for line in kind_config.splitlines():
        if line.strip().startswith("sandbox_image"):
            indent = line[: len(line) - len(line.lstrip())]
            line = f'{indent}sandbox_image = "{sandbox_image}"'
        lines.append(line)
    return "\n".join(lines) + "\n"


def without_oom_score_adjust(unit: str) -> str:
    """A systemd unit without its ``OOMScoreAdjust=`` line (pure)."""
    kept = [line for line in unit.splitlines() if not line.startswith("OOMScoreAdjust=")]
    return "\n".join(kept) + "\n"


def base_runtime_spec(ctr_spec: dict[str, Any]) -> dict[str, Any]:
    """containerd's default OCI spec as kind adjusts it: its product-file hook, no rlimits."""
    spec = json.loads(json.dumps(ctr_spec))
    hooks = spec.setdefault("hooks", {})
    hooks.setdefault("createContainer", []).append({"path": "/kind/bin/mount-product-files.sh"})
    spec.get("process", {}).pop("rlimits", None)
    result: dict[str, Any] = spec
    return result


def image_config() -> oci.ImageConfig:
    return oci.ImageConfig(
        entrypoint=["/usr/local/bin/entrypoint", "/sbin/init"],
        env=[
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            # systemd checks it to know it runs in a container.
            "container=docker",
        ],
        stop_signal="SIGRTMIN+3",
        labels={"io.racetrack.recipe": f"kind-base-{baseimage.SUITE}-{RECIPE_VERSION}"},
    )


def _copy_kind_files(source: Path, rootfs: Path) -> None:
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        target = rootfs / relative
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            target.chmod(0o755)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        executable = relative.parts[:3] == ("usr", "local", "bin") or relative.parts[:2] == (
            "kind",
            "bin",
        )
        target.chmod(0o755 if executable else 0o644)


def _chroot(rootfs: Path, *argv: str) -> str:
    result = subprocess.run(
        ["chroot", str(rootfs), *argv], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise KindBaseImageError(f"{' '.join(argv)} in the base image failed: {result.stderr}")
    return result.stdout


def _link(rootfs: Path, link: str, target: str) -> None:
    path = rootfs / link
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or path.exists():
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    path.symlink_to(target)


def prepare_rootfs(rootfs: Path, files: Path, crictl: Path, sandbox_image: str) -> None:
    """Turn a debootstrap'ed root filesystem into kind's base image (as its Dockerfile does)."""
    _copy_kind_files(files, rootfs)
    unit = rootfs / "etc/systemd/system/containerd.service"
    unit.write_text(without_oom_score_adjust(unit.read_text()))
    config = rootfs / "etc/containerd/config.toml"
    config.write_text(containerd_config(config.read_text(), sandbox_image))
    for name in ("containerd", "ctr", "containerd-shim-runc-v2"):
        _link(rootfs, f"usr/local/bin/{name}", f"/usr/bin/{name}")
    _link(rootfs, "opt/cni/bin", "/usr/lib/cni")
    shutil.copyfile(crictl, rootfs / "usr/local/bin/crictl")
    (rootfs / "usr/local/bin/crictl").chmod(0o755)
    spec = json.loads(_chroot(rootfs, "ctr", "oci", "spec"))
    (rootfs / "etc/containerd/cri-base.json").write_text(
        json.dumps(base_runtime_spec(spec), indent=2) + "\n"
    )
    for wants in _UNWANTED_WANTS:
        for entry in (rootfs / wants).glob("*") if (rootfs / wants).is_dir() else []:
            entry.unlink()
    for unit in (rootfs / "lib/systemd/system/sysinit.target.wants").glob(
        "systemd-tmpfiles-setup.service"
    ):
        unit.unlink()
    for pattern in ("*udev*", "*initctl*"):
        for unit in (rootfs / "lib/systemd/system/sockets.target.wants").glob(pattern):
            unit.unlink()
    with (rootfs / "etc/systemd/journald.conf").open("a") as journald:
        journald.write("ReadKMsg=no\n")
    _link(rootfs, "sbin/init", "/usr/lib/systemd/systemd")
    _chroot(
        rootfs,
        "systemctl",
        "enable",
        "kubelet.service",
        "containerd.service",
        "undo-mount-hacks.service",
    )
    _chroot(rootfs, "systemctl", "mask", "systemd-binfmt.service")
    (rootfs / "etc/kubernetes/manifests").mkdir(parents=True, exist_ok=True)
    # debootstrap leaves the build machine's name and resolver; the runtime provides both.
    for leftover in ("etc/hostname", "etc/resolv.conf"):
        (rootfs / leftover).unlink(missing_ok=True)


def key(files: Path, crictl: Path, sandbox_image: str) -> str:
    parts = [RECIPE_VERSION, baseimage.SUITE, baseimage.mirror(), sandbox_image, *PACKAGES]
    for path in sorted(files.rglob("*")):
        if path.is_file():
            parts.append(
                f"{path.relative_to(files)}:{hashlib.sha256(path.read_bytes()).hexdigest()}"
            )
    parts.append(hashlib.sha256(crictl.read_bytes()).hexdigest())
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def ensure(
    cache: BinaryCache, store: oci.BlobStore, crictl: Path, sandbox_image: str, progress: Progress
) -> str:
    """Make kind's base image in ``store`` unless it is there; returns its ref name."""
    files = kind_files()
    ref_name = f"kind-base-{key(files, crictl, sandbox_image)}"
    if archive.complete(store, ref_name):
        return ref_name
    progress(
        f"Building kind's base image (Debian {baseimage.SUITE} with systemd, containerd, runc "
        "and the CNI plugins; first time only, several minutes)"
    )
    started = time.monotonic()
    work_dir = cache.cache_dir / "images" / "work"
    log_path = cache.log_dir / "kind-base-debootstrap.log"
    with baseimage.debootstrapped(work_dir, PACKAGES, log_path) as rootfs:
        prepare_rootfs(rootfs, files, crictl, sandbox_image)
        layer = store.add_layer(lambda tar: oci.add_tree(tar, rootfs, exclude=excluded))
    store.write_image(image_config(), [layer], ref_name)
    progress(f"Built kind's base image in {time.monotonic() - started:.0f} s")
    return ref_name


def running_as_root() -> bool:
    return os.geteuid() == 0
