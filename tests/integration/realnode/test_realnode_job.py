"""A racetrack.io Job on the real node: the operator deploys it, real probes make it Ready.

Uses the operator and CRDs as ``racetrack dev up`` starts them (``devcluster.addons``), and
the adder example as a prebuilt image (base image + ``examples/jobs/adder``) from the local
registry. The gateway does not exist yet, so ``perform`` is called through the Job's Service.
"""

from __future__ import annotations

import json

import pytest
from realnode_helpers import (  # type: ignore[import-not-found]
    REPO,
    call_in_node,
    eventually,
    push_adder_image,
)

from racetrack_operator.devcluster.launcher import LocalCluster

pytestmark = [pytest.mark.cluster, pytest.mark.realnode]


def job_manifest(image: str) -> str:
    return json.dumps(
        {
            "apiVersion": "racetrack.io/v1alpha1",
            "kind": "Job",
            "metadata": {"name": "adder-v1-0-0"},
            "spec": {
                "name": "adder",
                "version": "1.0.0",
                "ownerEmail": "owner@example.com",
                "jobtype": "python3:1.0.0",
                "image": image,
                "jobtypeExtra": {
                    "entrypoint_path": "entrypoint.py",
                    "entrypoint_class": "AdderJob",
                },
                "replicas": 1,
            },
        }
    )


def test_a_job_from_the_local_registry_becomes_ready_and_performs(
    real_cluster: LocalCluster,
) -> None:
    addons = pytest.importorskip("racetrack_operator.devcluster.addons")
    if not (REPO / "crds" / "jobs.racetrack.io.yaml").is_file():
        pytest.skip("the Job CRD is not in this checkout")
    addons.apply_crds(real_cluster)
    addons.start_operator(real_cluster)
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
