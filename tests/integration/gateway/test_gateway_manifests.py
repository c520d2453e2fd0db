"""manifests/gateway installs, and its RBAC is enough, and no more, for the agent to serve.

The agent runs with a token of the manifests' ServiceAccount (HAProxy beside it as usual),
so every API call it makes is checked against the ClusterRole we ship.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from gateway_helpers import (  # type: ignore[import-not-found]
    Gateway,
    apply,
    job,
    operator_for,
    status_of,
    unique,
    until_status,
    wait_serving,
)

from gateway_harness import REPO, Echo  # type: ignore[import-not-found]
from racetrack_devcluster.launcher import LocalCluster
from support import eventually  # type: ignore[import-not-found]

pytestmark = pytest.mark.cluster

SA = "system:serviceaccount:racetrack-system:racetrack-gateway"


def rendered(cluster: LocalCluster, folder: str) -> list[dict[str, Any]]:
    text = cluster.kubectl("kustomize", str(REPO / folder)).stdout
    return [doc for doc in yaml.safe_load_all(text) if doc]


@pytest.fixture(scope="module")
def installed(cluster: LocalCluster) -> LocalCluster:
    """The gateway's part of ``manifests/`` (its namespace, ServiceAccount, RBAC, Deployment
    and Services, as the whole install renders them) on the session's cluster. Not the rest:
    the webhook configurations would send every later test's changes to webhooks that do not
    run here."""
    gateway = [
        doc
        for doc in rendered(cluster, "manifests")
        if doc["kind"] == "Namespace" or doc["metadata"]["name"].startswith("racetrack-gateway")
    ]
    result = cluster.kubectl(
        "apply", "--server-side", "--force-conflicts", "-f", "-",
        input="\n---\n".join(json.dumps(doc) for doc in gateway), check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return cluster


def test_two_replicas_of_haproxy_and_the_agent_share_one_folder(cluster: LocalCluster) -> None:
    objects = rendered(cluster, "manifests")
    (deployment,) = [
        o
        for o in objects
        if o["kind"] == "Deployment" and o["metadata"]["name"] == "racetrack-gateway"
    ]
    assert deployment["metadata"]["namespace"] == "racetrack-system"
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in pod["containers"]}
    assert set(containers) == {"agent", "haproxy"}
    for container in containers.values():
        assert container["volumeMounts"] == [{"name": "run", "mountPath": "/run/racetrack-gateway"}]
    env = {e["name"]: e["value"] for e in containers["agent"]["env"]}
    assert env["RACETRACK_GATEWAY_HAPROXY"] == "external"
    assert containers["haproxy"]["image"].startswith("haproxy:2.6")
    assert containers["haproxy"]["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert "readinessProbe" not in containers["agent"]
    services = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Service"}
    assert services["racetrack-gateway"]["spec"]["ports"][0]["targetPort"] == "http"
    assert services["racetrack-gateway-metrics"]["spec"]["ports"][0]["targetPort"] == "agent"
    operator = next(
        o
        for o in objects
        if o["kind"] == "Deployment" and o["metadata"]["name"] == "racetrack-operator"
    )
    operator_env = {  # some entries are valueFrom
        e["name"]: e.get("value")
        for e in operator["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert operator_env["RACETRACK_PUB_URL"] == "http://racetrack-gateway.racetrack-system.svc/pub"


def test_the_service_monitor_scrapes_the_metrics_service(cluster: LocalCluster) -> None:
    (monitor,) = rendered(cluster, "manifests/gateway/servicemonitor")
    services = [o for o in rendered(cluster, "manifests") if o["kind"] == "Service"]
    metrics = next(s for s in services if s["metadata"]["name"] == "racetrack-gateway-metrics")
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= metrics["metadata"]["labels"].items()
    assert [
        s["metadata"]["name"]
        for s in services
        if selector.items() <= s["metadata"].get("labels", {}).items()
    ] == ["racetrack-gateway-metrics"]
    assert monitor["spec"]["endpoints"][0]["port"] == metrics["spec"]["ports"][0]["name"]


@pytest.mark.parametrize(
    ("verb", "resource", "allowed"),
    [
        ("watch", "jobs.racetrack.io", True),
        ("watch", "permissions.racetrack.io", True),
        ("list", "users.racetrack.io", True),
        ("watch", "services", True),
        ("patch", "jobs.racetrack.io --subresource=status", True),
        ("get", "secrets", False),
        ("list", "secrets", False),
        ("patch", "jobs.racetrack.io", False),
        ("patch", "jobfamilies.racetrack.io --subresource=status", False),
        ("create", "permissions.racetrack.io", False),
        ("delete", "services", False),
    ],
)
def test_rbac_is_least_privilege(
    installed: LocalCluster, verb: str, resource: str, allowed: bool
) -> None:
    answer = installed.kubectl(
        "auth", "can-i", verb, *resource.split(), "-n", "default", "--as", SA, check=False
    )
    assert answer.stdout.strip() == ("yes" if allowed else "no")


def service_account_kubeconfig(cluster: LocalCluster, path: Path) -> Path:
    token = cluster.kubectl(
        "create", "token", "racetrack-gateway", "-n", "racetrack-system", "--duration=1h"
    ).stdout.strip()
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    server = dict(admin["clusters"][0]["cluster"])
    if "certificate-authority" in server:
        ca = Path(server.pop("certificate-authority")).read_bytes()
        server["certificate-authority-data"] = base64.b64encode(ca).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": server}],
        "users": [{"name": "gateway", "user": {"token": token}}],
        "contexts": [{"name": "gateway", "context": {"cluster": "local", "user": "gateway"}}],
        "current-context": "gateway",
    }
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def echo() -> Iterator[Echo]:
    server = Echo()
    yield server
    server.close()


def test_the_agent_serves_with_only_its_service_account(
    installed: LocalCluster, tmp_path: Path, echo: Echo
) -> None:
    namespace = unique("gw-rbac")
    installed.kubectl("create", "namespace", namespace)
    # The platform namespace the manifests install and the agent's RBAC reads.
    operator = operator_for(installed, namespace, "racetrack-system", tmp_path)
    operator.start()
    gateway = Gateway(
        service_account_kubeconfig(installed, tmp_path / "sa.kubeconfig"),
        namespace,
        "racetrack-system",
        tmp_path,
    )
    try:
        gateway.start()
        family = unique("echo")
        apply(installed, job(namespace, family, "1.0.0", echo.address, publicEndpoints=["/"]))
        wait_serving(installed, namespace, family, 1)
        until_status(lambda: gateway.client.get(f"/pub/job/{family}/latest/"), 200)
        name = f"{family}-v1-0-0"
        eventually(lambda: status_of(installed, "rtjob", name, namespace).get("lastCallTime"))
    finally:
        gateway.stop()
        operator.stop()
        installed.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
    logs = gateway.agent.logs()
    assert "Forbidden" not in logs and " 403" not in logs, logs[-3000:]
