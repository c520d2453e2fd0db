"""The kind node image, made here: kind's base image, our Kubernetes, every image preloaded.

Layers, each cached by what it is made of (a version bump rebuilds what changed, nothing
else):

1. kind's base image (:mod:`.baseimage`);
2. **kubernetes**: ``kubeadm``, ``kubelet`` and ``kubectl`` in ``/usr/bin`` (where kind's
   units look), ``/kind/version``, and the pod network manifest kind applies
   (``/kind/manifests/default-cni.yaml``);
3. **preloaded**: containerd's content store at ``/var/lib/containerd`` holding every image
   kubeadm and the pod network run (:mod:`.images`), as ``kind build node-image`` leaves it.
   We fill it with the machine's own containerd (Debian's, the same release as the node's),
   run on a private root and socket with its CRI plugin off, and ``ctr images import
   --no-unpack``: the node unpacks an image the first time a container needs it.

The image is recorded in the store only once every layer is written, so an interrupted build
is never half-used: the next run finds no image and builds again. Its Docker name carries its
content key (``racetrack/kind-node:v1.37.2-<key>``), so a node image made from other
versions is never mistaken for this one.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from racetrack_devcluster import versions
from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.kind import archive, baseimage, images, tools
from racetrack_devcluster.realnode.containerd import SOCKET_ROOT
from racetrack_images import oci

RECIPE_VERSION = "1"
REPOSITORY = "racetrack/kind-node"
CNI_MANIFEST = Path(__file__).parent / "manifests" / "kind-cni.yaml"
CONTAINERD = "/usr/bin/containerd"
CTR = "/usr/bin/ctr"

Progress = Callable[[str], None]


class NodeImageError(RuntimeError):
    """The node image could not be made; the message says which step and where its log is."""


@dataclass(frozen=True)
class NodeImage:
    #: The name Docker and kind know it by.
    name: str
    #: Its ref name in the OCI store.
    ref_name: str
    #: Every image preloaded in it, by full name.
    preloaded: tuple[str, ...]


def cni_manifest(image: str) -> str:
    return CNI_MANIFEST.read_text().replace("image: IMAGE", f"image: {image}")


def _hash_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def node_key(parts: list[str]) -> str:
    return hashlib.sha256("\0".join([RECIPE_VERSION, *parts]).encode()).hexdigest()[:12]


class NodeImageBuilder:
    def __init__(self, cache: BinaryCache, progress: Progress) -> None:
        self.cache = cache
        self.progress = progress
        self.store = oci.BlobStore(cache.cache_dir / "images" / "oci")
        self.work_dir = cache.cache_dir / "images" / "work"

    def ensure(self) -> NodeImage:
        """Make whatever is missing (slow only the first time) and return the node image."""
        cache = self.cache
        control_plane = cache.ensure()
        node = cache.ensure_node()
        kind_tools = tools.ensure(cache)
        preloaded = images.ComponentImages(cache, self.progress).ensure(kind_tools)
        sandbox = next(name for name in preloaded if images.repository_of(name) == "pause")
        base = baseimage.ensure(cache, self.store, kind_tools.crictl, sandbox, self.progress)
        binaries = {
            "kubeadm": kind_tools.kubeadm,
            "kubelet": node.kubelet,
            "kubectl": control_plane.kubectl,
        }
        manifest = cni_manifest(images.KIND_CNI_IMAGE)
        key = node_key(
            [
                base,
                manifest,
                *(f"{name}={ref}" for name, ref in sorted(preloaded.items())),
                *(f"{name}={_hash_file(path)}" for name, path in binaries.items()),
            ]
        )
        image = NodeImage(
            name=f"{REPOSITORY}:{versions.KUBERNETES_VERSION}-{key}",
            ref_name=f"kind-node-{key}",
            preloaded=tuple(sorted(preloaded)),
        )
        if archive.complete(self.store, image.ref_name):
            return image
        self.progress(f"Building the kind node image {image.name}")
        started = time.monotonic()

        def write_kubernetes(tar: tarfile.TarFile) -> None:
            for name, path in binaries.items():
                oci.add_file(tar, f"usr/bin/{name}", path.read_bytes(), mode=0o755)
            oci.add_file(tar, "kind/version", versions.KUBERNETES_VERSION.encode())
            oci.add_directory(tar, "kind/manifests")
            oci.add_file(tar, "kind/manifests/default-cni.yaml", manifest.encode())

        kubernetes_layer = self.store.add_layer(write_kubernetes)
        preload_layer = self._preload_layer(preloaded)
        layers = [*self.store.layers_of(base), kubernetes_layer, preload_layer]
        self.store.write_image(baseimage.image_config(), layers, image.ref_name)
        self.progress(f"Built the kind node image in {time.monotonic() - started:.0f} s")
        return image

    def _preload_layer(self, preloaded: dict[str, str]) -> oci.Layer:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="kind-preload-", dir=self.work_dir))
        try:
            bundle = archive.write(self.store, preloaded, staging / "images.tar")
            root = staging / "containerd"
            with _private_containerd(root, self.cache.log_dir / "kind-preload.log") as socket:
                ctr = [CTR, f"--address={socket}", "--namespace=k8s.io", "images"]
                _run(*ctr, "import", "--no-unpack", "--all-platforms", str(bundle))
                # Pinned, as kind pins what it preloads: the kubelet's image garbage
                # collection never removes them, since a node could not pull them back.
                for name in preloaded:
                    _run(*ctr, "label", name, "io.cri-containerd.pinned=pinned")
            return self.store.add_layer(
                lambda tar: oci.add_tree(tar, root, prefix="var/lib/containerd")
            )
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _run(*argv: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise NodeImageError(f"{' '.join(argv[3:6])} failed: {result.stderr.strip()}")


@contextlib.contextmanager
def _private_containerd(root: Path, log_path: Path) -> Iterator[str]:
    """The machine's containerd on its own root and socket, CRI off; stopped on exit."""
    socket_dir = Path(tempfile.mkdtemp(prefix="kind-preload-", dir=_socket_root()))
    config = root.parent / "containerd.toml"
    socket = socket_dir / "containerd.sock"
    config.write_text(
        "version = 2\n"
        f'root = "{root}"\n'
        f'state = "{socket_dir / "state"}"\n'
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
        f'[grpc]\n  address = "{socket}"\n'
    )
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [CONTAINERD, "--config", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while not socket.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise NodeImageError(f"containerd for preloading did not start; log: {log_path}")
            time.sleep(0.2)
        yield str(socket)
    finally:
        # A clean stop closes containerd's metadata database before the layer is written.
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(socket_dir, ignore_errors=True)


def _socket_root() -> Path:
    SOCKET_ROOT.mkdir(parents=True, exist_ok=True)
    return SOCKET_ROOT
