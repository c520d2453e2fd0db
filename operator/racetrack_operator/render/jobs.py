"""A Job as the operator reads it: parsed from what the watch delivered, trimmed to what is
used, and whether it asks for a reconciliation at all (pure)."""

from __future__ import annotations

from typing import Any

import pydantic

from racetrack_api import conditions as c
from racetrack_api.labels import ANNOTATION_REBUILD_AT, ANNOTATION_REDEPLOY_AT
from racetrack_api.v1alpha1 import API_VERSION, Job
from racetrack_api.v1alpha1.job import JobSpec, JobStatus
from racetrack_operator.render.problems import Problem

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


#: Written by `kubectl apply` (its copy of the object), read by nothing here.
_BOOKKEEPING_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"


def without_bookkeeping(raw: dict[str, Any]) -> dict[str, Any]:
    """The Job as watched, less its managed fields and kubectl's copy of the spec: what a
    Job waiting to be reconciled keeps (everything a reconciliation reads is still there)."""
    meta: dict[str, Any] = raw.get("metadata") or {}
    kept = {key: value for key, value in meta.items() if key != "managedFields"}
    annotations = meta.get("annotations")
    if annotations and _BOOKKEEPING_ANNOTATION in annotations:
        kept["annotations"] = {
            key: value for key, value in annotations.items() if key != _BOOKKEEPING_ANNOTATION
        }
    return {**raw, "metadata": kept}


def parse_job(raw: dict[str, Any]) -> tuple[Job, Problem | None]:
    """The Job, or a stand-in carrying its name and version and the reason it was refused.

    The CRD's schema admitted it, so a refusal here means the CRD and our models drifted
    apart (or the object predates a rule): the Job is reported Stalled, never dropped.
    """
    meta = slim_metadata(raw.get("metadata") or {})
    body = {"apiVersion": API_VERSION, "kind": "Job", **raw, "metadata": meta}
    try:
        return Job.model_validate(body), None
    except pydantic.ValidationError as error:
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
        return job, Problem(c.REASON_INVALID_SPEC, f"{where}: {first['msg']}", retry=False)


def needs_apply(known: Job | None, applied: bool, raw: dict[str, Any]) -> bool:
    """Whether a watched Job differs from what was last applied (not just in our status):
    its spec, or an annotation asking for a redeploy or a rebuild.

    ``known`` is the Job as last reconciled, ``applied`` whether its children were applied by
    this process (a Job first seen through its Deployment's event was only observed).
    """
    meta: dict[str, Any] = raw.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return False
    if known is None or not applied:
        return True
    old = known.metadata
    if (meta.get("uid"), meta.get("generation")) != (old.get("uid"), old.get("generation")):
        return True
    new_annotations = meta.get("annotations") or {}
    old_annotations = old.get("annotations") or {}
    return any(
        new_annotations.get(name) != old_annotations.get(name)
        for name in (ANNOTATION_REDEPLOY_AT, ANNOTATION_REBUILD_AT)
    )


def event_ref(job: Job) -> dict[str, Any]:
    """What an event needs to be addressed to the Job."""
    meta = job.metadata
    return {
        "apiVersion": API_VERSION,
        "kind": "Job",
        "metadata": {key: meta.get(key) for key in ("name", "namespace", "uid")},
    }
