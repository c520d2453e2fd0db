"""Why a schema-valid Job cannot progress: each answer becomes ``Stalled`` with a reason.

The messages are read in ``kubectl describe`` and ``kubectl get rtjobs`` (Ready's reason), so
each one says what to change. Only a missing Secret is worth retrying on a timer; the others
need a spec change, which triggers a new reconciliation by itself.
"""

from __future__ import annotations

from racetrack_operator import conditions as c
from racetrack_operator.api.v1alpha1 import Job
from racetrack_operator.jobtypes import JobType, JobTypeError, UnknownJobTypeError, resolve_job_type
from racetrack_operator.reconcile import kube as k
from racetrack_operator.render.status import Problem


def spec_problem(job: Job) -> tuple[Problem | None, JobType | None]:
    """Problems visible from the spec alone (pure)."""
    try:
        job_type = resolve_job_type(job.spec.jobtype)
    except UnknownJobTypeError as error:
        return Problem(c.REASON_UNKNOWN_JOB_TYPE, f"spec.jobtype: {error}", retry=False), None
    try:
        job_type.runtime_env(job.spec.jobtype_extra)
    except JobTypeError as error:
        message = f"spec.jobtypeExtra: {error}; add it to spec.jobtypeExtra"
        return Problem(c.REASON_INVALID_SPEC, message, retry=False), job_type
    if job.spec.image is None:
        message = (
            "Building from spec.git is not available yet; "
            "set spec.image to a prebuilt image instead"
        )
        return Problem(c.REASON_BUILD_NOT_SUPPORTED, message, retry=False), job_type
    return None, job_type


async def secret_problem(kube: k.Kube, job: Job) -> Problem | None:
    ref = job.spec.secret_runtime_env
    if ref is None or job.namespace is None:
        return None
    # Metadata only: the operator needs to know the Secret exists, never what it holds.
    found = await kube.get(k.secret(job.namespace, ref.name), accept=k.PARTIAL_METADATA)
    if found is not None:
        return None
    return Problem(
        c.REASON_SECRET_NOT_FOUND,
        f'Secret "{ref.name}" (spec.secretRuntimeEnv) does not exist in namespace '
        f"{job.namespace}; create it and the Job continues on its own",
        retry=True,
    )
