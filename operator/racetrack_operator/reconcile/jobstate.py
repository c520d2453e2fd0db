"""What the operator knows about one Job between reconciliations.

A status refresh (a Deployment event) needs the Job's generation, its last status, its problem
and the hash its Deployment should carry: all known from the last reconciliation, so a refresh
reads nothing from the API server. Only the Job handler, which runs on every change of the
Job, reads and parses the Job again. The operator is the only writer of Job status, so the
status kept here is at least as new as the stored one.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pydantic

from racetrack_operator import conditions as c
from racetrack_operator.api.v1alpha1 import API_VERSION, Job
from racetrack_operator.api.v1alpha1.job import JobSpec, JobStatus
from racetrack_operator.reconcile import checks
from racetrack_operator.reconcile.kube import Kube
from racetrack_operator.render.deployment import desired_deployment
from racetrack_operator.render.names import ANNOTATION_RENDER_HASH
from racetrack_operator.render.service import desired_service, service_url
from racetrack_operator.render.status import Problem
from racetrack_operator.settings import Settings


@dataclasses.dataclass
class JobState:
    job: Job
    """The Job as last read, carrying the status last written."""
    parsed: bool
    """False when our models refused a schema-valid object (then ``problem`` says why)."""
    problem: Problem | None
    desired_hash: str | None
    url: str | None
    service_hash: str | None = None
    """Hash of the Service this process last made sure of (so it is not read every time)."""
    applied: bool = False
    """Whether this process has applied the Job's children. A Deployment event can load a
    Job before the Job's own first event (an operator restart); such a state is only
    observed, and the Job must still be reconciled."""


@dataclasses.dataclass(frozen=True)
class Desired:
    deployment: dict[str, Any]
    service: dict[str, Any]


_KEPT_METADATA = ("name", "namespace", "uid", "generation", "creationTimestamp")


def slim_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    """The metadata the operator uses; managedFields and kubectl's copy of the spec are
    most of a Job's size, and a thousand kept Jobs would carry them for nothing."""
    out = {key: meta[key] for key in _KEPT_METADATA if key in meta}
    annotations = {
        key: value
        for key, value in (meta.get("annotations") or {}).items()
        if key.startswith("racetrack.io/")
    }
    if annotations:
        out["annotations"] = annotations
    return out


def parse(raw: dict[str, Any]) -> tuple[Job, Problem | None]:
    meta = slim_metadata(raw.get("metadata") or {})
    body = {"apiVersion": API_VERSION, "kind": "Job", **raw, "metadata": meta}
    try:
        return Job.model_validate(body), None
    except pydantic.ValidationError as error:
        # Schema-valid but refused by our models: rules drifted or the object predates them.
        first = error.errors()[0]
        spec: dict[str, Any] = raw.get("spec") or {}
        where = ".".join(str(part) for part in first["loc"])
        job = Job.model_construct(
            api_version=API_VERSION,
            kind="Job",
            metadata=meta,
            spec=JobSpec.model_construct(
                name=str(spec.get("name", "")),
                version=str(spec.get("version", "")),
                owner_email=str(spec.get("ownerEmail", "")),
                jobtype=str(spec.get("jobtype", "")),
                replicas=1,
            ),
            status=JobStatus.model_validate(raw.get("status") or {}),
        )
        problem = Problem(c.REASON_INVALID_SPEC, f"{where}: {first['msg']}", retry=False)
        return job, problem


async def load(
    kube: Kube, settings: Settings, raw: dict[str, Any], known: JobState | None
) -> tuple[JobState, Desired | None]:
    """Parse, check and render a Job read from the API server (or handed over by kopf)."""
    job, problem = parse(raw)
    if known is not None and known.job.metadata.get("uid") == job.metadata.get("uid"):
        # kopf's copy of the Job may predate our last status write; ours does not.
        job = job.model_copy(update={"status": known.job.status})
    parsed = problem is None
    job_type = None
    if problem is None:
        problem, job_type = checks.spec_problem(job)
    if problem is None:
        problem = await checks.secret_problem(kube, job)
    if problem is not None or job_type is None:
        return JobState(job, parsed, problem, None, None), None
    deployment = desired_deployment(job, job_type, settings)
    state = JobState(
        job,
        parsed,
        None,
        deployment["metadata"]["annotations"][ANNOTATION_RENDER_HASH],
        service_url(job, job_type, settings.cluster_domain),
    )
    return state, Desired(deployment, desired_service(job, job_type))


def event_ref(job: Job) -> dict[str, Any]:
    """What kopf needs to address an event to the Job."""
    meta = job.metadata
    return {
        "apiVersion": API_VERSION,
        "kind": "Job",
        "metadata": {key: meta.get(key) for key in ("name", "namespace", "uid")},
    }
