"""Build pods as the operator renders them, judged by the API server's own Pod Security
admission: a python3 build (layer composition) is admitted where "restricted" is enforced; a
Dockerfile build (rootless BuildKit) only where "privileged" is, as docs/builds.md says."""

from __future__ import annotations

import copy
import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import support  # type: ignore[import-not-found]
from racetrack_api.jobtypes import resolve_job_type
from racetrack_api.v1alpha1 import Job
from racetrack_devcluster.launcher import LocalCluster
from racetrack_operator.render import build
from racetrack_operator.settings import Settings

pytestmark = pytest.mark.cluster

ADDER = Path(__file__).resolve().parents[3] / "examples" / "adder.yaml"
REGISTRY = "registry.example.org"
SETTINGS = Settings(
    registry=REGISTRY,
    builder_image=f"{REGISTRY}/racetrack/builder:1",
    buildkit_image=f"{REGISTRY}/racetrack/buildkit:1",
    python3_base_image=f"{REGISTRY}/racetrack/python3-base:1",
    build_ca_configmap="kube-root-ca.crt",
)
LEVELS = ("restricted", "baseline", "privileged")


def job(**spec: Any) -> Job:
    raw: dict[str, Any] = copy.deepcopy(yaml.safe_load(ADDER.read_text()))
    git = {
        "remote": "https://git.example.org/ml/adder.git",
        "credentials": {"name": "git-creds"},
    }
    raw["spec"].update({"image": None, "git": git, **spec})
    raw["metadata"].update({"namespace": "ml", "uid": str(uuid.uuid4()), "generation": 1})
    return Job.model_validate(raw)


def build_pod(of: Job) -> dict[str, Any]:
    """The pod the build's batch Job would create, as a Pod of its own."""
    plan = build.build_plan(of, resolve_job_type(of.spec.jobtype), SETTINGS)
    assert isinstance(plan, build.BuildPlan), plan
    template = build.desired_build_job(of, plan, SETTINGS)["spec"]["template"]
    name = f"build-{uuid.uuid4().hex[:8]}"
    metadata = {"name": name, "labels": template["metadata"]["labels"]}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template["spec"]}


@pytest.fixture(scope="module")
def enforced(crds: LocalCluster) -> Iterator[dict[str, str]]:
    """A namespace enforcing each Pod Security level, by level."""
    made = {level: f"rt-pss-{level}-{uuid.uuid4().hex[:6]}" for level in LEVELS}
    for level, name in made.items():
        crds.kubectl("create", "namespace", name)
        crds.kubectl("label", "namespace", name, f"pod-security.kubernetes.io/enforce={level}")
        # The ServiceAccount admission wants the namespace's default account to exist.
        support.eventually(
            lambda n=name: (
                crds.kubectl("get", "sa", "default", "-n", n, check=False).returncode == 0
            ),
            60,
            f"the default ServiceAccount of {name}",
        )
    yield made
    for name in made.values():
        crds.kubectl("delete", "namespace", name, "--wait=false", check=False)


def create(
    cluster: LocalCluster, namespace: str, pod: dict[str, Any]
) -> subprocess.CompletedProcess[str]:
    """The pod created as a server-side dry run: every admission judges it, nothing is stored."""
    return cluster.kubectl(
        "create", "--dry-run=server", "-n", namespace, "-f", "-", input=json.dumps(pod), check=False
    )


def test_a_python3_build_pod_is_admitted_where_restricted_is_enforced(
    crds: LocalCluster, enforced: dict[str, str]
) -> None:
    composed = job(jobtypeExtra={"entrypoint_path": "a.py", "requirements_path": "r.txt"},
                   secretBuildEnv={"name": "pip-creds"})  # fmt: skip
    pod = build_pod(composed)
    assert [c["name"] for c in pod["spec"]["containers"]] == ["build"]
    created = create(crds, enforced["restricted"], pod)
    assert created.returncode == 0, created.stderr
    assert "PodSecurity" not in created.stderr  # not even a warning


@pytest.mark.parametrize(
    "spec",
    [
        {"jobtype": "docker-http:1.0.0", "jobtypeExtra": None},
        {"systemDependencies": ["libgomp1"]},
    ],
    ids=["docker-http", "python3-with-system-packages"],
)
def test_a_dockerfile_build_pod_needs_a_privileged_namespace(
    crds: LocalCluster, enforced: dict[str, str], spec: dict[str, Any]
) -> None:
    pod = build_pod(job(**spec))
    assert [c["name"] for c in pod["spec"]["containers"]] == ["dockerfile"]
    # Baseline forbids the Unconfined profiles BuildKit needs to make a user namespace...
    baseline = create(crds, enforced["baseline"], pod)
    assert baseline.returncode != 0
    assert 'violates PodSecurity "baseline:latest"' in baseline.stderr, baseline.stderr
    assert 'AppArmor profile type to "Unconfined"' in baseline.stderr
    assert 'seccompProfile.type to "Unconfined"' in baseline.stderr
    # ... restricted also the escalation and the two capabilities newuidmap carries.
    restricted = create(crds, enforced["restricted"], pod)
    assert restricted.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in restricted.stderr, restricted.stderr
    assert "allowPrivilegeEscalation=false" in restricted.stderr
    assert '"SETGID", "SETUID"' in restricted.stderr
    admitted = create(crds, enforced["privileged"], pod)
    assert admitted.returncode == 0, admitted.stderr
