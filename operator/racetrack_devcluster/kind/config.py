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


def cluster_config(node_image: str, workers: int = 0) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = [{"role": "control-plane", "image": node_image}]
    nodes += [{"role": "worker", "image": node_image} for _ in range(workers)]
    return {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "networking": {"apiServerAddress": "127.0.0.1"},
        "nodes": nodes,
        "kubeadmConfigPatches": [KUBELET_PATCH],
        "containerdConfigPatches": [CONTAINERD_PATCH],
    }


def render(node_image: str, workers: int = 0) -> str:
    return yaml.safe_dump(cluster_config(node_image, workers), sort_keys=False)
