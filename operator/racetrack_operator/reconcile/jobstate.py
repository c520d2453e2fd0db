"""What the operator knows about one Job between reconciliations.

A status refresh (a Deployment event) needs the Job's generation, its last status, its problem
and the hash its Deployment should carry: all known from the last reconciliation, so a refresh
reads nothing from the API server. Only the Job handler, which runs on every change of the
Job, reads and parses the Job again. The operator is the only writer of Job status, so the
status kept here is at least as new as the stored one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from racetrack_api.jobtypes import JobType
from racetrack_api.v1alpha1 import Job
from racetrack_kube.client import Api
from racetrack_operator.reconcile import checks
from racetrack_operator.reconcile.build import BuildOutcome, recorded
from racetrack_operator.render.build import needs_build
from racetrack_operator.render.deployment import desired_deployment
from racetrack_operator.render.jobs import parse_job
from racetrack_operator.render.names import ANNOTATION_RENDER_HASH
from racetrack_operator.render.problems import Problem, spec_problem
from racetrack_operator.render.service import desired_service, service_url
from racetrack_operator.render.tokens import FamilyToken
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
    build: BuildOutcome = dataclasses.field(default_factory=BuildOutcome)
    """Where the Job's image build stands (nothing for a prebuilt image)."""
    family_token: FamilyToken | None = None
    """The family's token the Deployment was rendered with (a new one rolls the pods)."""


@dataclasses.dataclass(frozen=True)
class Desired:
    deployment: dict[str, Any]
    service: dict[str, Any]


Builder = Callable[[Job, JobType], Awaitable[BuildOutcome]]


async def load(
    kube: Api,
    settings: Settings,
    raw: dict[str, Any],
    known: JobState | None,
    builder: Builder | None = None,
    family_token: Callable[[Job], Awaitable[FamilyToken | None]] | None = None,
) -> tuple[JobState, Desired | None]:
    """Parse, check and render a Job read from the API server (or handed over by kopf).

    A Job built from source is rendered only once ``builder`` (or, without one, its status)
    says its image is built; until then its Deployment is left as it is. ``family_token``
    finds the token of a parsed Job's family for its pods.
    """
    job, problem = parse_job(raw)
    same_object = known is not None and known.job.metadata.get("uid") == job.metadata.get("uid")
    service_hash = None
    if known is not None and same_object:
        # kopf's copy of the Job may predate our last status write; ours does not.
        job = job.model_copy(update={"status": known.job.status})
        service_hash = known.service_hash
    parsed = problem is None
    token = await family_token(job) if parsed and family_token is not None else None
    job_type = None
    if problem is None:
        checked = spec_problem(job, settings)
        if isinstance(checked, Problem):
            problem = checked
        else:
            job_type = checked
    if problem is None:
        problem = await checks.secret_problem(kube, job)
    if problem is not None or job_type is None:
        return JobState(job, parsed, problem, None, None, service_hash), None
    url = service_url(job, job_type, settings.cluster_domain)
    built = BuildOutcome()
    if needs_build(job):
        built = await builder(job, job_type) if builder else recorded(job, job_type, settings)
        if built.image is None:
            return JobState(job, parsed, built.problem, None, url, service_hash, build=built), None
    revision = built.status.revision if built.image and built.status else None
    deployment = desired_deployment(
        job, job_type, settings, image=built.image, family_token=token, revision=revision
    )
    state = JobState(
        job,
        parsed,
        None,
        deployment["metadata"]["annotations"][ANNOTATION_RENDER_HASH],
        url,
        service_hash,
        build=built,
        family_token=token,
    )
    return state, Desired(deployment, desired_service(job, job_type))
