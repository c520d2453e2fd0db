"""The build of a Job's image as rendered: its plan, its inputs and its batch Job (pure)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from rtjob_fixtures import adder, python3  # type: ignore[import-not-found]

from racetrack_api import conditions as c
from racetrack_api.jobtypes import resolve_job_type
from racetrack_api.labels import LABEL_BUILD_OF, LABEL_JOB
from racetrack_api.v1alpha1 import Job
from racetrack_api.version import __version__
from racetrack_operator.render import build
from racetrack_operator.render.problems import Problem
from racetrack_operator.settings import Settings

REGISTRY = "registry.example.org"
SETTINGS = Settings(
    registry=REGISTRY,
    builder_image=f"{REGISTRY}/racetrack/builder:1",
    buildkit_image=f"{REGISTRY}/racetrack/buildkit:1",
    python3_base_image=f"{REGISTRY}/racetrack/python3-base:1",
    build_env=("PIP_INDEX_URL=https://pypi.example.org/simple",),
    build_ca_configmap="kube-root-ca.crt",
)
GIT = {
    "remote": "https://git.example.org/ml/adder.git",
    "branch": "main",
    "directory": "jobs/adder",
}


def from_git(**spec: Any) -> Job:
    job: Job = adder(spec={"image": None, "git": GIT, **spec})
    return job


def plan_of(job: Job, settings: Settings = SETTINGS) -> build.BuildPlan:
    plan = build.build_plan(job, resolve_job_type(job.spec.jobtype), settings)
    assert isinstance(plan, build.BuildPlan), plan
    return plan


def test_python3_is_composed_and_docker_http_built_from_its_dockerfile() -> None:
    composed = plan_of(from_git())
    assert (composed.kind, composed.dockerfile) == ("compose", None)
    assert composed.steps == ("fetch", "build")
    assert composed.repository == "racetrack/jobs/adder"
    docker = plan_of(from_git(jobtype="docker-http:1.0.0", jobtypeExtra=None))
    assert (docker.kind, docker.dockerfile, docker.steps) == (
        "dockerfile",
        None,
        ("fetch", "dockerfile"),
    )


def test_system_packages_route_a_python3_job_to_a_rendered_dockerfile() -> None:
    plan = plan_of(from_git(systemDependencies=["libgomp1"], buildEnv={"PIP_PRE": "1"}))
    assert plan.kind == "dockerfile" and plan.dockerfile is not None
    assert plan.dockerfile.startswith(f"FROM {REGISTRY}/racetrack/python3-base:1\n")
    assert "ARG PIP_INDEX_URL\nARG PIP_PRE\n" in plan.dockerfile
    assert "libgomp1" in plan.dockerfile


@pytest.mark.parametrize(
    ("spec", "settings", "reason", "says"),
    [
        ({}, Settings(), c.REASON_BUILD_NOT_CONFIGURED, "RACETRACK_REGISTRY"),
        ({}, Settings(registry=REGISTRY), c.REASON_BUILD_NOT_CONFIGURED, "RACETRACK_BUILDER_IMAGE"),
        (
            {"jobtype": "docker-http:1.0.0", "jobtypeExtra": None},
            Settings(registry=REGISTRY, builder_image="b", python3_base_image=f"{REGISTRY}/x:1"),
            c.REASON_BUILD_NOT_CONFIGURED,
            "RACETRACK_BUILDKIT_IMAGE",
        ),
        (
            {"jobtype": "docker-http:1.0.0", "jobtypeExtra": None, "systemDependencies": ["curl"]},
            SETTINGS,
            c.REASON_INVALID_SPEC,
            "install the packages there",
        ),
    ],
    ids=["no-registry", "no-builder", "no-buildkit", "packages-with-own-dockerfile"],
)
def test_what_stops_a_build_says_what_to_set(
    spec: dict[str, Any], settings: Settings, reason: str, says: str
) -> None:
    job = from_git(**spec)
    problem = build.build_plan(job, resolve_job_type(job.spec.jobtype), settings)
    assert isinstance(problem, Problem) and problem.reason == reason and not problem.retry
    assert says in problem.message


def inputs(job: Job) -> str:
    return build.build_inputs(job, resolve_job_type(job.spec.jobtype))


def test_inputs_change_with_what_the_image_is_made_of() -> None:
    base = inputs(from_git())
    assert inputs(from_git()) == base
    changed = {
        inputs(from_git(git={**GIT, "branch": "dev"})),
        inputs(from_git(git={**GIT, "credentials": {"name": "git-creds"}})),
        inputs(from_git(buildEnv={"PIP_PRE": "1"})),
        inputs(from_git(secretBuildEnv={"name": "pip-creds"})),
        inputs(from_git(systemDependencies=["libgomp1"])),
        inputs(
            from_git(jobtypeExtra={"entrypoint_path": "adder.py", "requirements_path": "r.txt"})
        ),
        build.build_inputs(
            adder(spec={"image": None, "git": GIT}, annotations={"racetrack.io/rebuild-at": "1"}),
            python3(),
        ),
    }
    assert base not in changed and len(changed) == 7
    # python3:1.0.0 and python3:latest are one implementation today: the same image.
    assert inputs(from_git(jobtype="python3:latest")) == base
    assert inputs(from_git(jobtype="docker-http:1.0.0", jobtypeExtra=None)) != base


def test_inputs_ignore_what_only_the_running_job_uses() -> None:
    base = inputs(from_git())
    assert inputs(from_git(replicas=3)) == base
    assert inputs(from_git(runtimeEnv={"MODEL": "x"})) == base
    assert inputs(from_git(jobtypeExtra={"entrypoint_path": "other.py"})) == base
    assert inputs(from_git(resources={"memoryMax": "2Gi"})) == base
    redeploy = adder(
        spec={"image": None, "git": GIT}, annotations={"racetrack.io/redeploy-at": "1"}
    )
    assert build.build_inputs(redeploy, python3()) == base


def test_the_build_job_is_named_after_the_job_and_its_inputs_within_63_characters() -> None:
    assert build.build_job_name(from_git(), "0123456789abcdef") == "adder-v1-0-0-build-01234567"
    long_job = adder(spec={"image": None, "git": GIT}, name="a" * 62 + "b")
    assert len(build.build_job_name(long_job, "0123456789abcdef")) <= 63


def rendered(job: Job, settings: Settings = SETTINGS) -> dict[str, Any]:
    return build.desired_build_job(job, plan_of(job, settings), settings)


def test_a_python3_build_runs_two_restricted_steps() -> None:
    body = rendered(
        from_git(jobtypeExtra={"entrypoint_path": "a.py", "requirements_path": "r.txt"})
    )
    spec = body["spec"]
    assert spec["backoffLimit"] == 3 and spec["activeDeadlineSeconds"] == 900
    assert spec["podFailurePolicy"]["rules"][0] == {
        "action": "FailJob",
        "onExitCodes": {"operator": "In", "values": [build.PERMANENT_EXIT_CODE]},
    }
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False
    steps = [*pod["initContainers"], *pod["containers"]]
    assert [s["name"] for s in steps] == ["fetch", "build"]
    for step in steps:
        assert step["image"] == SETTINGS.builder_image and step["args"] == [step["name"]]
        assert step["terminationMessagePolicy"] == "FallbackToLogsOnError"
        # Pod Security "restricted", and a read-only root: only the workspace is written.
        assert step["securityContext"] == {
            "runAsNonRoot": True,
            "runAsUser": 65532,
            "runAsGroup": 65532,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        }
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    env = {e["name"]: e["value"] for e in steps[1]["env"]}
    assert env["RACETRACK_REQUIREMENTS_PATH"] == "r.txt"
    assert env["PIP_INDEX_URL"] == "https://pypi.example.org/simple"
    assert env["RACETRACK_IMAGE_REPOSITORY"] == "racetrack/jobs/adder"
    assert env["RACETRACK_EXTRA_CA_DIR"] == build.CA_DIR
    # The image gets the platform's version, so the Deployment need not (see the builder).
    assert env["RACETRACK_PLATFORM_VERSION"] == __version__
    fetch = {e["name"]: e["value"] for e in steps[0]["env"]}
    assert (fetch["RACETRACK_GIT_REMOTE"], fetch["RACETRACK_GIT_BRANCH"]) == (GIT["remote"], "main")
    assert fetch["RACETRACK_GIT_DIRECTORY"] == "jobs/adder"
    assert "PIP_INDEX_URL" not in fetch  # each step gets what it needs


def test_a_job_s_own_build_env_wins_over_the_operator_s() -> None:
    body = rendered(from_git(buildEnv={"PIP_INDEX_URL": "https://mine.example.org/simple"}))
    main = body["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in main["env"]}
    assert env["PIP_INDEX_URL"] == "https://mine.example.org/simple"


def test_build_pods_are_never_selected_by_the_job_s_service() -> None:
    body = rendered(from_git())
    labels = body["spec"]["template"]["metadata"]["labels"]
    assert LABEL_JOB not in labels and labels[LABEL_BUILD_OF] == "adder-v1-0-0"
    assert labels["app.kubernetes.io/component"] == "build"
    assert body["metadata"]["ownerReferences"][0]["uid"] == from_git().metadata["uid"]


def test_credentials_reach_only_the_step_that_needs_them() -> None:
    job = from_git(
        git={**GIT, "credentials": {"name": "git-creds"}}, secretBuildEnv={"name": "pip-creds"}
    )
    pod = rendered(job)["spec"]["template"]["spec"]
    [fetch] = pod["initContainers"]
    [main] = pod["containers"]
    assert {"name": "git-credentials", "secret": {"secretName": "git-creds"}} in pod["volumes"]
    assert "git-credentials" in [m["name"] for m in fetch["volumeMounts"]]
    assert all(m["name"] != "git-credentials" for m in main["volumeMounts"])
    assert main["envFrom"] == [{"secretRef": {"name": "pip-creds"}}]
    assert "envFrom" not in fetch


def test_a_dockerfile_build_runs_rootless_buildkit_with_only_what_it_needs() -> None:
    job = from_git(jobtype="docker-http:1.0.0", jobtypeExtra=None, buildEnv={"GREETING": "hi"},
                   secretBuildEnv={"name": "build-secrets"})  # fmt: skip
    pod = rendered(job)["spec"]["template"]["spec"]
    [main] = pod["containers"]
    assert (main["name"], main["image"]) == ("dockerfile", SETTINGS.buildkit_image)
    assert main["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "runAsGroup": 1000,
        "allowPrivilegeEscalation": True,
        "capabilities": {"drop": ["ALL"], "add": ["SETUID", "SETGID"]},
        "seccompProfile": {"type": "Unconfined"},
        "appArmorProfile": {"type": "Unconfined"},
        "readOnlyRootFilesystem": True,
    }
    env = {e["name"]: e["value"] for e in main["env"]}
    assert env["RACETRACK_BUILD_ARGS"] == "GREETING,PIP_INDEX_URL,RACETRACK_BASE_IMAGE"
    assert env["RACETRACK_BUILD_SECRETS"] == build.BUILD_SECRETS_DIR
    assert "RACETRACK_DOCKERFILE" not in env  # the job's own Dockerfile
    assert env["RACETRACK_PLATFORM_VERSION"] == __version__
    assert "RACETRACK_REGISTRY_MIRRORS" not in env  # none configured
    mirrored = dataclasses.replace(SETTINGS, build_registry_mirrors=("docker.io",))
    [with_mirrors] = rendered(job, mirrored)["spec"]["template"]["spec"]["containers"]
    assert {"name": "RACETRACK_REGISTRY_MIRRORS", "value": "docker.io"} in with_mirrors["env"]
    mounts = {m["mountPath"] for m in main["volumeMounts"]}
    assert {"/home/user/.local/share/buildkit", "/run/user/1000", build.BUILD_SECRETS_DIR} <= mounts
    # The fetch step stays restricted.
    assert pod["initContainers"][0]["securityContext"]["allowPrivilegeEscalation"] is False


def test_without_a_ca_setting_nothing_extra_is_mounted() -> None:
    settings = Settings(**{**SETTINGS.__dict__, "build_ca_configmap": ""})
    pod = rendered(from_git(), settings)["spec"]["template"]["spec"]
    assert all(v["name"] != "ca" for v in pod["volumes"])
    env = {e["name"] for step in pod["initContainers"] for e in step["env"]}
    assert "RACETRACK_EXTRA_CA_DIR" not in env


def test_a_source_artifact_is_fetched_by_digest() -> None:
    artifact = f"{REGISTRY}/racetrack/sources/adder@sha256:" + "a" * 64
    job = adder(spec={"image": None, "source": {"artifact": artifact}})
    fetch = rendered(job)["spec"]["template"]["spec"]["initContainers"][0]
    env = {e["name"]: e["value"] for e in fetch["env"]}
    assert env["RACETRACK_SOURCE_ARTIFACT"] == artifact
    assert not any(name.startswith("RACETRACK_GIT_") for name in env)
