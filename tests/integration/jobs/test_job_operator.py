"""The operator for real: Jobs become Deployments, status explains itself, changes roll out.

Each test runs the operator as a subprocess (``python -m racetrack_operator``) watching only
the test's namespace, and drives it the way a user would: kubectl and the API.
"""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from rtjob_helpers import REPO, OperatorProcess  # type: ignore[import-not-found]

from racetrack_devcluster.launcher import LocalCluster
from support import eventually  # type: ignore[import-not-found]

pytestmark = pytest.mark.cluster

ADDER = REPO / "examples" / "adder.yaml"


def get(cluster: LocalCluster, namespace: str, resource: str, name: str) -> dict[str, Any] | None:
    result = cluster.kubectl("get", resource, name, "-n", namespace, "-o", "json", check=False)
    if result.returncode != 0:
        return None
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


def condition(job: dict[str, Any] | None, type_: str) -> dict[str, Any]:
    for cond in (job or {}).get("status", {}).get("conditions", []):
        if cond["type"] == type_:
            found: dict[str, Any] = cond
            return found
    return {}


def wait_condition(
    cluster: LocalCluster, namespace: str, name: str, type_: str, status: str, reason: str = ""
) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        job = get(cluster, namespace, "rtjob", name)
        cond = condition(job, type_)
        matches = cond.get("status") == status and (not reason or cond.get("reason") == reason)
        fresh = job is not None and cond.get("observedGeneration") == job["metadata"]["generation"]
        return job if matches and fresh else None

    found: dict[str, Any] = eventually(check, 90, f"{name}: {type_}={status} {reason}")
    return found


def apply(cluster: LocalCluster, namespace: str, obj: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(obj))


def adder(**spec: Any) -> dict[str, Any]:
    job: dict[str, Any] = yaml.safe_load(ADDER.read_text())
    job["spec"].update(spec)
    return job


