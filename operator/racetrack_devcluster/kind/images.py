"""The images kubeadm and kind run in a node, made here under the names they pull.

kubeadm asks for ``registry.k8s.io/{kube-apiserver,kube-controller-manager,kube-scheduler,
kube-proxy}:<version>``, ``etcd:<tag>``, ``coredns/coredns:<tag>`` and ``pause:<tag>``; we ask
kubeadm itself (``kubeadm config images list``) and make each one from our binaries, so a
name kubeadm expects and we cannot make is an error at build time, not a pull that hangs in
a node with no network. Beside them: our pod network daemon (see ``gomod/kind-cni``).

Three kinds of image:

- **static**: a Go binary on a minimal layer (``/etc/passwd``, ``/etc/group``,
  ``/etc/nsswitch.conf``, ``/tmp``), like the distroless images upstream uses: the API
  server, controller manager, scheduler, etcd and CoreDNS; pause reuses the real node's.
- **tools**: a binary on ``debootstrap --variant=minbase`` of Debian with iptables,
  conntrack and iproute2, for what drives the node's network: kube-proxy and kind-cni.
"""

from __future__ import annotations

import hashlib
import subprocess
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from racetrack_devcluster import versions
from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.kind import archive, tools
from racetrack_devcluster.realnode import baseimage, pause
from racetrack_images import oci

RECIPE_VERSION = "1"
TOOLS_PACKAGES = ("iptables", "conntrack", "iproute2", "nftables", "kmod")
KIND_CNI_IMAGE = f"registry.racetrack.local/kind-cni:{tools.KIND_CNI_BUILD}"
#: The Debian-based layer kube-proxy and kind-cni share, excluding what nobody reads.
_TOOLS_EXCLUDES = baseimage.excluded_from_os

Progress = Callable[[str], None]


class ImageError(RuntimeError):
    """An image kubeadm or kind needs cannot be made; the message says which and why."""


