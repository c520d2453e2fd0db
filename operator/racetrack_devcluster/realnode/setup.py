"""How the launcher grows a real node: the pieces it calls, in the order it calls them.

``LocalCluster`` stays the one launcher; with :class:`RealNodeOptions` it (1) creates the
node's network namespace before anything else, because the API server must listen on the
namespace's host-side address and its certificate must name it; (2) gives the API server
the extra flags of :func:`apiserver_args`; (3) after the scheduler, calls :func:`start`,
which starts the registry, makes sure the pause image is in it, and starts the node instead
of kwok; (4) on stop, calls :meth:`RealNodeHandle.stop` before stopping its other
components.

A node is named by a suffix (``racetrack-<suffix>``: namespace, cgroup, folder) that a
stopped cluster keeps, so starting it again finds the node's images; :func:`discard`
removes a node that is not running.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from racetrack_devcluster import pki
from racetrack_devcluster.apiclient import ApiServerClient
from racetrack_devcluster.build import NodeBinaries
from racetrack_devcluster.processes import Component, Spawn, wait_until
from racetrack_devcluster.realnode import (
    baseimage,
    builderimage,
    cgroups,
    cleanup,
    containerd,
    mirrorimages,
    pause,
    registry,
    sourceserver,
)
from racetrack_devcluster.realnode import network as netns
from racetrack_devcluster.realnode.node import RealNode, apiserver_kubelet_client
from racetrack_images import oci
from racetrack_images.registry import Reference, Registry

NODE_TIMEOUT = 120.0
#: Where each node keeps containerd's images and the kubelet's pods (on disk, short paths).
NODE_ROOT = Path("/var/lib/racetrack/nodes")


@dataclass(frozen=True)
class RealNodeOptions:
    binaries: NodeBinaries
    cache_dir: Path
    #: Pushed to the registry at start (as its tag and ``latest``) when given.
    base_image: baseimage.BaseImage | None = None
    #: The build pods' images, pushed at start too; without them the operator cannot build.
    builders: builderimage.BuilderImages | None = None

    @property
    def wheels(self) -> Path:
        """The wheel folder builds install requirements from (kept across clusters)."""
        return self.cache_dir / "wheels"

    @property
    def image_store(self) -> Path:
        return self.cache_dir / "images" / "oci"


@dataclass
class RealNodeHandle:
    network: netns.NodeNetwork
    node: RealNode | None = None
    registry_port: int = 0
    sources_port: int = 0
    #: The cluster CA's certificate, which signs the source server's (for git's sslCAInfo).
    ca_file: Path | None = None
    git_password_file: Path | None = None
    #: What the build pods run, once pushed (``registry/repository:tag``).
    builder_image: str = ""
    buildkit_image: str = ""
    base_image: str = ""

    @property
    def registry_host(self) -> str:
        """The name images are pushed and referenced by: ``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self.registry_port}"

    @property
    def registry_url(self) -> str:
        return f"http://{self.registry_host}"

    @property
    def registry_endpoint(self) -> str:
        """Where pods reach the registry: the host side of the node's veth."""
        return f"http://{self.network.host_ip}:{self.registry_port}"

    @property
    def sources_url(self) -> str:
        return f"https://{self.network.host_ip}:{self.sources_port}"

    @property
    def git_url(self) -> str:
        """``git push <git_url>/NAME.git`` creates repository NAME."""
        return f"{self.sources_url}/git"

    @property
    def wheels_url(self) -> str:
        return f"{self.sources_url}/wheels/"

    @property
    def suffix(self) -> str:
        return self.network.netns.removeprefix("racetrack-")

    def stop(self, *, keep_images: bool = False) -> None:
        if self.node is not None:
            self.node.stop(keep_images=keep_images)
        netns.destroy(self.network)


