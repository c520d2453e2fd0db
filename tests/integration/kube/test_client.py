"""The JSON client against a real API server, from a thread pool and on the event loop (the
operator's way): what a status write's short answer holds, answers that are not errors (404,
409), errors, plain text, and a server that does not answer."""

from __future__ import annotations

import copy
import json
import socket
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from kubernetes import client as k8s_client

from racetrack_api.v1alpha1 import JobFamily
from racetrack_devcluster.launcher import LocalCluster
from racetrack_kube import paths
from racetrack_kube.client import NO_ANSWER, NO_ANSWER_ERRORS, ApiError, Kube, unavailable
from racetrack_operator.render.family import desired_family

pytestmark = [pytest.mark.cluster, pytest.mark.asyncio]


@pytest_asyncio.fixture(params=[False, True], ids=["thread-pool", "on-loop"])
async def kube(cluster: LocalCluster, request: pytest.FixtureRequest) -> AsyncIterator[Kube]:
    client = Kube(cluster.api_client(), 2, on_loop=request.param)
    yield client
    await client.aclose()


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


async def test_a_missing_object_and_a_second_create_are_answers_not_errors(
    cluster: LocalCluster, kube: Kube
) -> None:
    namespace = f"client-{uuid.uuid4().hex[:6]}"
    assert await kube.get(f"/api/v1/namespaces/{namespace}") is None
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    try:
        created = await kube.create("/api/v1/namespaces", body)
        assert created is not None and created["metadata"]["name"] == namespace
        assert await kube.create("/api/v1/namespaces", body) is None
        with pytest.raises(ApiError) as refused:
            await kube.create("/api/v1/namespaces", {**body, "metadata": {"name": "Not_Valid"}})
        assert refused.value.status == 422
        assert not unavailable(refused.value)
        assert "Not_Valid" in refused.value.body
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false")


async def test_plain_text_is_read_as_it_is(kube: Kube) -> None:
    version = json.loads(await kube.text("/version"))
    assert version["major"] == "1"


@pytest.mark.parametrize("on_loop", [False, True], ids=["thread-pool", "on-loop"])
async def test_a_server_that_does_not_answer_is_unavailable_and_counted(
    cluster: LocalCluster, on_loop: bool
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once the socket is closed
    configuration = copy.copy(cluster.api_client().configuration)
    configuration.host = f"https://127.0.0.1:{port}"
    configuration.retries = 0
    seen: list[tuple[str, str]] = []
    kube = Kube(
        k8s_client.ApiClient(configuration),
        2,
        observe=lambda method, code: seen.append((method, code)),
        on_loop=on_loop,
    )
    try:
        with pytest.raises(NO_ANSWER_ERRORS) as failed:
            await kube.get("/api/v1/namespaces/default")
        assert unavailable(failed.value)
        assert seen == [("GET", NO_ANSWER)]
    finally:
        await kube.aclose()
