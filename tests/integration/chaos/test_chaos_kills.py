"""``kill -9`` one component while 100 Jobs are being applied: every Job still converges.

For each component in ``racetrack_devcluster.chaos.TARGETS`` in turn (the API server, etcd,
the controller manager, the operator, the gateway's agent, HAProxy, the admission webhooks):
a client applies 100 Jobs, retrying through the outage as a GitOps tool would; a third of the
way in the component is killed; the cluster's healer (for HAProxy, the gateway's agent)
brings it back. Then every Job must be Ready
for its generation with exactly one Deployment and one Service, each owned by it (no
duplicate child), one rollout (Deployment generation 1, one ReplicaSet, no DeploymentUpdated
event), its status whole, a Job that was Ready before the kill never having flipped, every
family listing its versions, and the operator's metrics counting every Job Ready (and, when
it was the operator that died, coming from the new process). Adding a component to kill is a
name in ``chaos.TARGETS``.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from chaos_helpers import (  # type: ignore[import-not-found]
    FAMILIES,
    JOBS,
    VERSIONS,
    ChaosCluster,
    JobApplier,
    all_ready,
    condition,
    items,
    operator_metrics,
)

from racetrack_devcluster import addons, chaos
from racetrack_devcluster.controlplane import FAKE_NODE_NAME
from racetrack_devcluster.launcher import LocalCluster
from support import eventually  # type: ignore[import-not-found]

pytestmark = pytest.mark.cluster

#: Jobs created before the kill: the rest arrive during the outage and after it.
KILL_AFTER = 30


def node_ready_since(cluster: LocalCluster) -> str:
    """When the simulated node last turned Ready (or not)."""
    node = json.loads(cluster.kubectl("get", "node", FAKE_NODE_NAME, "-o", "json").stdout)
    ready = condition(node, "Ready")
    assert ready is not None
    return str(ready["lastTransitionTime"])


@pytest.mark.parametrize("target", chaos.TARGETS)
def test_every_job_converges_cleanly_after_a_component_is_killed(
    chaos_cluster: ChaosCluster, target: str
) -> None:
    cluster, namespace = chaos_cluster.cluster, chaos_cluster.namespace
    started_at = operator_metrics(chaos_cluster.metrics_url).get("process_start_time_seconds")
    applier = JobApplier(cluster, namespace)
    applier.start()
    applier.wait_created(KILL_AFTER)
    before = {job["metadata"]["name"]: job for job in items(cluster, namespace, "rtjobs")}
    node_before = node_ready_since(cluster)
    killed_at = time.time()
    killed = chaos.kill(cluster, target)
    back_after = chaos.wait_back(cluster, killed)
    applier.join(timeout=300)
    assert not applier.is_alive(), f"only {applier.created} Jobs created"
    jobs = eventually(lambda: all_ready(cluster, namespace), 300, "every Job Ready")
    print(
        f"{target}: back {back_after:.1f} s after the kill; every Job Ready "
        f"{time.monotonic() - killed.at:.1f} s after it; the applier was refused "
        f"{applier.refused} times"
    )

    by_name = {job["metadata"]["name"]: job for job in jobs}
    assert len(by_name) == JOBS
    for resource in ("deployments", "services"):
        children = items(cluster, namespace, resource)
        assert sorted(c["metadata"]["name"] for c in children) == sorted(by_name), resource
        for child in children:
            (owner,) = child["metadata"]["ownerReferences"]
            assert owner["uid"] == by_name[child["metadata"]["name"]]["metadata"]["uid"]
            assert owner["controller"] is True
    for deployment in items(cluster, namespace, "deployments"):
        name = deployment["metadata"]["name"]
        assert deployment["metadata"]["generation"] == 1, f"{name} was rewritten"
        assert deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    assert len(items(cluster, namespace, "replicasets")) == JOBS
    reasons = {event["reason"] for event in items(cluster, namespace, "events")}
    assert "DeploymentUpdated" not in reasons

    for name, job in by_name.items():
        status = job["status"]
        assert status["observedGeneration"] == job["metadata"]["generation"]
        assert status["image"] == job["spec"]["image"]
        assert status["url"] == f"http://{name}.{namespace}.svc.cluster.local:7000"
        assert status["availableReplicas"] == job["spec"]["replicas"] == 1
        assert {c["type"] for c in status["conditions"]} >= {"Ready", "Deployed", "Available"}
    # A Job Ready before the kill was never reported otherwise since, unless the node itself
    # went NotReady meanwhile (an API server slow to come back on a loaded machine can keep
    # the node's lease from being renewed): then its pods, and the Jobs, rightly flipped too.
    if node_ready_since(cluster) == node_before:
        for name, earlier in before.items():
            was = condition(earlier, "Ready")
            if was is not None and was["status"] == "True":
                now = condition(by_name[name], "Ready")
                assert now is not None
                assert now["lastTransitionTime"] == was["lastTransitionTime"], f"{name} flipped"
    else:
        print(f"{target}: the node went NotReady during the outage; Jobs may rightly have flipped")

    def families_settled() -> list[dict[str, Any]] | None:
        families = items(cluster, namespace, "jobfamilies.racetrack.io")
        settled = len(families) == FAMILIES and all(
            len(family.get("status", {}).get("versions", [])) == VERSIONS
            and family["status"].get("latest") == f"1.{VERSIONS - 1}.0"
            and all(version["ready"] for version in family["status"]["versions"])
            for family in families
        )
        return families if settled else None

    eventually(families_settled, 120, "every family lists its ten Ready versions")

    def metrics_recovered() -> bool:
        metrics = operator_metrics(chaos_cluster.metrics_url)
        return bool(
            metrics.get("racetrack_jobs", condition="Ready", status="True") == JOBS
            and metrics.get("racetrack_jobs", condition="Ready", status="False") == 0
        )

    eventually(metrics_recovered, 60, "the operator's metrics count every Job Ready")
    metrics = operator_metrics(chaos_cluster.metrics_url)
    assert metrics.total("racetrack_operator_reconciles_total", kind="Job", result="ok") >= JOBS
    operator_restarts = cluster.healer.restarts(addons.OPERATOR_COMPONENT)
    if target == addons.OPERATOR_COMPONENT:
        # The metrics come from the process started after the kill.
        assert operator_restarts == 1
        assert metrics.get("process_start_time_seconds") >= killed_at - 1
    else:
        # The operator rode out the outage: never restarted, the same process all along.
        assert operator_restarts == 0
        assert metrics.get("process_start_time_seconds") == started_at
