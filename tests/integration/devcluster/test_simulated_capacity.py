"""The simulated nodes are as many and as large as asked, and the scheduler honours it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.flags import SimulatedCapacity
from racetrack_devcluster.launcher import ClusterOptions, LocalCluster
from support import eventually  # type: ignore[import-not-found]

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def two_small_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    options = ClusterOptions(simulated=SimulatedCapacity(nodes=2, job_pods_per_node=2))
    work: Path = tmp_path_factory.mktemp("two-nodes")
    with LocalCluster(BinaryCache().ensure(), work, options) as running:
        yield running


def _pods(core: client.CoreV1Api) -> list[dict[str, Any]]:
    found = core.list_namespaced_pod("default", label_selector="app=fill").to_dict()["items"]
    return list(found)


def test_pods_fill_every_simulated_node_and_no_more(two_small_nodes: LocalCluster) -> None:
    api = two_small_nodes.api_client()
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    labels = {"app": "fill"}
    body: Any = {
        "metadata": {"name": "fill"},
        "spec": {
            "replicas": 5,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "registry.invalid/fill:1"}]},
            },
        },
    }
    apps.create_namespaced_deployment("default", body)

    def four_running_one_unschedulable() -> bool:
        """two pods run on each node and the fifth stays Pending for want of room"""
        pods = _pods(core)
        phases = Counter(str(pod["status"]["phase"]) for pod in pods)
        return phases == {"Running": 4, "Pending": 1}

    eventually(four_running_one_unschedulable)
    pods = _pods(core)
    nodes = Counter(pod["spec"]["node_name"] for pod in pods if pod["status"]["phase"] == "Running")
    assert nodes == {"kwok-node-0": 2, "kwok-node-1": 2}
    pending = next(pod for pod in pods if pod["status"]["phase"] == "Pending")
    reasons = [c["message"] for c in pending["status"]["conditions"] or []]
    assert any("Too many pods" in (message or "") for message in reasons), reasons
