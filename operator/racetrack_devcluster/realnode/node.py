"""One real node: containerd, the kubelet and kube-proxy inside the node's namespace.

Start order: cgroup parent, CNI config, containerd (ready when its socket answers), then
the kubelet and kube-proxy with their own certificates from the cluster CA. Stop order is
the reverse, with the clean-up containerd cannot do for us when it is stopped (see
:mod:`.cleanup`): pods' containers, shims, mounts under the node's folder, the cgroup tree.
The network namespace belongs to the launcher, which created it before the API server (the
API server listens on the namespace's host-side address).

A node that is only stopped keeps containerd's root (content store and snapshots: the
node's images), as a switched-off machine keeps its disk; its pods' containers, the
kubelet's folder and containerd's runtime state go, and the kubelet makes the pods again
when the node starts. The same clean-up runs before a start, for what a node whose launcher
was killed left behind.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.x509.oid import NameOID

from racetrack_devcluster import pki
from racetrack_devcluster.build import NodeBinaries
from racetrack_devcluster.processes import Component, Spawn
from racetrack_devcluster.realnode import cgroups, cleanup, cni, containerd, kubelet
from racetrack_devcluster.realnode.network import (
    CLUSTER_CIDR,
    POD_SUBNET,
    NodeNetwork,
    in_netns,
)

NODE_NAME = "racetrack-node-0"


def _subject(common_name: str, organization: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def apiserver_kubelet_client(certs: pki.ClusterPKI) -> pki.KeyPair:
    """The API server's client certificate for the kubelet API (logs, exec, port-forward)."""
    authority = pki.CertificateAuthority.load(certs.ca)
    return authority.issue(
        certs.ca.cert.parent,
        "apiserver-kubelet-client",
        _subject("kube-apiserver-kubelet-client", "system:masters"),
    )


