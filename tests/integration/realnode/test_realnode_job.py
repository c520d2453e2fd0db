"""A racetrack.io Job on the real node: the operator deploys it, real probes make it Ready.

Uses the operator and CRDs as ``racetrack dev up`` starts them (``devcluster.addons``), and
the adder example as a prebuilt image (base image + ``examples/jobs/adder``) from the local
registry. The gateway does not exist yet, so ``perform`` is called through the Job's Service.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from realnode_helpers import (  # type: ignore[import-not-found]
    call_in_node,
    eventually,
    push_adder_image,
)

from racetrack_devcluster import addons
from racetrack_devcluster.launcher import LocalCluster

pytestmark = [pytest.mark.cluster, pytest.mark.realnode]


def job_manifest(image: str, version: str = "1.0.0", entrypoint_class: str = "AdderJob") -> str:
    return json.dumps(
        {
            "apiVersion": "racetrack.io/v1alpha1",
            "kind": "Job",
            "metadata": {"name": f"adder-v{version.replace('.', '-')}"},
            "spec": {
                "name": "adder",
                "version": version,
                "ownerEmail": "owner@example.com",
                "jobtype": "python3:1.0.0",
                "image": image,
                "jobtypeExtra": {
                    "entrypoint_path": "entrypoint.py",
                    "entrypoint_class": entrypoint_class,
                },
                "replicas": 1,
            },
        }
    )


@pytest.fixture(scope="module")
def operator_cluster(real_cluster: LocalCluster) -> LocalCluster:
    """The real-node cluster with the operator, as ``racetrack dev up`` runs it."""
    addons.start_operator(real_cluster)
    return real_cluster


def test_a_job_from_the_local_registry_becomes_ready_and_performs(
    operator_cluster: LocalCluster,
) -> None:
    real_cluster = operator_cluster
    image = push_adder_image(real_cluster, "job-1.0.0")
    real_cluster.kubectl("apply", "-f", "-", input=job_manifest(image))

    waited = real_cluster.kubectl(
        "wait", "rtjob/adder-v1-0-0", "--for=condition=Ready", "--timeout=180s", check=False
    )
    assert waited.returncode == 0, (
        waited.stderr + real_cluster.kubectl("get", "rtjob", "adder-v1-0-0", "-o", "yaml").stdout
    )
    services = json.loads(real_cluster.kubectl("get", "services", "-o", "json").stdout)["items"]
    [service] = [s for s in services if s["metadata"]["name"] == "adder-v1-0-0"]
    port = service["spec"]["ports"][0]["port"]
    url = f"http://{service['spec']['clusterIP']}:{port}/api/v1/perform"
    status, body = eventually(
        lambda: (r := call_in_node(real_cluster, url, {"a": 40, "b": 2}))[0] and r
    )
    assert (status, json.loads(body)) == (200, 42)


def test_a_crashing_job_shows_the_failing_pod_and_its_last_log_lines(
    operator_cluster: LocalCluster,
) -> None:
    image = push_adder_image(operator_cluster, "job-1.0.0")
    # A class the entrypoint does not define: the runtime exits at start, naming it.
    manifest = job_manifest(image, version="0.9.0", entrypoint_class="NoSuchClass")
    operator_cluster.kubectl("apply", "-f", "-", input=manifest)

    def reported() -> dict[str, Any]:
        """the Job's status names an unhealthy pod whose log tail explains the crash"""
        job = json.loads(operator_cluster.kubectl("get", "rtjob/adder-v0-9-0", "-o", "json").stdout)
        pod: dict[str, Any] = job.get("status", {}).get("unhealthyPod") or {}
        return pod if "NoSuchClass" in "\n".join(pod.get("logTail", [])) else {}

    pod = eventually(reported, timeout=180)
    assert str(pod["name"]).startswith("adder-v0-9-0-")
    assert pod["reason"] in ("CrashLoopBackOff", "Error")
    job = json.loads(operator_cluster.kubectl("get", "rtjob/adder-v0-9-0", "-o", "json").stdout)
    available = next(c for c in job["status"]["conditions"] if c["type"] == "Available")
    assert available["status"] == "False"
    assert f"Pod {pod['name']}: " in available["message"]
    # kubectl describe shows the same evidence to a person.
    described = operator_cluster.kubectl("describe", "rtjob/adder-v0-9-0").stdout
    assert "NoSuchClass" in described