def test_job_becomes_a_ready_deployment_with_service_and_family(
    crds: LocalCluster, namespace: str, operator_process: OperatorProcess
) -> None:
    crds.kubectl("apply", "-n", namespace, "-f", str(ADDER))
    job = wait_condition(crds, namespace, "adder-v1-0-0", "Ready", "True", "JobReady")
    assert job["status"]["url"] == f"http://adder-v1-0-0.{namespace}.svc.cluster.local:7000"
    assert job["status"]["availableReplicas"] == 2
    # Reconciling and Stalled are present only while True (kstatus reads their absence).
    assert [cond["type"] for cond in job["status"]["conditions"]] == [
        "Ready",
        "Deployed",
        "Available",
    ]

    deployment = get(crds, namespace, "deployment", "adder-v1-0-0")
    assert deployment is not None
    assert deployment["metadata"]["ownerReferences"][0]["uid"] == job["metadata"]["uid"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels["racetrack.io/family"] == "adder"
    assert labels["racetrack.io/version"] == "1.0.0"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/live"
    assert container["resources"]["limits"]["memory"] == "512Mi"
    env = {e["name"]: e.get("value") for e in container["env"]}
    extra = yaml.safe_load(ADDER.read_text())["spec"]["jobtypeExtra"]
    assert env["JOB_ENTRYPOINT_PATH"] == extra["entrypoint_path"]
    assert env["LOG_CALLER_NAME"] == "true"
    service = get(crds, namespace, "service", "adder-v1-0-0")
    assert service is not None
    assert service["spec"]["ports"][0]["port"] == 7000
    # `kubectl get --show-managed-fields` credits the operator with what it wrote.
    shown = crds.kubectl(
        "get", "rtjob,deployment,service", "adder-v1-0-0", "-n", namespace,
        "--show-managed-fields", "-o", "json",
    ).stdout  # fmt: skip
    for obj in json.loads(shown)["items"]:
        managers = {entry["manager"] for entry in obj["metadata"]["managedFields"]}
        assert "racetrack-operator" in managers, (obj["kind"], managers)
        assert "OpenAPI-Generator" not in managers, (obj["kind"], managers)

    family = eventually(
        lambda: (
            (f := get(crds, namespace, "rtfamily", "adder"))
            and f.get("status", {}).get("latest") == "1.0.0"
            and f
        ),
        60,
        "family adder lists 1.0.0 as latest",
    )
    assert family["status"]["versions"] == [
        {"version": "1.0.0", "job": "adder-v1-0-0", "ready": True}
    ]
    events = crds.kubectl("describe", "rtjob", "adder-v1-0-0", "-n", namespace).stdout
    assert "JobReady" in events
    posted = json.loads(crds.kubectl(
        "get", "events", "-n", namespace, "-o", "json",
        "--field-selector", "involvedObject.name=adder-v1-0-0,reason=JobReady",
    ).stdout)["items"]  # fmt: skip
    # The "From" column of kubectl describe: the operator, not the framework under it.
    assert [e["source"]["component"] for e in posted] == ["racetrack-operator"]


def test_missing_secret_stalls_then_recovers_when_created(
    crds: LocalCluster, namespace: str, operator_process: OperatorProcess
) -> None:
    docs = list(yaml.safe_load_all((REPO / "examples" / "scorer-with-secret.yaml").read_text()))
    secret, job = docs[0], docs[1]
    apply(crds, namespace, job)
    stalled = wait_condition(crds, namespace, "scorer-v2-0-0-rc-1", "Stalled", "True")
    assert condition(stalled, "Stalled")["reason"] == "SecretNotFound"
    assert "scorer-runtime-env" in condition(stalled, "Stalled")["message"]
    assert condition(stalled, "Ready")["reason"] == "SecretNotFound"
    assert get(crds, namespace, "deployment", "scorer-v2-0-0-rc-1") is None
    # Other Jobs keep reconciling meanwhile.
    crds.kubectl("apply", "-n", namespace, "-f", str(ADDER))
    wait_condition(crds, namespace, "adder-v1-0-0", "Ready", "True")
    described = crds.kubectl("describe", "rtjob", "scorer-v2-0-0-rc-1", "-n", namespace).stdout
    assert "Warning" in described and "SecretNotFound" in described
    # The secret's value never appears in events or status.
    apply(crds, namespace, secret)
    ready = wait_condition(crds, namespace, "scorer-v2-0-0-rc-1", "Ready", "True")
    assert condition(ready, "Stalled") == {}  # recovered: the condition is gone
    deployment = get(crds, namespace, "deployment", "scorer-v2-0-0-rc-1")
    assert deployment is not None
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["envFrom"] == [{"secretRef": {"name": "scorer-runtime-env"}}]
    everything = crds.kubectl("get", "events,rtjobs", "-n", namespace, "-o", "yaml").stdout
    assert "not-a-real-key" not in everything
    assert "not-a-real-key" not in operator_process.logs()


def test_unknown_jobtype_stalls_and_fixing_the_spec_recovers(
    crds: LocalCluster, namespace: str, operator_process: OperatorProcess
) -> None:
    apply(crds, namespace, adder(jobtype="cobol:9.9.9"))
    stalled = wait_condition(crds, namespace, "adder-v1-0-0", "Stalled", "True", "UnknownJobType")
    assert "python3:1.0.0" in condition(stalled, "Stalled")["message"]  # lists what exists
    apply(crds, namespace, adder(jobtype="python3:1.0.0"))
    wait_condition(crds, namespace, "adder-v1-0-0", "Ready", "True")


def test_racetrack_job_type_pins_resolve_with_the_original_rules(
    crds: LocalCluster, namespace: str, operator_process: OperatorProcess
) -> None:
    apply(crds, namespace, adder(jobtype="python3:2.99.*"))
    stalled = wait_condition(crds, namespace, "adder-v1-0-0", "Stalled", "True", "UnknownJobType")
    assert "python3:2.3.0 to python3:2.15.1" in condition(stalled, "Stalled")["message"]
    apply(crds, namespace, adder(jobtype="python3:2.6.*"))
    wait_condition(crds, namespace, "adder-v1-0-0", "Ready", "True")
    deployment = get(crds, namespace, "deployment", "adder-v1-0-0")
    assert deployment is not None
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "JOB_TYPE_VERSION", "value": "2.6.2"} in env


