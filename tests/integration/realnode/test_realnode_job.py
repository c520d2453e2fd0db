"""A racetrack.io Job on the real node: the operator deploys it, real probes make it Ready.

Uses the operator and CRDs as ``racetrack dev up`` starts them (``devcluster.addons``), and
the adder example as a prebuilt image (base image + ``examples/jobs/adder``) from the local
registry. Here ``perform`` is called through the Job's Service; test_realnode_gateway.py calls
it through the gateway.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from realnode_helpers import (  # type: ignore[import-not-found]
    call_in_node,
    eventually,
    push_adder_image,
    push_example_image,
    ready_job_url,
)

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


def apply_job(
    cluster: LocalCluster,
    family: str,
    jobtype: str,
    image: str,
    jobtype_extra: dict[str, Any] | None = None,
) -> None:
    """Apply version 1.0.0 of ``family`` as a Job named ``<family>-v1-0-0``."""
    spec: dict[str, Any] = {
        "name": family,
        "version": "1.0.0",
        "ownerEmail": "owner@example.com",
        "jobtype": jobtype,
        "image": image,
    }
    if jobtype_extra:
        spec["jobtypeExtra"] = jobtype_extra
    body = {"kind": "Job", "metadata": {"name": f"{family}-v1-0-0"}, "spec": spec}
    job = {"apiVersion": "racetrack.io/v1alpha1", **body}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(job))


def test_job_code_using_the_wrapper_api_runs_from_the_base_image(
    operator_cluster: LocalCluster,
) -> None:
    """The base image carries racetrack_job_wrapper: a job importing EndpointConfig, pinned
    to the original's python3:2.15.1, starts, serves its v2 endpoints and knows its type."""
    image = push_example_image(operator_cluster, "auxiliary-endpoints-v2", "1.0.0")
    extra = {"entrypoint_path": "entrypoint.py"}
    apply_job(operator_cluster, "unit-converter", "python3:2.15.1", image, extra)
    base = ready_job_url(operator_cluster, "unit-converter-v1-0-0")
    url = f"{base}/pub/job/unit-converter/1.0.0/api/v1/convert-many/in"
    status, body = eventually(lambda: (r := call_in_node(operator_cluster, url, [1, 10]))[0] and r)
    assert (status, json.loads(body)) == (200, [0.025, 0.254])
    status, body = call_in_node(operator_cluster, f"{base}/api/v1/perform", {"metres": 0.3048})
    assert (status, json.loads(body)) == (200, 1.0)
    deployment = json.loads(
        operator_cluster.kubectl("get", "deployment", "unit-converter-v1-0-0", "-o", "json").stdout
    )
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "JOB_TYPE_VERSION", "value": "2.15.1"} in env


def test_a_docker_proxy_job_serves_the_users_own_server_through_the_runtime_proxy(
    operator_cluster: LocalCluster,
) -> None:
    """The user's image (a stdlib server on 7001) beside the proxy, run from the base image
    the dev cluster gives the operator (RACETRACK_JOB_RUNTIME_IMAGE)."""
    image = push_example_image(
        operator_cluster, "docker-proxy", "1.0.0", cmd=["python3", "-u", "/job/server.py"]
    )
    apply_job(operator_cluster, "word-count", "docker-proxy:latest", image)
    base = ready_job_url(operator_cluster, "word-count-v1-0-0")
    url = f"{base}/pub/job/word-count/1.0.0/api/v1/perform"
    status, body = eventually(
        lambda: (r := call_in_node(operator_cluster, url, {"text": "one two three"}))[0] and r
    )
    assert (status, json.loads(body)) == (200, 3)
