"""The gateway on the real node: real pods behind HAProxy, called from the host and by a job.

HAProxy runs in the node's network namespace (cluster IPs route only there) and listens on
the node's address: the same URL serves a shell on the host and, as ``PUB_URL``, a job's
pod calling another job (job to job, with its family's token and a Permission). Every token
is the one the operator issued: the User's from its Secret, the family's in the pod's
``AUTH_TOKEN``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from realnode_helpers import eventually, push_adder_image  # type: ignore[import-not-found]

from integration.identity.identity_helpers import wait_token  # type: ignore[import-not-found]
from racetrack_devcluster.launcher import LocalCluster
from racetrack_devcluster.realnode import baseimage
from racetrack_images import oci
from racetrack_images.registry import Reference, Registry

pytestmark = [pytest.mark.cluster, pytest.mark.realnode]

CHAIN = Path(__file__).resolve().parent / "jobs" / "chain"


def push_chain_image(cluster: LocalCluster) -> str:
    assert cluster.real is not None and cluster.options.real_node is not None
    options = cluster.options.real_node
    assert options.base_image is not None
    store = oci.BlobStore(options.image_store)
    baseimage.job_image(store, options.base_image, CHAIN, "entrypoint.py", "test-chain")
    target = Reference(cluster.real.registry_host, "jobs/chain", "1.0.0")
    oci.push(store, "test-chain", target, Registry(cluster.real.registry_url))
    return str(target)


def job(family: str, image: str, entrypoint_class: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "racetrack.io/v1alpha1",
        "kind": "Job",
        "metadata": {"name": f"{family}-v1-0-0", "namespace": "default"},
        "spec": {
            "name": family,
            "version": "1.0.0",
            "ownerEmail": "owner@example.com",
            "jobtype": "python3:1.0.0",
            "image": image,
            "jobtypeExtra": {
                "entrypoint_path": "entrypoint.py",
                "entrypoint_class": entrypoint_class,
            },
            "replicas": 1,
            **spec,
        },
    }


def apply(cluster: LocalCluster, *objects: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-f", "-", input="\n---\n".join(json.dumps(o) for o in objects))


def ready(cluster: LocalCluster, name: str) -> None:
    waited = cluster.kubectl(
        "wait", f"rtjob/{name}", "--for=condition=Ready", "--timeout=180s", check=False
    )
    assert waited.returncode == 0, (
        waited.stderr + cluster.kubectl("get", "rtjob", name, "-o", "yaml").stdout
    )


def test_real_pods_are_called_through_the_gateway_from_the_host_and_from_a_job(
    operator_cluster: LocalCluster, gateway_url: str
) -> None:
    cluster = operator_cluster
    assert cluster.real is not None
    assert gateway_url.startswith(f"http://{cluster.real.network.node_ip}:")
    apply(
        cluster,
        job("sum", push_adder_image(cluster, "gateway-1.0.0"), "AdderJob"),
        job("chain", push_chain_image(cluster), "ChainJob"),
        {
            "apiVersion": "racetrack.io/v1alpha1",
            "kind": "User",
            "metadata": {"name": "caller"},
            "spec": {"active": True},
        },
        *(
            {
                "apiVersion": "racetrack.io/v1alpha1",
                "kind": "Permission",
                "metadata": {"name": name, "namespace": "default"},
                "spec": {"subject": subject, "scope": "call_job", "resource": {"family": family}},
            }
            for name, subject, family in (
                ("caller-calls-sum", {"kind": "User", "name": "caller"}, "sum"),
                ("caller-calls-chain", {"kind": "User", "name": "caller"}, "chain"),
                ("chain-calls-sum", {"kind": "JobFamily", "name": "chain"}, "sum"),
            )
        ),
    )
    ready(cluster, "sum-v1-0-0")
    ready(cluster, "chain-v1-0-0")
    token = wait_token(cluster, "rtuser", "caller")
    headers = {"X-Racetrack-Auth": token}

    def call(path: str, body: dict[str, Any]) -> httpx.Response | None:
        try:
            answer = httpx.post(f"{gateway_url}{path}", json=body, headers=headers, timeout=30)
        except httpx.TransportError:
            return None
        return answer if answer.status_code == 200 else None

    direct = eventually(lambda: call("/pub/job/sum/latest/api/v1/perform", {"a": 40, "b": 2}))
    assert direct.json() == 42
    # The same call made asynchronously: started, then polled (HAProxy runs in the node's
    # network, the agent holding the tasks on the host; they meet on unix sockets).
    started = httpx.post(f"{gateway_url}/pub/async/new/job/sum/latest/api/v1/perform",
                         json={"a": 40, "b": 2}, headers=headers, timeout=30)  # fmt: skip
    assert started.status_code == 201, started.text
    polled = httpx.get(f"{gateway_url}/pub/async/task/{started.json()['task_id']}/poll", timeout=60)
    assert (polled.status_code, polled.json()) == (200, 42)
    chained = eventually(
        lambda: call("/pub/job/chain/1.x/api/v1/perform", {"family": "sum", "a": 1, "b": 2})
    )
    assert chained.json() == {"sum": 3, "via": f"{gateway_url}/pub/job/sum/latest/api/v1/perform"}
    # Without its Permission the chain job is refused by the gateway (its call fails inside).
    cluster.kubectl("delete", "rtperm", "chain-calls-sum")
    refused = eventually(
        lambda: (
            (
                r := httpx.post(
                    f"{gateway_url}/pub/job/chain/1.0.0/api/v1/perform",
                    json={"family": "sum", "a": 1, "b": 2},
                    headers=headers,
                    timeout=30,
                )
            ).status_code
            == 500
            and r
        )
    )
    assert "403" in refused.json()["error"]
