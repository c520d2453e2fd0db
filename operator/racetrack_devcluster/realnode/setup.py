"""How the launcher grows a real node: the pieces it calls, in the order it calls them.

``LocalCluster`` stays the one launcher; with :class:`RealNodeOptions` it (1) creates the
node's network namespace before anything else, because the API server must listen on the
namespace's host-side address and its certificate must name it; (2) gives the API server
the extra flags of :func:`apiserver_args`; (3) after the scheduler, calls :func:`start`,
which starts the registry, makes sure the pause image is in it, and starts the node instead
of kwok; (4) on stop, calls :meth:`RealNodeHandle.stop` before stopping its other
components.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from racetrack_devcluster import pki
from racetrack_devcluster.build import NodeBinaries
from racetrack_devcluster.processes import Component, wait_until
from racetrack_devcluster.realnode import baseimage, pause, registry
from racetrack_devcluster.realnode import network as netns
from racetrack_devcluster.realnode.node import RealNode, apiserver_kubelet_client
from racetrack_images import oci
from racetrack_images.registry import Reference, Registry

Spawn = Callable[[str, list[str]], Component]
NODE_TIMEOUT = 120.0
#: Where each node keeps containerd's images and the kubelet's pods (on disk, short paths).
NODE_ROOT = Path("/var/lib/racetrack/nodes")


@dataclass(frozen=True)
class RealNodeOptions:
    binaries: NodeBinaries
    cache_dir: Path
    #: Pushed to the registry at start (as its tag and ``latest``) when given.
    base_image: baseimage.BaseImage | None = None

    @property
    def registry_storage(self) -> Path:
        return self.cache_dir / "registry"

    @property
    def image_store(self) -> Path:
        return self.cache_dir / "images" / "oci"


@dataclass
class RealNodeHandle:
    network: netns.NodeNetwork
    node: RealNode | None = None
    registry_port: int = 0

    @property
    def registry_host(self) -> str:
        """The name images are pushed and referenced by: ``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self.registry_port}"

    @property
    def registry_url(self) -> str:
        return f"http://{self.registry_host}"

    def stop(self) -> None:
        if self.node is not None:
            self.node.stop()
        netns.destroy(self.network)


def prepare_network() -> RealNodeHandle:
    # A short random suffix keeps names unique per cluster and within interface-name limits.
    return RealNodeHandle(netns.create(secrets.token_hex(3)))


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
    spawn: Spawn,
    watched: list[Component],
    progress: Callable[[str], None],
) -> None:
    handle.registry_port = registry_port
    host_side = f"{handle.network.host_ip}:{registry_port}"
    config_dir = work_dir / "registry"
    spawn(
        "registry",
        registry.argv(
            registry.write_config(
                config_dir / "loopback.yml", options.registry_storage, handle.registry_host
            )
        ),
    )
    spawn(
        "registry-node",
        registry.argv(
            registry.write_config(config_dir / "node.yml", options.registry_storage, host_side)
        ),
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
    node = RealNode(
        options.binaries,
        # Not under work_dir: the kubelet binds unix sockets under its root folder, and a
        # deep work folder (a pytest tmp path, a long home) exceeds the 108-byte limit.
        NODE_ROOT / handle.network.netns,
        handle.network,
        certs,
        server,
        sandbox_image=str(sandbox),
        registry_name=handle.registry_host,
        registry_endpoint=f"http://{host_side}",
        cgroup_name=f"racetrack-{handle.network.netns.removeprefix('racetrack-')}-{os.getpid()}",
    )
    handle.node = node
    node.start_containerd(spawn)
    wait_until("containerd", node.containerd_ready, 30, watched, interval=0.2)
    node.start_kubelet_and_proxy(spawn)
    progress(
        f"Started real node {node.name} ({handle.network.node_ip} in netns {handle.network.netns})"
    )
