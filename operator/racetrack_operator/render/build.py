"""A Job's image build: what it is made from, the batch Job that makes it (pure).

``build_plan`` decides how a Job is built (python3 layer composition, or a Dockerfile with
BuildKit for docker-http jobs and python3 jobs with system packages) and what the build's
inputs are: the source, the build environment, the job type and the ``rebuild-at``
annotation. Their hash names the batch Job (``<job>-build-<hash>``), so an unchanged Job
never builds twice and a changed one builds anew. ``desired_build_job`` renders that batch
Job; ``observe.py`` reads it back.

Build pods run with the least privilege their step needs. ``fetch`` and python3's
``build`` meet Pod Security "restricted": a non-root user, no capabilities, no privilege
escalation, the runtime's default seccomp profile, a read-only root filesystem. Rootless
BuildKit needs more and gets only that: a user namespace (an Unconfined seccomp profile, as
the default one forbids creating one), and ``newuidmap``/``newgidmap`` to map its subordinate
ids (privilege escalation, with SETUID and SETGID as the only capabilities); still no root.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any, Literal

from racetrack_api import conditions as c
from racetrack_api.jobtypes import BuildRecipeError, JobType, render_dockerfile
from racetrack_api.labels import (
    ANNOTATION_REBUILD_AT,
    LABEL_BUILD_INPUTS,
    LABEL_BUILD_OF,
    LABEL_JOB,
)
from racetrack_api.v1alpha1 import Job
from racetrack_api.version import __version__ as PLATFORM_VERSION
from racetrack_operator.render import names
from racetrack_operator.render.problems import Problem
from racetrack_operator.settings import Settings

#: Exit code of a build step whose failure retrying cannot fix (the builder's PERMANENT).
PERMANENT_EXIT_CODE = 65
BUILDER_UID = 65532
BUILDKIT_UID = 1000
WORKSPACE = "/workspace"
CA_DIR = "/etc/racetrack/ca"
GIT_CREDENTIALS_DIR = "/etc/racetrack/git-credentials"
BUILD_SECRETS_DIR = "/etc/racetrack/build-secrets"
DEPENDENCY_CACHE = "racetrack/cache/python3-dependencies"
COMPONENT = "build"

Kind = Literal["compose", "dockerfile"]


@dataclasses.dataclass(frozen=True)
class BuildPlan:
    """How one Job is built, and the hash of what it is built from."""

    kind: Kind
    inputs: str
    repository: str
    #: The Dockerfile rendered from the job type's template (python3 with system packages);
    #: None when the job's own Dockerfile is used.
    dockerfile: str | None = None

    @property
    def steps(self) -> tuple[str, ...]:
        return ("fetch", "build") if self.kind == "compose" else ("fetch", "dockerfile")


def needs_build(job: Job) -> bool:
    return job.spec.git is not None or job.spec.source is not None


def build_inputs(job: Job, job_type: JobType) -> str:
    """The hash of everything a rebuild follows; nothing else (replicas, runtime env,
    resources) may change it, or scaling a Job would rebuild it."""
    spec = job.spec
    extra = spec.jobtype_extra or {}
    material = {
        "git": spec.git.to_wire() if spec.git else None,
        "source": spec.source.to_wire() if spec.source else None,
        # The implementation, not the version asked for: python3:2.15.1 and python3:latest
        # are the same image when one implementation serves both.
        "jobtype": f"{job_type.name}:{job_type.implementation or job_type.version}",
        "extra": {key: extra.get(key) for key in job_type.build.inputs},
        "buildEnv": spec.build_env,
        "secretBuildEnv": spec.secret_build_env.name if spec.secret_build_env else None,
        "systemDependencies": spec.system_dependencies,
        "rebuildAt": (job.metadata.get("annotations") or {}).get(ANNOTATION_REBUILD_AT),
    }
    canonical = json.dumps(material, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:20]


def _not_configured(what: str, variable: str) -> Problem:
    return Problem(
        c.REASON_BUILD_NOT_CONFIGURED,
        f"the operator cannot build images: {what}; set RACETRACK_{variable} on the operator "
        "(or give the Job a prebuilt spec.image)",
        retry=False,
    )


def build_plan(job: Job, job_type: JobType, settings: Settings) -> BuildPlan | Problem:
    """How to build the Job, or why the operator cannot (a setting it lacks, a bad value)."""
    if not settings.registry:
        return _not_configured("it has no registry for built images", "REGISTRY")
    if not settings.builder_image:
        return _not_configured("it has no builder image", "BUILDER_IMAGE")
    recipe = job_type.build
    repository = f"{settings.image_repository_prefix}/{job.spec.name}"
    inputs = build_inputs(job, job_type)
    system = job.spec.system_dependencies
    if recipe.kind == "user-dockerfile" and system:
        return Problem(
            c.REASON_INVALID_SPEC,
            f"spec.systemDependencies: job type {job_type.reference} builds from your own "
            f"{recipe.user_dockerfile}; install the packages there and remove the field",
            retry=False,
        )
    if recipe.kind == "compose" and not system:
        if not settings.python3_base_image:
            return _not_configured("it has no python3 base image", "PYTHON3_BASE_IMAGE")
        return BuildPlan("compose", inputs, repository)
    if not settings.buildkit_image:
        return _not_configured(
            "Dockerfile builds need the BuildKit builder image", "BUILDKIT_IMAGE"
        )
    dockerfile = None
    if recipe.kind == "compose":
        try:
            dockerfile = render_dockerfile(
                job_type,
                job.spec.jobtype_extra or {},
                base_image=settings.python3_base_image,
                system_dependencies=system,
                build_args=sorted(_build_env(job, settings)),
            )
        except BuildRecipeError as error:
            return Problem(c.REASON_INVALID_SPEC, str(error), retry=False)
    return BuildPlan("dockerfile", inputs, repository, dockerfile)


def build_job_name(job: Job, inputs: str) -> str:
    """``<job>-build-<8 of the inputs' hash>``, within the 63 characters a Job name has."""
    return f"{job.name[:48].rstrip('-')}-build-{inputs[:8]}"