def prepare_network(suffix: str = "", host_ip: str = "") -> RealNodeHandle:
    """The node's network namespace: a stopped cluster's suffix and addresses again (where
    they are still free), or new ones."""
    # A short random suffix keeps names unique per cluster and within interface-name limits.
    return RealNodeHandle(netns.create(suffix or secrets.token_hex(3), host_ip))


def _node_paths(suffix: str) -> tuple[Path, str, Path]:
    """A node's folder, cgroup and socket folder, all named after its suffix (pure)."""
    name = f"racetrack-{suffix}"
    # Not under the cluster's folder: the kubelet binds unix sockets under its root folder,
    # and a deep work folder (a pytest tmp path, a long home) exceeds the 108-byte limit.
    return NODE_ROOT / name, name, containerd.SOCKET_ROOT / name


def discard(suffix: str) -> None:
    """Remove what a node that is not running left behind, images included."""
    base, cgroup, sockets = _node_paths(suffix)
    cleanup.kill_shims(sockets / "containerd.sock")
    cgroups.remove(cgroup)
    cleanup.unmount_all(base)
    shutil.rmtree(base, ignore_errors=True)
    shutil.rmtree(sockets, ignore_errors=True)
    netns.remove(suffix)


def apiserver_args(handle: RealNodeHandle, certs: pki.ClusterPKI) -> list[str]:
    client = apiserver_kubelet_client(certs)
    return [
        f"--bind-address={handle.network.host_ip}",
        f"--advertise-address={handle.network.host_ip}",
        # A real address: the endpoint reconciler works, and pods reach the API server
        # through the kubernetes Service.
        "--endpoint-reconciler-type=lease",
        f"--kubelet-client-certificate={client.cert}",
        f"--kubelet-client-key={client.key}",
        f"--kubelet-certificate-authority={certs.ca.cert}",
        "--kubelet-preferred-address-types=InternalIP",
    ]


def start(
    handle: RealNodeHandle,
    options: RealNodeOptions,
    certs: pki.ClusterPKI,
    server: str,
    work_dir: Path,
    registry_port: int,
    sources_port: int,
    api: ApiServerClient,
    spawn: Spawn,
    watched: list[Component],
    progress: Callable[[str], None],
) -> None:
    handle.registry_port = registry_port
    host_side = f"{handle.network.host_ip}:{registry_port}"
    config_dir = work_dir / "registry"
    # The cluster's own storage: kept while the cluster is only stopped, removed with it.
    storage = config_dir / "storage"
    spawn(
        "registry",
        registry.argv(
            registry.write_config(config_dir / "loopback.yml", storage, handle.registry_host)
        ),
        probe=lambda: registry.answers(handle.registry_url),
    )
    spawn(
        "registry-node",
        registry.argv(registry.write_config(config_dir / "node.yml", storage, host_side)),
        probe=lambda: registry.answers(f"http://{host_side}"),
    )
    wait_until("the registry", lambda: registry.answers(handle.registry_url), 30, watched)
    store = oci.BlobStore(options.image_store)
    sandbox = Reference(handle.registry_host, pause.REPOSITORY, pause.PAUSE_VERSION)
    images = Registry(handle.registry_url)
    if not images.has_manifest(sandbox.repository, sandbox.reference):
        oci.push(store, pause.ensure_image(store, options.binaries.pause), sandbox, images)
    if options.base_image is not None:
        for tag in (options.base_image.tag, baseimage.LATEST_TAG):
            target = Reference(handle.registry_host, baseimage.REPOSITORY, tag)
            oci.push(store, options.base_image.ref_name, target, images)
        handle.base_image = (
            f"{handle.registry_host}/{baseimage.REPOSITORY}:{options.base_image.tag}"
        )
        # What public Dockerfiles start FROM, under docker.io's names (see mirrorimages).
        mirrorimages.seed(store, options.base_image, handle.registry_host, images)
    if options.builders is not None:
        handle.builder_image, handle.buildkit_image = push_builders(
            store, options.builders, handle.registry_host, images
        )
    start_sources(handle, options, certs, work_dir, sources_port, spawn)
    base, cgroup, _ = _node_paths(handle.suffix)
    node = RealNode(
        options.binaries,
        base,
        handle.network,
        certs,
        server,
        sandbox_image=str(sandbox),
        registry_name=handle.registry_host,
        registry_endpoint=f"http://{host_side}",
        cgroup_name=cgroup,
    )
    handle.node = node
    # What a node whose launcher was killed left (shims, cgroups, mounts); nothing when new.
    node.clean(keep_images=True)
    node.start_containerd(spawn)
    wait_until("containerd", node.containerd_ready, 30, watched, interval=0.2)
    node.start_kubelet(spawn)
    wait_until(
        f"node {node.name} to report {handle.network.node_ip}",
        lambda: api.node_has_address(node.name, handle.network.node_ip),
        NODE_TIMEOUT,
        watched,
        interval=0.2,
    )
    node.start_proxy(spawn)
    progress(
        f"Started real node {node.name} ({handle.network.node_ip} in netns {handle.network.netns})"
    )