@dataclass(frozen=True)
class Component:
    """How one image is made: its binary, where it goes, and whether it needs the tools OS."""

    binary: Path
    path: str
    entrypoint: list[str] | None = None
    tools_os: bool = False


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def kubeadm_images(kubeadm: Path) -> list[str]:
    """The images kubeadm pulls for our Kubernetes version (asked offline: the version is given)."""
    result = subprocess.run(
        [
            str(kubeadm),
            "config",
            "images",
            "list",
            "--kubernetes-version",
            versions.KUBERNETES_VERSION,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise ImageError(f"kubeadm config images list failed: {result.stderr.strip()}")
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]


def repository_of(name: str) -> str:
    """The last path element of an image name without its tag (pure)."""
    return name.rsplit("/", 1)[-1].split(":", 1)[0]


def expected_tag(component: str) -> str | None:
    """The tag our build of ``component`` carries, when it is not the Kubernetes version."""
    return {
        "etcd": versions.KUBEADM_ETCD_VERSION.lstrip("v") + "-0",
        "coredns": versions.COREDNS_VERSION,
    }.get(component)


def static_ref_name() -> str:
    """The minimal image under the static binaries (in the store once any is made)."""
    return f"kind-static-{RECIPE_VERSION}"


class ComponentImages:
    """Writes the node's images into the cache's OCI store; returns full name -> ref name."""

    def __init__(self, cache: BinaryCache, progress: Progress) -> None:
        self.cache = cache
        self.store = oci.BlobStore(cache.cache_dir / "images" / "oci")
        self.progress = progress

    def components(self, kind_tools: tools.KindTools) -> dict[str, Component]:
        control_plane = self.cache.binaries()
        node = self.cache.node_binaries()
        return {
            "kube-apiserver": Component(
                control_plane.kube_apiserver, "usr/local/bin/kube-apiserver"
            ),
            "kube-controller-manager": Component(
                control_plane.kube_controller_manager, "usr/local/bin/kube-controller-manager"
            ),
            "kube-scheduler": Component(
                control_plane.kube_scheduler, "usr/local/bin/kube-scheduler"
            ),
            "kube-proxy": Component(node.kube_proxy, "usr/local/bin/kube-proxy", tools_os=True),
            "etcd": Component(kind_tools.etcd, "usr/local/bin/etcd"),
            "coredns": Component(kind_tools.coredns, "coredns", entrypoint=["/coredns"]),
            "kind-cni": Component(
                kind_tools.kind_cni, "usr/local/bin/kind-cni", ["/usr/local/bin/kind-cni"], True
            ),
        }

    def ensure(self, kind_tools: tools.KindTools) -> dict[str, str]:
        wanted = [*kubeadm_images(kind_tools.kubeadm), KIND_CNI_IMAGE]
        components = self.components(kind_tools)
        images: dict[str, str] = {}
        for name in wanted:
            component = repository_of(name)
            if component == "pause":
                images[name] = pause.ensure_image(self.store, self.cache.node_binaries().pause)
                continue
            if component not in components:
                raise ImageError(f"kubeadm expects {name}, which we do not know how to make")
            tag = expected_tag(component)
            if tag is not None and not name.endswith(f":{tag}"):
                raise ImageError(
                    f"kubeadm expects {name}, but we build {component} {tag}: update "
                    "racetrack_devcluster/versions.py to kubeadm's version"
                )
            images[name] = self._ensure_component(name, components[component])
        return images

    def _ensure_component(self, name: str, component: Component) -> str:
        ref_name = "kind-" + _digest(
            RECIPE_VERSION, name, component.path, _file_digest(component.binary)
        )
        if archive.complete(self.store, ref_name):
            return ref_name
        base = self._tools_layers() if component.tools_os else self._static_layer()
        data = component.binary.read_bytes()

        def write(tar: tarfile.TarFile) -> None:
            parents = Path(component.path).parents
            for parent in reversed(parents[:-1]):
                oci.add_directory(tar, parent.as_posix())
            oci.add_file(tar, component.path, data, mode=0o755)

        layer = self.store.add_layer(write)
        config = oci.ImageConfig(entrypoint=component.entrypoint)
        self.store.write_image(config, [*base, layer], ref_name)
        self.progress(f"Made image {name}")
        return ref_name

    def _static_layer(self) -> list[oci.Layer]:
        ref_name = static_ref_name()
        if not archive.complete(self.store, ref_name):

            def write(tar: tarfile.TarFile) -> None:
                oci.add_directory(tar, "etc")
                oci.add_file(
                    tar,
                    "etc/passwd",
                    b"root:x:0:0:root:/root:/sbin/nologin\n"
                    b"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n",
                )
                oci.add_file(tar, "etc/group", b"root:x:0:\nnogroup:x:65534:\n")
                oci.add_file(tar, "etc/nsswitch.conf", b"hosts: files dns\n")
                oci.add_directory(tar, "root", mode=0o700)
                oci.add_directory(tar, "tmp", mode=0o1777)
                oci.add_directory(tar, "usr")
                oci.add_directory(tar, "usr/local")
                oci.add_directory(tar, "usr/local/bin")

            self.store.write_image(oci.ImageConfig(), [self.store.add_layer(write)], ref_name)
        return self.store.layers_of(ref_name)

    def _tools_layers(self) -> list[oci.Layer]:
        ref_name = "kind-tools-os-" + _digest(
            RECIPE_VERSION, baseimage.SUITE, *TOOLS_PACKAGES, baseimage.mirror()
        )
        if not archive.complete(self.store, ref_name):
            self.progress(
                f"Building the node tools image (Debian {baseimage.SUITE} + "
                f"{', '.join(TOOLS_PACKAGES)}; first time only, several minutes)"
            )
            log_path = self.cache.log_dir / "kind-tools-debootstrap.log"
            work_dir = self.cache.cache_dir / "images" / "work"
            with baseimage.debootstrapped(work_dir, TOOLS_PACKAGES, log_path) as rootfs:
                layer = self.store.add_layer(
                    lambda tar: oci.add_tree(tar, rootfs, exclude=_TOOLS_EXCLUDES)
                )
            self.store.write_image(oci.ImageConfig(), [layer], ref_name)
        return self.store.layers_of(ref_name)