def test_docker_proxy_job_runs_the_runtime_proxy_beside_the_users_image(
    crds: LocalCluster, namespace: str, operator_process: OperatorProcess, tmp_path: Path
) -> None:
    job = adder(jobtype="docker-proxy:latest", jobtypeExtra={"user_module_port": 7004})
    apply(crds, namespace, job)
    stalled = wait_condition(
        crds, namespace, "adder-v1-0-0", "Stalled", "True", "JobTypeUnavailable"
    )
    assert "RACETRACK_JOB_RUNTIME_IMAGE" in condition(stalled, "Stalled")["message"]
    assert get(crds, namespace, "deployment", "adder-v1-0-0") is None

    # The admin sets the runtime image; the operator, restarted with it, deploys the Job.
    operator_process.stop()
    runtime_image = "registry.example.org/racetrack/python3-base:1"
    configured = OperatorProcess(
        crds.kubeconfig,
        tmp_path / "configured",
        {**operator_process.extra_env, "RACETRACK_JOB_RUNTIME_IMAGE": runtime_image},
    )
    configured.log_dir.mkdir()
    configured.start()
    try:
        ready = wait_condition(crds, namespace, "adder-v1-0-0", "Ready", "True")
        assert ready["status"]["image"] == job["spec"]["image"]  # the user's, not the proxy's
        deployment = get(crds, namespace, "deployment", "adder-v1-0-0")
        assert deployment is not None
        containers = deployment["spec"]["template"]["spec"]["containers"]
        assert [(c["name"], c["image"]) for c in containers] == [
            ("job", job["spec"]["image"]),
            ("proxy", runtime_image),
        ]
        assert containers[1]["command"] == ["racetrack-job", "proxy"]
        assert containers[0]["ports"][0]["containerPort"] == 7004
    finally:
        configured.stop()


def test_editing_replicas_and_memory_rolls_the_deployment(
    crds: LocalCluster, namespace: str, operator_process: OperatorProcess
) -> None:
    crds.kubectl("apply", "-n", namespace, "-f", str(ADDER))
    wait_condition(crds, namespace, "adder-v1-0-0", "Ready", "True")
    crds.kubectl(
        "patch", "rtjob", "adder-v1-0-0", "-n", namespace, "--type=merge",
        "-p", '{"spec": {"replicas": 3, "resources": {"memoryMax": "768Mi"}}}',
    )  # fmt: skip
    job = wait_condition(crds, namespace, "adder-v1-0-0", "Ready", "True")
    assert job["metadata"]["generation"] == 2
    assert job["status"]["availableReplicas"] == 3
    deployment = get(crds, namespace, "deployment", "adder-v1-0-0")
    assert deployment is not None
    assert deployment["spec"]["replicas"] == 3
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"]["memory"] == "768Mi"
    assert deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    described = crds.kubectl("describe", "rtjob", "adder-v1-0-0", "-n", namespace).stdout
    assert "DeploymentUpdated" in described and "Rolling out generation 2" in described


