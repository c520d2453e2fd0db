"""Command lines of the control plane's components: pure functions, one per component.

Every non-default flag carries the reason it is there; most were learnt the hard way on
machines like ours (two cores, no container engine, loopback only).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from racetrack_devcluster import pki
from racetrack_devcluster.build import Binaries

#: kwok manages only nodes carrying this annotation, never a real node next to them.
FAKE_NODE_ANNOTATION = "kwok.x-k8s.io/node"

# Default client rate limits throttle garbage collection, ReplicaSets and scheduling when
# benchmarks create a thousand objects.
_CLIENT_RATE = ["--kube-api-qps=1000", "--kube-api-burst=2000"]


def etcd(binaries: Binaries, data_dir: Path, client: int, peer: int) -> list[str]:
    return [
        str(binaries.etcd),
        "--name=dev",
        f"--data-dir={data_dir / 'etcd'}",
        f"--listen-client-urls=http://127.0.0.1:{client}",
        f"--advertise-client-urls=http://127.0.0.1:{client}",
        f"--listen-peer-urls=http://127.0.0.1:{peer}",
        f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
        f"--initial-cluster=dev=http://127.0.0.1:{peer}",
        "--log-level=warn",
        # A throwaway development cluster: losing the last writes on a power cut is fine,
        # and skipping fsync keeps large benchmarks from waiting on the disk.
        "--unsafe-no-fsync",
    ]


def apiserver(
    binaries: Binaries, data_dir: Path, certs: pki.ClusterPKI, port: int, etcd_client: int
) -> list[str]:
    return [
        str(binaries.kube_apiserver),
        f"--etcd-servers=http://127.0.0.1:{etcd_client}",
        "--bind-address=127.0.0.1",
        f"--secure-port={port}",
        "--advertise-address=127.0.0.1",
        # The endpoint reconciler refuses a loopback advertise address; the kubernetes
        # Service then has no endpoints, which nothing on simulated nodes needs.
        "--endpoint-reconciler-type=none",
        f"--cert-dir={data_dir / 'apiserver'}",
        f"--tls-cert-file={certs.apiserver.cert}",
        f"--tls-private-key-file={certs.apiserver.key}",
        f"--client-ca-file={certs.ca.cert}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={certs.service_account_pub}",
        f"--service-account-signing-key-file={certs.service_account_key}",
        f"--service-cluster-ip-range={pki.SERVICE_CLUSTER_IP_RANGE}",
        "--authorization-mode=Node,RBAC",
        "--allow-privileged=true",
        "--profiling=false",
    ]


def _controller_basics(kubeconfig: Path, port: int, cert_dir: Path) -> list[str]:
    """What the controller manager and the scheduler both need: who they are, where they
    listen (loopback, a port of their own so two clusters never collide)."""
    return [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={port}",
        f"--cert-dir={cert_dir}",
    ]


def controller_manager(
    binaries: Binaries, kubeconfig: Path, port: int, cert_dir: Path, certs: pki.ClusterPKI
) -> list[str]:
    return [
        str(binaries.kube_controller_manager),
        *_controller_basics(kubeconfig, port, cert_dir),
        f"--service-account-private-key-file={certs.service_account_key}",
        f"--root-ca-file={certs.ca.cert}",
        f"--cluster-signing-cert-file={certs.ca.cert}",
        f"--cluster-signing-key-file={certs.ca.key}",
        "--use-service-account-credentials",
        "--controllers=*",
        # One local instance: nothing to elect, and no lease writes.
        "--leader-elect=false",
        *_CLIENT_RATE,
    ]


def scheduler(binaries: Binaries, kubeconfig: Path, port: int, cert_dir: Path) -> list[str]:
    return [
        str(binaries.kube_scheduler),
        *_controller_basics(kubeconfig, port, cert_dir),
        "--leader-elect=false",
        *_CLIENT_RATE,
    ]


def kwok(binaries: Binaries, kubeconfig: Path, port: int) -> list[str]:
    return [
        str(binaries.kwok),
        f"--kubeconfig={kubeconfig}",
        f"--config={binaries.kwok_stages}",
        "--manage-all-nodes=false",
        f"--manage-nodes-with-annotation-selector={FAKE_NODE_ANNOTATION}=fake",
        # Without a longer lease the fake node was seen going NotReady after ~50 s.
        "--node-lease-duration-seconds=40",
        # The default /24 runs out of pod IPs past 254 pods.
        "--cidr=10.244.0.0/16",
        f"--server-address=127.0.0.1:{port}",
    ]


#: What one job pod requests at the operator's default resources (its Settings'
#: ``default_memory_min`` and ``default_cpu_min``); the simulated nodes are sized in these.
JOB_POD_MEMORY_MIB = 256
JOB_POD_MILLICPU = 10


@dataclass(frozen=True)
class SimulatedCapacity:
    """How many simulated (kwok) nodes there are and how many job pods each one holds.

    kwok plays pods, it runs none, so capacity costs nothing: the default holds 12,000 job
    pods at the default requests on one node, room for 10,000 Jobs next to a burst and the
    platform's own pods, so scale runs measure the operator and not the fake node's limits.
    """

    nodes: int = 1
    job_pods_per_node: int = 12_000

    def __post_init__(self) -> None:
        if self.nodes < 1 or self.job_pods_per_node < 1:
            raise ValueError(f"a simulated cluster needs at least one node and pod: {self}")

    def node_names(self) -> list[str]:
        return [f"{FAKE_NODE_PREFIX}{index}" for index in range(self.nodes)]

    def node_capacity(self) -> dict[str, str]:
        pods = self.job_pods_per_node
        return {
            "cpu": f"{max(256_000, pods * JOB_POD_MILLICPU)}m",
            "memory": f"{max(1024 * 1024, pods * JOB_POD_MEMORY_MIB)}Mi",
            "pods": str(pods),
        }


#: Simulated nodes are named ``kwok-node-0``, ``kwok-node-1``, ...
FAKE_NODE_PREFIX = "kwok-node-"


def fake_node_manifest(name: str, capacity: SimulatedCapacity | None = None) -> dict[str, Any]:
    resources = (capacity or SimulatedCapacity()).node_capacity()
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {FAKE_NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
            },
        },
        "status": {"allocatable": resources, "capacity": resources},
    }
