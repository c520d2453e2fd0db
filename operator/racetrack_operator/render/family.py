"""The JobFamily: its desired object and its status from the family's Jobs.

``latest`` is the highest *ready* *stable* version (no pre-release label), which is what the
original resolved ``latest`` to (minus its "running, error or lost" candidates, which here are
simply "Ready"). Versions are ordered by semver.org precedence: numeric fields numerically, a
release above its pre-releases, pre-release identifiers numeric-before-alphanumeric.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from racetrack_operator import conditions as c
from racetrack_operator.api.v1alpha1 import API_VERSION, Job
from racetrack_operator.api.v1alpha1.job import SEMVER_REGEX
from racetrack_operator.api.v1alpha1.jobfamily import FamilyVersion, JobFamilyStatus
from racetrack_operator.render import names

_SEMVER = re.compile(SEMVER_REGEX)

# (major, minor, patch, is_release, pre-release identifiers as comparable tuples)
SemverKey = tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]


def semver_key(version: str) -> SemverKey:
    """Sort key with semver.org precedence; an invalid version sorts below every valid one."""
    match = _SEMVER.match(version)
    if match is None:
        return (-1, -1, -1, 0, ())
    major, minor, patch = (int(match.group(i)) for i in (1, 2, 3))
    label = match.group(5)
    if not label:
        return (major, minor, patch, 1, ())
    parts = tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in label.split(".")
    )
    return (major, minor, patch, 0, parts)


def is_stable(version: str) -> bool:
    return "-" not in version


def desired_family(namespace: str, family: str, owner_email: str) -> dict[str, Any]:
    """A new JobFamily; no ownerReferences, so it outlives its Jobs."""
    return {
        "apiVersion": API_VERSION,
        "kind": "JobFamily",
        "metadata": {
            "name": family,
            "namespace": namespace,
            "labels": {names.LABEL_FAMILY: family, names.LABEL_MANAGED_BY: names.MANAGED_BY},
            "annotations": {"racetrack.io/owner-email": owner_email},
        },
        "spec": {},
    }


def serving(job: Job) -> bool:
    """Ready, or rolling out (a redeploy, a resize) while its pods still answer.

    Without the second half, ``latest`` would drop to an older version (or none) for the
    length of every rollout of the newest one.
    """
    if c.is_true(job.status.conditions, c.READY):
        return True
    return job.status.available_replicas > 0 and not c.is_true(job.status.conditions, c.STALLED)


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
