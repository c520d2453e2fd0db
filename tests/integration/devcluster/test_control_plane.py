"""The local control plane is a real one: controllers, scheduler, garbage collection, CRDs."""

from __future__ import annotations

import pytest
from kubernetes import client

from racetrack_devcluster.controlplane import FAKE_NODE_NAME
from racetrack_devcluster.launcher import LocalCluster
from support import eventually  # type: ignore[import-not-found]

pytestmark = pytest.mark.cluster


def test_kubectl_reports_the_pinned_server_version_and_a_ready_node(cluster: LocalCluster) -> None:
    version = cluster.kubectl("version", "-o", "json").stdout
    assert '"gitVersion": "v1.37.2"' in version
    nodes = cluster.kubectl("get", "nodes", "--no-headers").stdout
    assert FAKE_NODE_NAME in nodes
    assert " Ready " in nodes


def test_deployment_becomes_available_then_is_garbage_collected(cluster: LocalCluster) -> None:
    api = cluster.api_client()
    apps = client.AppsV1Api(api)
    core = client.CoreV1Api(api)
    labels = {"app": "web"}
    deployment = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(
            replicas=3,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(
                    containers=[client.V1Container(name="web", image="registry.invalid/web:1")]
                ),
            ),
        ),
    )
    apps.create_namespaced_deployment("default", deployment)

    def available() -> bool:
        """the Deployment reports 3 available replicas"""
        deployment = apps.read_namespaced_deployment("web", "default").to_dict()
        return bool(deployment["status"]["available_replicas"] == 3)

    eventually(available)
    pods = core.list_namespaced_pod("default", label_selector="app=web").to_dict()["items"]
    assert len(pods) == 3
    assert {pod["spec"]["node_name"] for pod in pods} == {FAKE_NODE_NAME}
    assert all(pod["status"]["phase"] == "Running" for pod in pods)
    replica_sets = apps.list_namespaced_replica_set("default", label_selector="app=web").to_dict()
    assert len(replica_sets["items"]) == 1
    assert replica_sets["items"][0]["metadata"]["owner_references"][0]["name"] == "web"

    apps.delete_namespaced_deployment("web", "default")  # background propagation: GC's job

    def collected() -> bool:
        """the ReplicaSet and Pods of the deleted Deployment are gone"""
        sets = apps.list_namespaced_replica_set("default", label_selector="app=web").items
        pods = core.list_namespaced_pod("default", label_selector="app=web").items
        return not sets and not pods

    eventually(collected)
