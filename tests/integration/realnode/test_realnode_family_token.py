"""A family's caller token reaches a real pod's environment as ``AUTH_TOKEN`` (from the
family's Secret), and a reset of the family's token rolls the pods onto the new one."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from realnode_helpers import (  # type: ignore[import-not-found]
    call_in_node,
    eventually,
    push_job_image,
)

from racetrack_api import labels
from racetrack_devcluster.launcher import LocalCluster

pytestmark = [pytest.mark.cluster, pytest.mark.realnode]

NAMESPACE = "family-token"
JOB_DIR = Path(__file__).resolve().parent / "jobs" / "token_digest"


def published_hash(cluster: LocalCluster) -> str:
    hashes = cluster.kubectl(
        "get", "rtfamily", "digest", "-n", NAMESPACE, "-o", "jsonpath={.status.token.hashes[0]}",
        check=False,
    ).stdout  # fmt: skip
    return hashes.strip()


def digest_in_pod(cluster: LocalCluster) -> str:
    """What the Job's pod reports: the sha256 of its AUTH_TOKEN."""
    service = json.loads(
        cluster.kubectl("get", "service", "digest-v1-0-0", "-n", NAMESPACE, "-o", "json").stdout
    )
    url = f"http://{service['spec']['clusterIP']}:{service['spec']['ports'][0]['port']}"
    status, body = call_in_node(cluster, f"{url}/api/v1/perform", {})
    if status != 200:
        return ""
    answer: dict[str, Any] = json.loads(body)
    return str(answer["auth_token_sha256"])


def test_a_jobs_pod_gets_its_familys_token_and_a_reset_rolls_it(
    operator_cluster: LocalCluster,
) -> None:
    cluster = operator_cluster
    image = push_job_image(cluster, JOB_DIR, "digest", "1.0.0")
    cluster.kubectl("create", "namespace", NAMESPACE)
    job = {
        "apiVersion": "racetrack.io/v1alpha1",
        "kind": "Job",
        "metadata": {"name": "digest-v1-0-0", "namespace": NAMESPACE},
        "spec": {
            "name": "digest",
            "version": "1.0.0",
            "ownerEmail": "owner@example.com",
            "jobtype": "python3:1.0.0",
            "image": image,
            "jobtypeExtra": {"entrypoint_path": "entrypoint.py"},
            "replicas": 1,
        },
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(job))
    waited = cluster.kubectl(
        "wait", "-n", NAMESPACE, "rtjob/digest-v1-0-0", "--for=condition=Ready", "--timeout=180s",
        check=False,
    )  # fmt: skip
    assert waited.returncode == 0, waited.stderr
    first = published_hash(cluster)
    assert len(first) == 64
    eventually(lambda: digest_in_pod(cluster) == first)

    cluster.kubectl(
        "annotate", "rtfamily", "digest", "-n", NAMESPACE, f"{labels.ANNOTATION_RESET_TOKEN_AT}=1"
    )
    eventually(lambda: published_hash(cluster) not in ("", first))
    second = published_hash(cluster)
    # The old pod keeps answering until the new one is ready; then only the new token is seen.
    eventually(lambda: digest_in_pod(cluster) == second, timeout=180)
    assert second != hashlib.sha256(b"").hexdigest()
