"""The JSON client against a real API server: what a status write's short answer holds."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from racetrack_api.v1alpha1 import JobFamily
from racetrack_devcluster.launcher import LocalCluster
from racetrack_kube import paths
from racetrack_kube.client import Kube
from racetrack_operator.render.family import desired_family

pytestmark = [pytest.mark.cluster, pytest.mark.asyncio]


@pytest_asyncio.fixture
async def kube(cluster: LocalCluster) -> AsyncIterator[Kube]:
    client = Kube(cluster.api_client(), 2)
    yield client
    client.close()


async def test_a_status_write_answered_with_metadata_alone(
    cluster: LocalCluster, kube: Kube
) -> None:
    namespace = f"client-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", namespace)
    try:
        family = await kube.create(
            paths.racetrack(JobFamily, namespace),
            desired_family(namespace, "adder", "ml-team@example.org"),
        )
        assert family is not None
        path = paths.racetrack(JobFamily, namespace, "adder")
        answer = await kube.merge_patch_metadata(
            f"{path}/status", {"status": {"observedGeneration": 1, "latest": "1.0.0"}}
        )
        assert answer["kind"] == "PartialObjectMetadata"
        assert "status" not in answer and "spec" not in answer
        assert answer["metadata"]["name"] == "adder"
        written = answer["metadata"]["resourceVersion"]
        assert written != family["metadata"]["resourceVersion"]
        # The write happened, and the answer's resourceVersion is the written object's.
        stored = await kube.get(path)
        assert stored is not None
        assert stored["status"]["latest"] == "1.0.0"
        assert stored["metadata"]["resourceVersion"] == written
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false")
