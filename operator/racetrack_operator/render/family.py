"""The JobFamily: its desired object and its status from the family's Jobs.

``latest`` is the highest *ready* *stable* version (no pre-release label), which is what the
original resolved ``latest`` to (minus its "running, error or lost" candidates, which here are
simply "Ready"). Versions are ordered by semver.org precedence: numeric fields numerically, a
release above its pre-releases, pre-release identifiers numeric-before-alphanumeric.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import pydantic

from racetrack_api import conditions as c
from racetrack_api import labels
from racetrack_api.semver import is_stable, semver_key
from racetrack_api.v1alpha1 import API_VERSION, Job
from racetrack_api.v1alpha1.job import JobStatus
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


@dataclasses.dataclass(frozen=True)
class Member:
    """One Job of a family, as the family's status counts it."""

    job: str
    version: str
    serving: bool
    deleting: bool = False


def member(job: Job) -> Member:
    return Member(
        job=job.name,
        version=job.spec.version,
        serving=serving(job.status),
        deleting=bool(job.metadata.get("deletionTimestamp")),
    )


def member_view(raw: dict[str, Any]) -> dict[str, Any]:
    """What a family's status needs of a Job as watched (``member_of_view`` reads it): its
    version, whether it is being deleted, and the parts of its status that say whether it
    serves. A few hundred bytes, where the whole Job is several kilobytes."""
    meta = raw.get("metadata") or {}
    spec = raw.get("spec") or {}
    status = raw.get("status") or {}
    kept_status: dict[str, Any] = {
        "conditions": [
            {key: cond[key] for key in ("type", "status", "reason") if key in cond}
            for cond in status.get("conditions") or []
            if isinstance(cond, dict) and cond.get("type") in _SERVING_CONDITIONS
        ]
    }
    if "availableReplicas" in status:
        kept_status["availableReplicas"] = status["availableReplicas"]
    kept_meta = {key: meta.get(key) for key in ("name", "namespace", "resourceVersion")}
    if meta.get("deletionTimestamp"):
        kept_meta["deletionTimestamp"] = meta["deletionTimestamp"]
    return {
        "metadata": kept_meta,
        "spec": {key: spec.get(key) for key in ("name", "version")},
        "status": kept_status,
    }


def member_of_view(view: dict[str, Any]) -> Member | None:
    """The member a ``member_view`` describes; None when its status is not one we wrote
    (a Job our models refuse is no version of anything either)."""
    try:
        status = JobStatus.model_validate(view["status"])
    except pydantic.ValidationError:
        return None
    meta = view["metadata"]
    return Member(
        job=str(meta["name"]),
        version=str(view["spec"].get("version") or ""),
        serving=serving(status),
        deleting=bool(meta.get("deletionTimestamp")),
    )


def serving(status: JobStatus) -> bool:
    """Ready, or rolling out (a redeploy, a resize, a rebuild) while its pods still answer.

    Without the second half, ``latest`` would drop to an older version (or none) for the
    length of every rollout of the newest one. A Job stalled by a failed build still serves:
    its Deployment was left running the previous image.
    """
    if c.is_true(status.conditions, c.READY):
        return True
    stalled = c.find(status.conditions, c.STALLED)
    blocked = (
        stalled is not None
        and stalled.status == "True"
        and stalled.reason not in c.BUILD_FAILURE_REASONS
    )
    return status.available_replicas > 0 and not blocked


#: The conditions ``serving`` reads.
_SERVING_CONDITIONS = (c.READY, c.STALLED)


def family_status(members: Iterable[Member], generation: int) -> JobFamilyStatus:
    """Versions of the live (not deleting) Jobs, highest first, and the latest ready one."""
    versions = [
        FamilyVersion(version=m.version, job=m.job, ready=m.serving)
        for m in members
        if not m.deleting
    ]
    versions.sort(key=lambda v: (semver_key(v.version), v.job), reverse=True)
    latest = next((v.version for v in versions if v.ready and is_stable(v.version)), None)
    return JobFamilyStatus(observed_generation=generation, versions=versions, latest=latest)