def build_labels(job: Job, inputs: str) -> dict[str, str]:
    """Labels of a build's batch Job and pods. Never the Job's own ``racetrack.io/job``: the
    job's Service selects pods by it, and must not send requests to a build."""
    labels = {key: value for key, value in names.labels(job).items() if key != LABEL_JOB}
    labels["app.kubernetes.io/component"] = COMPONENT
    labels[LABEL_BUILD_OF] = job.name
    labels[LABEL_BUILD_INPUTS] = inputs
    return labels


def _build_env(job: Job, settings: Settings) -> dict[str, str]:
    """The operator's build variables under the Job's own (the Job's win)."""
    return {**settings.build_env_map(), **job.spec.build_env}


def _env(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": name, "value": values[name]} for name in sorted(values)]


def _fetch_env(job: Job, settings: Settings) -> dict[str, str]:
    env = {"RACETRACK_REGISTRY": settings.registry, "RACETRACK_REGISTRY_URL": settings.registry_url}
    if job.spec.source is not None:
        env["RACETRACK_SOURCE_ARTIFACT"] = job.spec.source.artifact
        return env
    git = job.spec.git
    assert git is not None
    env["RACETRACK_GIT_REMOTE"] = git.remote
    env["RACETRACK_GIT_DIRECTORY"] = git.directory
    if git.branch:
        env["RACETRACK_GIT_BRANCH"] = git.branch
    if git.ref:
        env["RACETRACK_GIT_REF"] = git.ref
    if git.credentials is not None:
        env["RACETRACK_GIT_CREDENTIALS"] = GIT_CREDENTIALS_DIR
    return env


def _source_url(job: Job) -> str:
    if job.spec.git is not None:
        return job.spec.git.remote
    return job.spec.source.artifact if job.spec.source is not None else ""


def _target_env(job: Job, plan: BuildPlan, settings: Settings) -> dict[str, str]:
    return {
        "RACETRACK_REGISTRY": settings.registry,
        "RACETRACK_REGISTRY_URL": settings.registry_url,
        "RACETRACK_BASE_IMAGE": settings.python3_base_image,
        "RACETRACK_DEPENDENCY_CACHE": DEPENDENCY_CACHE,
        "RACETRACK_IMAGE_REPOSITORY": plan.repository,
        "RACETRACK_IMAGE_VERSION": job.spec.version,
        "RACETRACK_SOURCE_URL": _source_url(job),
        # Baked into the image as DEPLOYED_BY_RACETRACK_VERSION: in the Deployment it would
        # roll every job whenever the operator is upgraded.
        "RACETRACK_PLATFORM_VERSION": PLATFORM_VERSION,
    }


def _restricted(uid: int) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def _rootless_buildkit() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": BUILDKIT_UID,
        "runAsGroup": BUILDKIT_UID,
        # newuidmap/newgidmap are setuid programs: they map the user namespace's ids.
        "allowPrivilegeEscalation": True,
        "capabilities": {"drop": ["ALL"], "add": ["SETUID", "SETGID"]},
        # The default profile forbids creating user namespaces; AppArmor's would forbid the
        # mounts inside it.
        "seccompProfile": {"type": "Unconfined"},
        "appArmorProfile": {"type": "Unconfined"},
        "readOnlyRootFilesystem": True,
    }


