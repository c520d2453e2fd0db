"""The JobFamily: its desired object and its status from the family's Jobs.

``latest`` is the highest *ready* *stable* version (no pre-release label), which is what the
original resolved ``latest`` to (minus its "running, error or lost" candidates, which here are
simply "Ready"). Versions are ordered by semver.org precedence: numeric fields numerically, a
release above its pre-releases, pre-release identifiers numeric-before-alphanumeric.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from racetrack_api import conditions as c
from racetrack_api import labels
from racetrack_api.semver import is_stable, semver_key
from racetrack_api.v1alpha1 import API_VERSION, Job
from racetrack_api.v1alpha1.jobfamily import FamilyVersion, JobFamilyStatus


def desired_family(namespace: str, family: str, owner_email: str) -> dict[str, Any]:
    """A new JobFamily; no ownerReferences, so it outlives its Jobs."""
    return {
        "apiVersion": API_VERSION,
        "kind": "JobFamily",
        "metadata": {
            "name": family,
            "namespace": namespace,
            "labels": {labels.LABEL_FAMILY: family, labels.LABEL_MANAGED_BY: labels.MANAGED_BY},
            "annotations": {labels.ANNOTATION_OWNER_EMAIL: owner_email},
        },
        "spec": {},
    }


def serving(job: Job) -> bool:
    """Ready, or rolling out (a redeploy, a resize, a rebuild) while its pods still answer.

    Without the second half, ``latest`` would drop to an older version (or none) for the
    length of every rollout of the newest one. A Job stalled by a failed build still serves:
    its Deployment was left running the previous image.
    """
    if c.is_true(job.status.conditions, c.READY):
        return True
    stalled = c.find(job.status.conditions, c.STALLED)
    blocked = (
        stalled is not None
        and stalled.status == "True"
        and stalled.reason not in c.BUILD_FAILURE_REASONS
    )
    return job.status.available_replicas > 0 and not blocked


def family_status(jobs: Iterable[Job], generation: int) -> JobFamilyStatus:
    """Versions of the live (not deleting) Jobs, highest first, and the latest ready one."""
    versions = [
        FamilyVersion(
            version=job.spec.version,
            job=job.name,
            ready=serving(job),
        )
        for job in jobs
        if not job.metadata.get("deletionTimestamp")
    ]
    versions.sort(key=lambda v: (semver_key(v.version), v.job), reverse=True)
    latest = next((v.version for v in versions if v.ready and is_stable(v.version)), None)
    return JobFamilyStatus(observed_generation=generation, versions=versions, latest=latest)