class RealNode:
    def __init__(
        self,
        binaries: NodeBinaries,
        base: Path,
        network: NodeNetwork,
        certs: pki.ClusterPKI,
        server: str,
        sandbox_image: str,
        registry_name: str,
        registry_endpoint: str,
        cgroup_name: str,
    ) -> None:
        self.binaries = binaries
        self.base = base
        self.network = network
        self.certs = certs
        self.server = server
        self.sandbox_image = sandbox_image
        self.registry_name = registry_name
        self.registry_endpoint = registry_endpoint
        self.cgroup_name = cgroup_name
        self.containerd_paths = containerd.ContainerdPaths(
            base / "containerd", containerd.SOCKET_ROOT / network.netns
        )
        self.components: list[Component] = []
        self.name = NODE_NAME

    @property
    def kubelet_dir(self) -> Path:
        return self.base / "kubelet"

    def start_containerd(self, spawn: Spawn) -> Component:
        paths = self.containerd_paths
        for folder in (paths.root, paths.state, paths.cni_ipam_dir, paths.socket_dir):
            folder.mkdir(parents=True, exist_ok=True)
        cni.write(paths.cni_conf_dir, POD_SUBNET, paths.cni_ipam_dir)
        paths.config.write_text(
            containerd.config_toml(
                paths, self.sandbox_image, self.registry_name, self.registry_endpoint
            )
        )
        component = spawn(
            "containerd",
            in_netns(self.network, containerd.argv(paths)),
            probe=self.containerd_ready,
        )
        self.components.append(component)
        return component

    def containerd_ready(self) -> bool:
        result = subprocess.run(
            ["ctr", f"--address={self.containerd_paths.socket}", "version"],
            capture_output=True,
            timeout=5,
            check=False,
        )
        return result.returncode == 0

    def start_kubelet(self, spawn: Spawn) -> None:
        cgroups.create(self.cgroup_name)
        pki_dir = self.base / "pki"
        pki_dir.mkdir(parents=True, exist_ok=True)
        authority = pki.CertificateAuthority.load(self.certs.ca)
        kubelet_client = authority.issue(
            pki_dir, "kubelet-client", _subject(f"system:node:{self.name}", "system:nodes")
        )
        kubelet_serving = authority.issue(
            pki_dir,
            "kubelet-serving",
            _subject(f"system:node:{self.name}", "system:nodes"),
            server_names=[self.name],
            server_ips=[self.network.node_ip],
        )
        kubelet_kubeconfig = self.base / "kubelet.kubeconfig"
        pki.write_kubeconfig(
            kubelet_kubeconfig, self.server, self.certs.ca, kubelet_client, "kubelet"
        )

        config_path = self.base / "kubelet-config.yaml"
        config_path.write_text(
            yaml.safe_dump(
                kubelet.kubelet_config(
                    node_ip=self.network.node_ip,
                    cgroup_root=f"/{self.cgroup_name}",
                    runtime_socket=self.containerd_paths.socket,
                    client_ca=self.certs.ca.cert,
                    serving_cert=kubelet_serving.cert,
                    serving_key=kubelet_serving.key,
                )
            )
        )
        self.kubelet_dir.mkdir(parents=True, exist_ok=True)
        self.components.append(
            spawn(
                "kubelet",
                in_netns(
                    self.network,
                    kubelet.kubelet_argv(
                        self.binaries.kubelet,
                        config=config_path,
                        kubeconfig=kubelet_kubeconfig,
                        root_dir=self.kubelet_dir,
                        node_name=self.name,
                        node_ip=self.network.node_ip,
                    ),
                ),
                needs=("containerd", "kube-apiserver"),
            )
        )

    def start_proxy(self, spawn: Spawn) -> None:
        """kube-proxy, once the Node object carries this node's address: it exits when the
        address it started with changes (a resumed node whose /30 was taken meanwhile)."""
        proxy_client = pki.CertificateAuthority.load(self.certs.ca).issue(
            self.base / "pki", "kube-proxy", _subject("system:kube-proxy")
        )
        proxy_kubeconfig = self.base / "kube-proxy.kubeconfig"
        pki.write_kubeconfig(
            proxy_kubeconfig, self.server, self.certs.ca, proxy_client, "kube-proxy"
        )
        proxy_config = self.base / "kube-proxy-config.yaml"
        proxy_config.write_text(
            yaml.safe_dump(
                kubelet.kube_proxy_config(
                    kubeconfig=proxy_kubeconfig,
                    node_name=self.name,
                    node_ip=self.network.node_ip,
                    cluster_cidr=CLUSTER_CIDR,
                )
            )
        )
        self.components.append(
            spawn(
                "kube-proxy",
                in_netns(
                    self.network, kubelet.kube_proxy_argv(self.binaries.kube_proxy, proxy_config)
                ),
                needs=("kube-apiserver",),
            )
        )

    def stop(self, *, keep_images: bool = False) -> None:
        """Stop the node; remove every trace of it but its logs and, with ``keep_images``,
        containerd's root."""
        by_name = {component.name: component for component in self.components}
        for name in ("kube-proxy", "kubelet"):
            if name in by_name:
                by_name[name].stop()
        socket = self.containerd_paths.socket
        if "containerd" in by_name and by_name["containerd"].running():
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                cleanup.remove_containers(socket)
            by_name["containerd"].stop()
        self.components.clear()
        self.clean(keep_images=keep_images)

    def clean(self, *, keep_images: bool) -> None:
        """Remove what the node's processes leave when they are gone: shims and containers
        still running, the cgroup tree, mounts, runtime state and sockets."""
        cleanup.kill_shims(self.containerd_paths.socket)
        cgroups.remove(self.cgroup_name)
        cleanup.unmount_all(self.base)
        if keep_images:
            for transient in (self.kubelet_dir, self.containerd_paths.state, self.base / "pki"):
                shutil.rmtree(transient, ignore_errors=True)
        else:
            shutil.rmtree(self.base, ignore_errors=True)
        shutil.rmtree(self.containerd_paths.socket_dir, ignore_errors=True)


def describe(node: RealNode) -> str:
    return json.dumps(
        {"name": node.name, "node_ip": node.network.node_ip, "netns": node.network.netns}
    )