def _container(
    step: str, image: str, env: dict[str, str], mounts: list[dict[str, Any]], settings: Settings
) -> dict[str, Any]:
    cpu_request = f"{max(1, int(float(settings.build_cpu) * 100))}m"
    return {
        "name": step,
        "image": image,
        "imagePullPolicy": settings.image_pull_policy,
        "args": [step],
        "env": _env({"RACETRACK_WORKSPACE": WORKSPACE, **env}),
        "volumeMounts": [
            {"name": "workspace", "mountPath": WORKSPACE},
            {"name": "tmp", "mountPath": "/tmp"},
            *mounts,
        ],
        "resources": {
            "requests": {"cpu": cpu_request, "memory": settings.build_memory},
            "limits": {"cpu": settings.build_cpu, "memory": settings.build_memory},
        },
        # What the step reports (results, or why it failed) reaches the pod's status; a step
        # that dies without a word leaves its log's tail there instead.
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }


def desired_build_job(job: Job, plan: BuildPlan, settings: Settings) -> dict[str, Any]:
    """The batch Job that builds and pushes the Job's image."""
    ca: list[dict[str, Any]] = []
    ca_env: dict[str, str] = {}
    volumes: list[dict[str, Any]] = [
        {"name": "workspace", "emptyDir": {}},
        {"name": "tmp", "emptyDir": {}},
    ]
    if settings.build_ca_configmap:
        volumes.append(
            {"name": "ca", "configMap": {"name": settings.build_ca_configmap, "optional": True}}
        )
        ca = [{"name": "ca", "mountPath": CA_DIR, "readOnly": True}]
        ca_env = {"RACETRACK_EXTRA_CA_DIR": CA_DIR}
    fetch_mounts = list(ca)
    git = job.spec.git
    if git is not None and git.credentials is not None:
        volumes.append({"name": "git-credentials", "secret": {"secretName": git.credentials.name}})
        fetch_mounts.append(
            {"name": "git-credentials", "mountPath": GIT_CREDENTIALS_DIR, "readOnly": True}
        )
    build_env = _build_env(job, settings)
    secret_env = job.spec.secret_build_env
    init = [_container("fetch", settings.builder_image, {**ca_env, **_fetch_env(job, settings)},
                       fetch_mounts, settings)]  # fmt: skip
    init[0]["securityContext"] = _restricted(BUILDER_UID)
    if plan.kind == "compose":
        requirements = (job.spec.jobtype_extra or {}).get("requirements_path")
        env = {**build_env, **ca_env, **_target_env(job, plan, settings)}
        if requirements:
            env["RACETRACK_REQUIREMENTS_PATH"] = str(requirements)
        main = _container("build", settings.builder_image, env, ca, settings)
        if secret_env is not None:
            main["envFrom"] = [{"secretRef": {"name": secret_env.name}}]
        main["securityContext"] = _restricted(BUILDER_UID)
    else:
        env = {
            **build_env,
            **ca_env,
            **_target_env(job, plan, settings),
            "RACETRACK_BUILD_ARGS": ",".join(sorted([*build_env, "RACETRACK_BASE_IMAGE"])),
        }
        if plan.dockerfile is not None:
            env["RACETRACK_DOCKERFILE"] = plan.dockerfile
        if settings.build_registry_mirrors:
            env["RACETRACK_REGISTRY_MIRRORS"] = ",".join(settings.build_registry_mirrors)
        mounts = [
            *ca,
            {"name": "buildkit-state", "mountPath": "/home/user/.local/share/buildkit"},
            {"name": "buildkit-run", "mountPath": f"/run/user/{BUILDKIT_UID}"},
            {"name": "buildkit-tmp", "mountPath": "/home/user/.local/tmp"},
        ]
        volumes += [
            {"name": "buildkit-state", "emptyDir": {}},
            {"name": "buildkit-run", "emptyDir": {}},
            {"name": "buildkit-tmp", "emptyDir": {}},
        ]
        if secret_env is not None:
            volumes.append({"name": "build-secrets", "secret": {"secretName": secret_env.name}})
            mounts.append(
                {"name": "build-secrets", "mountPath": BUILD_SECRETS_DIR, "readOnly": True}
            )
            env["RACETRACK_BUILD_SECRETS"] = BUILD_SECRETS_DIR
        main = _container("dockerfile", settings.buildkit_image, env, mounts, settings)
        main["securityContext"] = _rootless_buildkit()
    labels = build_labels(job, plan.inputs)
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "fsGroup": BUILDER_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "initContainers": init,
        "containers": [main],
        "volumes": volumes,
    }
    if settings.image_pull_secrets:
        pod_spec["imagePullSecrets"] = [{"name": name} for name in settings.image_pull_secrets]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": build_job_name(job, plan.inputs),
            "namespace": job.namespace,
            "labels": labels,
            "ownerReferences": [names.owner_reference(job)],
        },
        "spec": {
            "backoffLimit": settings.build_retries,
            "activeDeadlineSeconds": settings.build_timeout_seconds,
            "podFailurePolicy": {
                "rules": [
                    # The builder says so when retrying cannot help: fail the build at once.
                    {
                        "action": "FailJob",
                        "onExitCodes": {"operator": "In", "values": [PERMANENT_EXIT_CODE]},
                    },
                    # A pod evicted or preempted did not fail: run it again, uncounted.
                    {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
                ]
            },
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }
