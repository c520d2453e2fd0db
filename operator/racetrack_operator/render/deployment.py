"""The desired Deployment of a Job (prebuilt image path).

Runtime settings follow the original Racetrack's Kubernetes infrastructure plugin: non-root
uid 100000 / gid 100000 / fsGroup 200000, no privilege escalation, all capabilities dropped,
preferred spreading over nodes. Port, probes (paths and timings) and the environment derived
from ``jobtypeExtra`` come from the job type (``racetrack_api.jobtypes``), never from here.
The image pull policy is a setting (``IfNotPresent`` by default: images are immutable tags).

Environment precedence, lowest first: Secret keys (``envFrom``), then the job type's variables,
then ``spec.runtimeEnv``, then the operator's own (``JOB_NAME``...). Kubernetes lets ``env`` win
over ``envFrom``, so a Secret can never override what the operator or the manifest set.
"""

from __future__ import annotations

import calendar
import time
from typing import Any

from racetrack_api.jobtypes import JobType, Probe
from racetrack_api.labels import ANNOTATION_REDEPLOY_AT, TOKEN_KEY
from racetrack_api.v1alpha1 import Job
from racetrack_api.v1alpha1.common import quantity_value
from racetrack_operator.render import names
from racetrack_operator.render.hashing import render_hash
from racetrack_operator.render.tokens import FamilyToken
from racetrack_operator.settings import Settings

RUN_AS_USER = 100000
RUN_AS_GROUP = 100000
FS_GROUP = 200000


def resources(job: Job, settings: Settings) -> dict[str, dict[str, str]]:
    """Requests (min) and limits (max), with defaults; a max below an explicit min is raised."""
    spec = job.spec.resources
    memory_min = (spec and spec.memory_min) or settings.default_memory_min
    memory_max = (spec and spec.memory_max) or _at_least(settings.default_memory_max, memory_min)
    cpu_min = (spec and spec.cpu_min) or settings.default_cpu_min
    cpu_max = (spec and spec.cpu_max) or _at_least(settings.default_cpu_max, cpu_min)
    return {
        "requests": {"memory": memory_min, "cpu": cpu_min},
        "limits": {"memory": memory_max, "cpu": cpu_max},
    }


def _at_least(default: str, minimum: str) -> str:
    # As the original did: a default limit never ends up below the Job's explicit request.
    return minimum if quantity_value(default) < quantity_value(minimum) else default


def deployment_timestamp(job: Job) -> str:
    """``JOB_DEPLOYMENT_TIMESTAMP``: changes on redeploy, stable otherwise (so renders are too)."""
    redeploy = (job.metadata.get("annotations") or {}).get(ANNOTATION_REDEPLOY_AT)
    if redeploy:
        return str(redeploy)
    created = job.metadata.get("creationTimestamp")
    if not created:
        return "0"
    return str(calendar.timegm(time.strptime(str(created), "%Y-%m-%dT%H:%M:%SZ")))


def environment(
    job: Job,
    job_type: JobType,
    settings: Settings,
    family_token: FamilyToken | None = None,
    revision: str | None = None,
) -> list[dict[str, Any]]:
    """Raises ``JobTypeError`` when ``jobtypeExtra`` lacks what the job type needs.

    ``GIT_VERSION`` is the ``revision`` the deployed image was built from (the commit, or
    the source artifact's digest), as the original's images carried it; a prebuilt image
    keeps its own, if it has one.

    ``AUTH_TOKEN`` (the family's caller token, for job-to-job calls through ``PUB_URL``) is
    read from the family's token Secret, never written into the Deployment."""
    merged: dict[str, str] = {
        **job_type.runtime_env(job.spec.jobtype_extra),
        **job.spec.runtime_env,
    }
    operator_env = {
        "JOB_NAME": job.spec.name,
        "JOB_VERSION": job.spec.version,
        "JOB_DEPLOYMENT_TIMESTAMP": deployment_timestamp(job),
        # The version the reference resolved to (``python3:2.*`` -> ``2.15.1``), as the
        # original's images carried it.
        "JOB_TYPE_VERSION": job_type.version,
    }
    if settings.pub_url:
        operator_env["PUB_URL"] = settings.pub_url
    if revision:
        operator_env["GIT_VERSION"] = revision
    merged.update(operator_env)
    env: list[dict[str, Any]] = [{"name": key, "value": value} for key, value in merged.items()]
    if family_token is not None:
        secret = {"name": family_token.secret_name, "key": TOKEN_KEY}
        env.append({"name": "AUTH_TOKEN", "valueFrom": {"secretKeyRef": secret}})
    return sorted(env, key=lambda variable: str(variable["name"]))


