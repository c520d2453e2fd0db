"""A real node runs real pods: images from the local registry, real probes, Services route."""

from __future__ import annotations

import json
from typing import Any

import pytest
from realnode_helpers import (  # type: ignore[import-not-found]
    call_in_node,
    eventually,
    push_adder_image,
)

from racetrack_devcluster.launcher import LocalCluster
from racetrack_devcluster.realnode import baseimage
from racetrack_images.registry import Registry

# `cluster` too: these need the control plane, and `pytest -m "not cluster"` must stay fast.
pytestmark = [pytest.mark.cluster, pytest.mark.realnode]


def deployment_and_service(name: str, image: str, ready_path: str = "/ready") -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "List",
            "items": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": name},
                    "spec": {
                        "replicas": 1,
                        "selector": {"matchLabels": {"app": name}},
                        "template": {
                            "metadata": {"labels": {"app": name}},
                            "spec": {
                                "containers": [
                                    {
                                        "name": "job",
                                        "image": image,
                                        "ports": [{"containerPort": 7000}],
                                        "readinessProbe": {
                                            "httpGet": {"path": ready_path, "port": 7000},
                                            "periodSeconds": 2,
                                        },
                                        "livenessProbe": {
                                            "httpGet": {"path": "/live", "port": 7000},
                                            "periodSeconds": 5,
                                        },
                                    }
                                ]
                            },
                        },
                    },
                },
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": name},
                    "spec": {
                        "selector": {"app": name},
                        "ports": [{"port": 80, "targetPort": 7000}],
                    },
                },
            ],
        }
    )


def pod_of(cluster: LocalCluster, app: str) -> dict[str, Any]:
    pods = json.loads(cluster.kubectl("get", "pods", "-l", f"app={app}", "-o", "json").stdout)
    items: list[dict[str, Any]] = pods["items"]
    return items[0] if items else {}


def is_ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def test_the_node_is_a_real_containerd_node(real_cluster: LocalCluster) -> None:
    nodes = json.loads(real_cluster.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    assert [n["metadata"]["name"] for n in nodes] == ["racetrack-node-0"]
    info = nodes[0]["status"]["nodeInfo"]
    assert info["containerRuntimeVersion"].startswith("containerd://")
    assert info["kubeletVersion"] == "v1.37.2"
    addresses = {a["type"]: a["address"] for a in nodes[0]["status"]["addresses"]}
    assert real_cluster.real is not None
    assert addresses["InternalIP"] == real_cluster.real.network.node_ip


def test_adder_job_from_the_local_registry_answers_through_its_service(
    real_cluster: LocalCluster,
) -> None:
    image = push_adder_image(real_cluster, "1.0.0")
    real_cluster.kubectl("apply", "-f", "-", input=deployment_and_service("adder", image))

    pod = eventually(lambda: (p := pod_of(real_cluster, "adder")) and is_ready(p) and p)
    assert pod["status"]["phase"] == "Running"
    assert pod["status"]["podIP"].startswith("10.244.")
    assert pod["spec"]["containers"][0]["image"] == image

    service = json.loads(real_cluster.kubectl("get", "service", "adder", "-o", "json").stdout)
    url = f"http://{service['spec']['clusterIP']}/api/v1/perform"
    status, body = eventually(
        lambda: (r := call_in_node(real_cluster, url, {"a": 40, "b": 2}))[0] and r
    )
    assert (status, json.loads(body)) == (200, 42)

    logs = real_cluster.kubectl("logs", "deployment/adder").stdout
    assert "POST /api/v1/perform 200" in logs


def test_a_pod_failing_its_readiness_probe_is_running_but_not_ready_with_readable_logs(
    real_cluster: LocalCluster,
) -> None:
    image = push_adder_image(real_cluster, "1.0.0")
    manifest = deployment_and_service("never-ready", image, ready_path="/no-such-path")
    real_cluster.kubectl("apply", "-f", "-", input=manifest)

    def probe_failed() -> bool:
        events = real_cluster.kubectl(
            "get", "events", "--field-selector", "reason=Unhealthy", "-o", "json"
        ).stdout
        return any(
            "Readiness probe failed" in e["message"]
            and e["involvedObject"]["name"].startswith("never-ready")
            for e in json.loads(events)["items"]
        )

    eventually(probe_failed)
    pod = pod_of(real_cluster, "never-ready")
    assert pod["status"]["phase"] == "Running"
    assert not is_ready(pod)

    # The container's last lines are there for whoever reports the failure (the operator):
    # the runtime logs each request, the failing probe's among them.
    def probe_in_logs() -> str:
        logs = real_cluster.kubectl("logs", "deployment/never-ready", "--tail=5").stdout
        return logs if "/no-such-path" in logs else ""

    assert "404" in eventually(probe_in_logs, timeout=30)


def test_the_base_image_is_in_the_registry_under_latest(real_cluster: LocalCluster) -> None:
    assert real_cluster.real is not None
    registry = Registry(real_cluster.real.registry_url)
    assert registry.has_manifest(baseimage.REPOSITORY, "latest")
    # Its blobs are kept with the cluster's data (removed with the cluster), not in the cache.
    storage = real_cluster.data_dir / "registry" / "storage"
    assert any(storage.iterdir())