def push_builders(
    store: oci.BlobStore, builders: builderimage.BuilderImages, host: str, images: Registry
) -> tuple[str, str]:
    """Push the build pods' images (tag and ``latest``); their names by content tag."""
    pushed = []
    for ref_name, repository, tag in (
        (builders.builder_ref, builderimage.BUILDER_REPOSITORY, builders.builder_tag),
        (builders.buildkit_ref, builderimage.BUILDKIT_REPOSITORY, builders.buildkit_tag),
    ):
        if ref_name is None or tag is None:
            pushed.append("")
            continue
        for name in (tag, baseimage.LATEST_TAG):
            oci.push(store, ref_name, Reference(host, repository, name), images)
        pushed.append(f"{host}/{repository}:{tag}")
    return pushed[0], pushed[1]


def start_sources(
    handle: RealNodeHandle,
    options: RealNodeOptions,
    certs: pki.ClusterPKI,
    work_dir: Path,
    port: int,
    spawn: Spawn,
) -> None:
    """Serve git and the wheel folder on the node's address over TLS from the cluster CA."""
    handle.sources_port = port
    handle.ca_file = certs.ca.cert
    folder = work_dir / "sources"
    folder.mkdir(parents=True, exist_ok=True)
    server = pki.CertificateAuthority.load(certs.ca).issue(
        folder,
        "sources",
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "racetrack-dev-sources")]),
        server_ips=[handle.network.host_ip],
    )
    password = folder / "git-password"
    password.write_text(secrets.token_urlsafe(18))
    password.chmod(0o600)
    handle.git_password_file = password
    spawn(
        "sources",
        sourceserver.argv(
            handle.network.host_ip, port, server.cert, server.key, folder / "git",
            options.wheels, password,
        ),
    )  # fmt: skip


def operator_env(handle: RealNodeHandle) -> dict[str, str]:
    """What the operator needs to build images on this node: the registry (named as nodes
    know it, reached where pods reach it), the builder and base images, the wheel folder as
    the only package index, and the cluster CA (which signs the source server's
    certificate) for builds to trust."""
    return {
        "RACETRACK_REGISTRY": handle.registry_host,
        "RACETRACK_REGISTRY_ENDPOINT": handle.registry_endpoint,
        "RACETRACK_BUILDER_IMAGE": handle.builder_image,
        "RACETRACK_BUILDKIT_IMAGE": handle.buildkit_image,
        "RACETRACK_PYTHON3_BASE_IMAGE": handle.base_image,
        "RACETRACK_BUILD_ENV": f"PIP_NO_INDEX=1,PIP_FIND_LINKS={handle.wheels_url}",
        "RACETRACK_BUILD_CA_CONFIGMAP": "kube-root-ca.crt",
        # FROM python:... pulls the copies the local registry holds (see mirrorimages).
        "RACETRACK_BUILD_REGISTRY_MIRRORS": mirrorimages.MIRRORED_REGISTRY,
    }