def probe(spec: Probe) -> dict[str, Any]:
    """An HTTP GET probe, or a TCP one when the job type serves no health endpoint."""
    action: dict[str, Any] = (
        {"tcpSocket": {"port": names.PORT_NAME}}
        if spec.path is None
        else {"httpGet": {"path": spec.path, "port": names.PORT_NAME}}
    )
    out = {
        **action,
        "periodSeconds": spec.period_seconds,
        "timeoutSeconds": spec.timeout_seconds,
        "failureThreshold": spec.failure_threshold,
    }
    if spec.initial_delay_seconds:
        out["initialDelaySeconds"] = spec.initial_delay_seconds
    return out


def container(
    job: Job,
    job_type: JobType,
    settings: Settings,
    *,
    image: str | None = None,
    family_token: FamilyToken | None = None,
    revision: str | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": names.CONTAINER_NAME,
        "image": image or job.spec.image,
        "imagePullPolicy": settings.image_pull_policy,
        "ports": [{"name": names.PORT_NAME, "containerPort": job_type.port, "protocol": "TCP"}],
        "env": environment(job, job_type, settings, family_token, revision),
        "resources": resources(job, settings),
        "startupProbe": probe(job_type.probes.startup),
        "livenessProbe": probe(job_type.probes.liveness),
        "readinessProbe": probe(job_type.probes.readiness),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    if job.spec.secret_runtime_env is not None:
        out["envFrom"] = [{"secretRef": {"name": job.spec.secret_runtime_env.name}}]
    return out


def containers(
    job: Job,
    job_type: JobType,
    settings: Settings,
    *,
    image: str | None = None,
    family_token: FamilyToken | None = None,
    revision: str | None = None,
) -> list[dict[str, Any]]:
    """One container, or for a type with a proxy: the user's image, then the proxy.

    The proxy (the job runtime's image running the type's command) takes the job port,
    its probes and the Service; the user's image serves on the user module port beside
    it. Both get the same environment and resources, as in the original. The user's
    container comes first: ``status.image`` and ``kubectl logs`` show the job's own.
    """
    main = container(
        job, job_type, settings, image=image, family_token=family_token, revision=revision
    )
    if job_type.proxy is None:
        return [main]
    user_port = job_type.user_module_port(job.spec.jobtype_extra)
    user = {
        key: value
        for key, value in main.items()
        if key not in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    user["ports"] = [
        {"name": names.USER_MODULE_PORT_NAME, "containerPort": user_port, "protocol": "TCP"}
    ]
    proxy = {
        **main,
        "name": names.PROXY_CONTAINER_NAME,
        "image": settings.job_runtime_image,
        "command": list(job_type.proxy.command),
    }
    return [user, proxy]


def pod_annotations(job: Job, family_token: FamilyToken | None = None) -> dict[str, str]:
    redeploy = (job.metadata.get("annotations") or {}).get(ANNOTATION_REDEPLOY_AT)
    # Copying the annotation into the pod template is what makes a redeploy roll the pods;
    # the family token's revision does the same when the token is reset or re-issued (a
    # variable read from a Secret is read only when a container starts).
    out = {ANNOTATION_REDEPLOY_AT: str(redeploy)} if redeploy else {}
    if family_token is not None:
        out[names.ANNOTATION_FAMILY_TOKEN] = family_token.revision
    return out


def desired_deployment(
    job: Job,
    job_type: JobType,
    settings: Settings,
    *,
    image: str | None = None,
    family_token: FamilyToken | None = None,
    revision: str | None = None,
) -> dict[str, Any]:
    """The Deployment, with the hash of everything above in an annotation; ``image`` is the
    built image of a Job built from source (a prebuilt Job's is ``spec.image``), built from
    ``revision``; ``family_token`` is the family's token (None while it has none: the pods
    then get no ``AUTH_TOKEN``)."""
    labels = names.labels(job)
    pod_spec: dict[str, Any] = {
        "containers": containers(
            job, job_type, settings, image=image, family_token=family_token, revision=revision
        ),
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS_USER,
            "runAsGroup": RUN_AS_GROUP,
            "fsGroup": FS_GROUP,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "enableServiceLinks": False,
        "affinity": {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "topologyKey": "kubernetes.io/hostname",
                            "labelSelector": {"matchLabels": names.selector_labels(job)},
                        },
                    }
                ]
            }
        },
    }
    if settings.image_pull_secrets:
        pod_spec["imagePullSecrets"] = [{"name": name} for name in settings.image_pull_secrets]
    template_metadata: dict[str, Any] = {"labels": labels}
    if annotations := pod_annotations(job, family_token):
        template_metadata["annotations"] = annotations
    spec = {
        "replicas": job.spec.replicas,
        "revisionHistoryLimit": 3,
        "selector": {"matchLabels": names.selector_labels(job)},
        "template": {"metadata": template_metadata, "spec": pod_spec},
    }
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": names.child_name(job),
            "namespace": job.namespace,
            "labels": labels,
            "ownerReferences": [names.owner_reference(job)],
        },
        "spec": spec,
    }
    body["metadata"]["annotations"] = {
        names.ANNOTATION_RENDER_HASH: render_hash(body),
        names.ANNOTATION_JOB_GENERATION: str(job.generation),
    }
    return body
