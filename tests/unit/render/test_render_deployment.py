"""The Deployment and Service a Job renders to."""

from __future__ import annotations

from typing import Any

import pytest
from rtjob_fixtures import adder, python3  # type: ignore[import-not-found]

from racetrack_api.jobtypes import JobTypeError, resolve_job_type
from racetrack_operator.render.deployment import desired_deployment, resources
from racetrack_operator.render.names import ANNOTATION_RENDER_HASH
from racetrack_operator.render.service import desired_service, service_url
from racetrack_operator.settings import Settings

SETTINGS = Settings()


def _container(body: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = body["spec"]["template"]["spec"]["containers"][0]
    return container


def _env(body: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in _container(body)["env"]}


def test_deployment_carries_manifest_settings() -> None:
    body = desired_deployment(adder(), python3(), SETTINGS)
    assert body["metadata"]["name"] == "adder-v1-0-0"
    assert body["metadata"]["namespace"] == "ml"
    assert body["spec"]["replicas"] == 2
    container = _container(body)
    assert container["image"] == "registry.example.org/racetrack/job-entrypoint/adder:1.0.0"
    assert container["ports"] == [{"name": "http", "containerPort": 7000, "protocol": "TCP"}]
    assert container["resources"] == {
        "requests": {"memory": "128Mi", "cpu": "50m"},
        "limits": {"memory": "512Mi", "cpu": "500m"},
    }
    for key in ("racetrack.io/family", "racetrack.io/version", "racetrack.io/job"):
        assert key in body["spec"]["template"]["metadata"]["labels"]
    assert body["metadata"]["labels"]["racetrack.io/family"] == "adder"
    assert body["metadata"]["labels"]["racetrack.io/version"] == "1.0.0"


def test_owner_reference_makes_deletion_cascade() -> None:
    (owner,) = desired_deployment(adder(), python3(), SETTINGS)["metadata"]["ownerReferences"]
    assert owner == {
        "apiVersion": "racetrack.io/v1alpha1",
        "kind": "Job",
        "name": "adder-v1-0-0",
        "uid": "0b5e4c1a-0000-4000-8000-000000000001",
        "controller": True,
        "blockOwnerDeletion": True,
    }


def test_probes_come_from_the_job_type() -> None:
    container = _container(desired_deployment(adder(), python3(), SETTINGS))
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/live", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == "/live"
    assert container["readinessProbe"]["periodSeconds"] == 10


def test_tcp_probes_for_a_job_type_without_health_endpoints() -> None:
    job = adder(spec={"jobtype": "docker-http:1.0.0", "jobtypeExtra": None})
    container = _container(desired_deployment(job, resolve_job_type("docker-http:1.0.0"), SETTINGS))
    assert container["readinessProbe"]["tcpSocket"] == {"port": "http"}
    assert "httpGet" not in container["livenessProbe"]


def test_runs_unprivileged() -> None:
    body = desired_deployment(adder(), python3(), SETTINGS)
    pod = body["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 100000
    assert pod["securityContext"]["fsGroup"] == 200000
    assert _container(body)["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }


def test_environment_precedence_and_operator_variables() -> None:
    job = adder(spec={"runtimeEnv": {"JOB_HOME_PAGE": "/custom", "MODEL": "x"}})
    env = _env(desired_deployment(job, python3(), Settings(pub_url="http://pub:7205/pub")))
    extra = adder().spec.jobtype_extra or {}
    # From jobtypeExtra, through the job type's mapping.
    assert env["JOB_ENTRYPOINT_PATH"] == extra["entrypoint_path"]
    assert env["JOB_ENTRYPOINT_CLASS"] == extra["entrypoint_class"]
    assert env["JOB_HOME_PAGE"] == "/custom"  # runtimeEnv wins over job type defaults
    assert env["MODEL"] == "x"
    assert env["JOB_NAME"] == "adder"
    assert env["JOB_VERSION"] == "1.0.0"
    assert env["JOB_TYPE_VERSION"] == "1.0.0"  # the resolved version, not the reference
    assert env["PUB_URL"] == "http://pub:7205/pub"
    assert env["JOB_DEPLOYMENT_TIMESTAMP"] == "1795608000"  # 2026-11-25T12:00:00Z


@pytest.mark.parametrize(
    ("reference", "version"),
    [("python3:2.*", "2.15.1"), ("python3:2.6.*", "2.6.2"), ("python3:latest", "3.0.0")],
)
def test_job_type_version_is_what_the_reference_resolved_to(reference: str, version: str) -> None:
    job = adder(spec={"jobtype": reference})
    env = _env(desired_deployment(job, resolve_job_type(reference), SETTINGS))
    assert env["JOB_TYPE_VERSION"] == version


def test_secret_is_mounted_as_env_from_and_never_read() -> None:
    job = adder(spec={"secretRuntimeEnv": {"name": "adder-secrets"}})
    container = _container(desired_deployment(job, python3(), SETTINGS))
    assert container["envFrom"] == [{"secretRef": {"name": "adder-secrets"}}]
    assert "envFrom" not in _container(desired_deployment(adder(), python3(), SETTINGS))


def test_missing_required_jobtype_extra_is_an_error() -> None:
    with pytest.raises(JobTypeError, match="entrypoint_path"):
        desired_deployment(adder(spec={"jobtypeExtra": {}}), python3(), SETTINGS)


def test_rendering_is_deterministic_and_the_hash_tracks_changes() -> None:
    first = desired_deployment(adder(), python3(), SETTINGS)
    again = desired_deployment(adder(), python3(), SETTINGS)
    assert first == again
    bigger = desired_deployment(adder(spec={"replicas": 3}), python3(), SETTINGS)
    assert (
        bigger["metadata"]["annotations"][ANNOTATION_RENDER_HASH]
        != first["metadata"]["annotations"][ANNOTATION_RENDER_HASH]
    )


def test_redeploy_annotation_changes_the_pod_template() -> None:
    plain = desired_deployment(adder(), python3(), SETTINGS)
    redeployed = desired_deployment(
        adder(annotations={"racetrack.io/redeploy-at": "2026-11-25T13:00:00Z"}), python3(), SETTINGS
    )
    template = redeployed["spec"]["template"]
    assert template["metadata"]["annotations"] == {
        "racetrack.io/redeploy-at": "2026-11-25T13:00:00Z"
    }
    assert _env(redeployed)["JOB_DEPLOYMENT_TIMESTAMP"] == "2026-11-25T13:00:00Z"
    assert "annotations" not in plain["spec"]["template"]["metadata"]
    assert template != plain["spec"]["template"]


def test_resource_defaults_and_limits_never_below_requests() -> None:
    job = adder(spec={"resources": None})
    assert resources(job, SETTINGS) == {
        "requests": {"memory": "256Mi", "cpu": "10m"},
        "limits": {"memory": "1Gi", "cpu": "1000m"},
    }
    big = adder(spec={"resources": {"memoryMin": "2Gi", "cpuMin": "2"}})
    assert resources(big, SETTINGS)["limits"] == {"memory": "2Gi", "cpu": "2"}


def test_service_points_at_the_job_port() -> None:
    service = desired_service(adder(), python3())
    assert service["spec"]["selector"] == {"racetrack.io/job": "adder-v1-0-0"}
    assert service["spec"]["ports"][0]["port"] == 7000
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert service["metadata"]["ownerReferences"][0]["kind"] == "Job"
    url = service_url(adder(), python3(), "cluster.local")
    assert url == "http://adder-v1-0-0.ml.svc.cluster.local:7000"


def test_a_docker_proxy_job_runs_the_proxy_beside_the_users_image() -> None:
    job = adder(spec={"jobtype": "docker-proxy:latest", "jobtypeExtra": {"user_module_port": 7004}})
    settings = Settings(job_runtime_image="registry.local/racetrack/python3-base:abc")
    body = desired_deployment(job, resolve_job_type("docker-proxy:latest"), settings)
    user, proxy = body["spec"]["template"]["spec"]["containers"]
    assert (user["name"], user["image"]) == ("job", job.spec.image)
    assert user["ports"] == [{"name": "user-module", "containerPort": 7004, "protocol": "TCP"}]
    assert "readinessProbe" not in user and "command" not in user
    assert (proxy["name"], proxy["image"]) == ("proxy", "registry.local/racetrack/python3-base:abc")
    assert proxy["command"] == ["racetrack-job", "proxy"]
    assert proxy["ports"] == [{"name": "http", "containerPort": 7000, "protocol": "TCP"}]
    assert proxy["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert proxy["env"] == user["env"] and proxy["resources"] == user["resources"]
    env = {e["name"]: e["value"] for e in proxy["env"]}
    assert (env["JOB_USER_MODULE_HOSTNAME"], env["JOB_USER_MODULE_PORT"]) == ("localhost", "7004")
    assert env["JOB_TYPE_VERSION"] == "4.0.0"
    # The Service still targets the port named http: the proxy's.
    assert (
        desired_service(job, resolve_job_type("docker-proxy:latest"))["spec"]["ports"][0][
            "targetPort"
        ]
        == "http"
    )


def test_a_built_image_carries_the_revision_it_was_built_from_as_git_version() -> None:
    commit = "4f2a9c1d0b7e6a5f4e3d2c1b0a9f8e7d6c5b4a39"
    built = desired_deployment(adder(), python3(), SETTINGS, image="r/a@sha256:1", revision=commit)
    assert _env(built)["GIT_VERSION"] == commit
    # A prebuilt image keeps whatever GIT_VERSION it has: the operator does not know one.
    assert "GIT_VERSION" not in _env(desired_deployment(adder(), python3(), SETTINGS))


def test_a_new_revision_rolls_the_pods_the_same_revision_does_not() -> None:
    def render(revision: str) -> str:
        body = desired_deployment(adder(), python3(), SETTINGS, image="r/a", revision=revision)
        return str(body["metadata"]["annotations"][ANNOTATION_RENDER_HASH])

    assert render("a" * 40) == render("a" * 40)
    assert render("a" * 40) != render("b" * 40)
