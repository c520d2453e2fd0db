"""Why a schema-valid Job cannot progress: each answer becomes ``Stalled`` with a reason.

The messages are read in ``kubectl describe`` and ``kubectl get rtjobs`` (Ready's reason), so
each one says what to change. Only problems the world can fix without a spec change (a
Secret appearing) are retried on a timer; the others wait for the spec change that fixes them,
which triggers a new reconciliation by itself.
"""

from __future__ import annotations

import dataclasses

from racetrack_api import conditions as c
from racetrack_api.jobtypes import (
    JobType,
    JobTypeError,
    MissingExtraError,
    UnknownJobTypeError,
    resolve_job_type,
)
from racetrack_api.v1alpha1 import Job
from racetrack_operator.settings import Settings


@dataclasses.dataclass(frozen=True)
class Problem:
    """Why a valid spec cannot progress; becomes ``Stalled`` with this reason and message."""

    reason: str
    message: str
    retry: bool
    """True when the world may fix it without a spec change (a Secret appearing)."""


def spec_problem(job: Job, settings: Settings) -> JobType | Problem:
    """The Job's job type when the spec (and the operator's settings) allow deploying it,
    else what stops it."""
    try:
        job_type = resolve_job_type(job.spec.jobtype)
    except UnknownJobTypeError as error:
        return Problem(c.REASON_UNKNOWN_JOB_TYPE, f"spec.jobtype: {error}", retry=False)
    try:
        job_type.runtime_env(job.spec.jobtype_extra)
    except MissingExtraError as error:
        message = f"spec.jobtypeExtra: {error}; add it to spec.jobtypeExtra"
        return Problem(c.REASON_INVALID_SPEC, message, retry=False)
    except JobTypeError as error:
        return Problem(c.REASON_INVALID_SPEC, f"spec.jobtypeExtra: {error}", retry=False)
    if job_type.proxy is not None and not settings.job_runtime_image:
        message = (
            f"job type {job_type.reference} runs the job runtime's proxy beside spec.image, "
            "and this operator knows no image for it: an admin sets RACETRACK_JOB_RUNTIME_IMAGE "
            "(the python3 base image) on the operator"
        )
        return Problem(c.REASON_JOB_TYPE_UNAVAILABLE, message, retry=False)
    return job_type


def missing_secret(namespace: str, name: str, field: str) -> Problem:
    return Problem(
        c.REASON_SECRET_NOT_FOUND,
        f'Secret "{name}" ({field}) does not exist in namespace {namespace}; '
        "create it and the Job continues on its own",
        retry=True,
    )