def test_redeploy_annotation_rolls_an_unchanged_job(
    crds: LocalCluster, namespace: str, operator_process: OperatorProcess
) -> None:
    crds.kubectl("apply", "-n", namespace, "-f", str(ADDER))
    wait_condition(crds, namespace, "adder-v1-0-0", "Ready", "True")
    crds.kubectl(
        "annotate", "rtjob", "adder-v1-0-0", "-n", namespace,
        "racetrack.io/redeploy-at=2026-11-25T12:00:00Z",
    )  # fmt: skip

    def rolled() -> dict[str, Any] | None:
        d = get(crds, namespace, "deployment", "adder-v1-0-0")
        revision = (d or {}).get("metadata", {}).get("annotations", {})
        return d if revision.get("deployment.kubernetes.io/revision") == "2" else None

    deployment = eventually(rolled, 60, "a second ReplicaSet revision")
    template = deployment["spec"]["template"]
    assert template["metadata"]["annotations"]["racetrack.io/redeploy-at"] == (
        "2026-11-25T12:00:00Z"
    )
    env = {e["name"]: e.get("value") for e in template["spec"]["containers"][0]["env"]}
    assert env["JOB_DEPLOYMENT_TIMESTAMP"] == "2026-11-25T12:00:00Z"
    wait_condition(crds, namespace, "adder-v1-0-0", "Ready", "True")


def test_deleting_the_last_version_empties_the_family_and_cascades(
    crds: LocalCluster, namespace: str, operator_process: OperatorProcess
) -> None:
    crds.kubectl("apply", "-n", namespace, "-f", str(ADDER))
    other = adder(name="scorer", version="3.0.0")
    other["metadata"]["name"] = "scorer-v3-0-0"
    apply(crds, namespace, other)
    wait_condition(crds, namespace, "adder-v1-0-0", "Ready", "True")
    wait_condition(crds, namespace, "scorer-v3-0-0", "Ready", "True")
    # The family lists the version first, so what follows proves the deletion removed it.
    eventually(
        lambda: (
            (f := get(crds, namespace, "rtfamily", "adder"))
            and f.get("status", {}).get("latest") == "1.0.0"
        ),
        60,
        "family adder lists 1.0.0 as latest",
    )

    crds.kubectl("delete", "rtjob", "adder-v1-0-0", "-n", namespace, "--wait=true")
    eventually(
        lambda: (
            get(crds, namespace, "deployment", "adder-v1-0-0") is None
            and get(crds, namespace, "service", "adder-v1-0-0") is None
        ),
        60,
        "children garbage-collected",
    )
    family = eventually(
        lambda: (
            (f := get(crds, namespace, "rtfamily", "adder"))
            and f.get("status", {}).get("observedGeneration")
            and not f["status"].get("versions")
            and f
        ),
        60,
        "family adder has no versions",
    )
    assert "latest" not in family["status"]
    # Nothing of the other family was touched.
    assert get(crds, namespace, "deployment", "scorer-v3-0-0") is not None
    scorer = get(crds, namespace, "rtfamily", "scorer")
    assert scorer is not None and scorer["status"]["latest"] == "3.0.0"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_metrics_and_liveness_are_served(
    crds: LocalCluster, namespace: str, tmp_path: Path
) -> None:
    metrics_port, live_port = _free_port(), _free_port()
    operator = OperatorProcess(
        crds.kubeconfig,
        tmp_path,
        {
            "RACETRACK_NAMESPACES": namespace,
            "RACETRACK_METRICS_PORT": str(metrics_port),
            "RACETRACK_LIVENESS_ENDPOINT": f"http://127.0.0.1:{live_port}/healthz",
        },
    )
    operator.start()
    try:
        crds.kubectl("apply", "-n", namespace, "-f", str(ADDER))
        wait_condition(crds, namespace, "adder-v1-0-0", "Ready", "True")

        def scrape() -> str | None:
            with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics") as answer:
                text: str = answer.read().decode()
            wanted = 'racetrack_jobs{condition="Ready",status="True"} 1.0'
            return text if wanted in text else None

        text = eventually(scrape, 30, "the Ready Job counted in racetrack_jobs")
        assert 'racetrack_operator_reconciles_total{kind="Job",result="ok"}' in text
        assert "racetrack_operator_reconcile_duration_seconds_count" in text
        with urllib.request.urlopen(f"http://127.0.0.1:{live_port}/healthz") as answer:
            assert answer.status == 200
    finally:
        operator.stop()
