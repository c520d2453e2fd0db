"""The kind cluster configuration we create clusters with (pure).

What this machine kind needs beyond kind's defaults, each for a reason seen here:

- ``failCgroupV1: false`` in the kubelet's configuration: Kubernetes 1.35 and later refuse
  cgroup v1 hosts by default, and these VMs are cgroup v1 (kind's entrypoint handles the
  rest of v1 inside the node).
- ``restrict_oom_score_adj = true`` for containerd in the node, and the kubelet's own
  ``oomScoreAdj: 0``: the machine drops ``CAP_SYS_RESOURCE`` even for root, so no process
  may lower an OOM score; containerd then clamps pods' scores to its own instead of failing
  every sandbox.
- The API server on 127.0.0.1 (kind's default too), published by Docker's userland proxy.
- The gateway's node port (30080, ``manifests/kind``) on the host's 127.0.0.1, port 8080
  unless told, as ``manifests/kind/cluster.yaml`` maps it.
"""

from __future__ import annotations

from typing import Any

import yaml

KUBELET_PATCH = """\
kind: KubeletConfiguration
failCgroupV1: false
oomScoreAdj: 0
"""

CONTAINERD_PATCH = """\
[plugins."io.containerd.grpc.v1.cri"]
  restrict_oom_score_adj = true
"""


GATEWAY_NODE_PORT = 30080


def cluster_config(
    node_image: str, workers: int = 0, gateway_port: int | None = None
) -> dict[str, Any]:
    control_plane: dict[str, Any] = {"role": "control-plane", "image": node_image}
    if gateway_port is not None:
        control_plane["extraPortMappings"] = [
            {
                "containerPort": GATEWAY_NODE_PORT,
                "hostPort": gateway_port,
                "listenAddress": "127.0.0.1",
                "protocol": "TCP",
            }
        ]
    nodes: list[dict[str, Any]] = [control_plane]
    nodes += [{"role": "worker", "image": node_image} for _ in range(workers)]
    return {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "networking": {"apiServerAddress": "127.0.0.1"},
        "nodes": nodes,
        "kubeadmConfigPatches": [KUBELET_PATCH],
        "containerdConfigPatches": [CONTAINERD_PATCH],
    }


def render(node_image: str, workers: int = 0, gateway_port: int | None = None) -> str:
    return yaml.safe_dump(cluster_config(node_image, workers, gateway_port), sort_keys=False)
