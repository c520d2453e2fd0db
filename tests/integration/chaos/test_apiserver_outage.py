"""An API server that is gone for 30 s: the operator neither exits nor stops watching.

kopf's watches reconnect by themselves, but only as often as their back-off allows, and
requests that keep failing used to give up; here the real API server is killed and held
down for 30 s (the healer would otherwise bring it back at once). During the outage the
operator stays up and says in its metrics that its requests get no answer; afterwards the
same process sees a new Job, a changed Job, a Secret a Job was waiting for, and a Deployment
deleted by hand, each through a different watch or retry, and its metrics show the answers
coming back.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import yaml
from chaos_helpers import (  # type: ignore[import-not-found]
    REPO,
    ChaosCluster,
    condition,
    items,
    operator_metrics,
)

from racetrack_devcluster import addons, chaos
from racetrack_devcluster.launcher import LocalCluster
from support import eventually, job_ready  # type: ignore[import-not-found]

pytestmark = pytest.mark.cluster

OUTAGE_SECONDS = 30.0


def adder(name: str, version: str, **spec: Any) -> str:
    job = yaml.safe_load((REPO / "examples" / "adder.yaml").read_text())
    job["metadata"]["name"] = name
    job["spec"].update(version=version, replicas=1, **spec)
    return json.dumps(job)


def job(cluster: LocalCluster, namespace: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(
        cluster.kubectl("get", "rtjob", name, "-n", namespace, "-o", "json").stdout
    )
    return found


def no_answers(url: str) -> float:
    return float(
        operator_metrics(url).total("racetrack_operator_api_requests_total", code="<error>")
    )


def answers(url: str) -> float:
    metrics = operator_metrics(url)
    total = metrics.total("racetrack_operator_api_requests_total")
    return float(total - metrics.total("racetrack_operator_api_requests_total", code="<error>"))


def test_the_operator_rides_out_an_api_server_gone_for_30_seconds(
    chaos_cluster: ChaosCluster,
) -> None:
    cluster, namespace, url = (
        chaos_cluster.cluster,
        chaos_cluster.namespace,
        chaos_cluster.metrics_url,
    )
    apply = ("apply", "-n", namespace, "-f", "-")
    cluster.kubectl(*apply, input=adder("steady-v1-0-0", "1.0.0"))
    # Stalled until its Secret exists: its retries keep running through the outage.
    cluster.kubectl(
        *apply, input=adder("waiting-v1-1-0", "1.1.0", secretRuntimeEnv={"name": "late-keys"})
    )
    eventually(lambda: job_ready(job(cluster, namespace, "steady-v1-0-0")), 60, "steady Ready")
    eventually(
        lambda: (
            (cond := condition(job(cluster, namespace, "waiting-v1-1-0"), "Stalled"))
            and cond["reason"] == "SecretNotFound"
        ),
        60,
        "waiting Stalled for its Secret",
    )
    operator = cluster.component(addons.OPERATOR_COMPONENT)
    pid = operator.pid
    refused_before = no_answers(url)

    with cluster.healer.held("kube-apiserver"):
        killed = chaos.kill(cluster, "kube-apiserver")
        time.sleep(OUTAGE_SECONDS)
        assert operator.running() and operator.pid == pid
        # Still serving metrics, and they say its requests got no answer.
        assert no_answers(url) > refused_before
        answered_during = answers(url)
    chaos.wait_back(cluster, killed)

    cluster.kubectl(*apply, input=adder("late-v1-2-0", "1.2.0"))
    cluster.kubectl(
        "patch", "rtjob", "steady-v1-0-0", "-n", namespace, "--type=merge",
        "-p", '{"spec": {"replicas": 2}}',
    )  # fmt: skip
    cluster.kubectl(
        "create", "secret", "generic", "late-keys", "-n", namespace, "--from-literal=k=v"
    )
    eventually(lambda: job_ready(job(cluster, namespace, "late-v1-2-0")), 180, "a new Job Ready")
    eventually(lambda: job_ready(job(cluster, namespace, "waiting-v1-1-0")), 180, "waiting Ready")

    def scaled() -> bool:
        steady = job(cluster, namespace, "steady-v1-0-0")
        return bool(job_ready(steady) and steady["status"]["availableReplicas"] == 2)

    eventually(scaled, 180, "the changed Job rolled out to two replicas")
    cluster.kubectl("delete", "deployment", "late-v1-2-0", "-n", namespace)
    eventually(
        lambda: any(
            d["metadata"]["name"] == "late-v1-2-0" for d in items(cluster, namespace, "deployments")
        ),
        120,
        "the deleted Deployment put back",
    )

    # The same process all along, never restarted, and its answers came back.
    assert operator.running() and operator.pid == pid
    assert cluster.healer.restarts(addons.OPERATOR_COMPONENT) == 0
    assert answers(url) > answered_during
