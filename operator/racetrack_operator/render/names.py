"""Names, labels and annotations the operator puts on the objects it renders.

Children are named after the Job object (a DNS label, enforced by the Job CRD), so two Jobs can
never fight over a Deployment, and ``kubectl get deploy adder-v1-0-0`` finds the right one.
"""

from __future__ import annotations

from typing import Any

from racetrack_api.labels import (
    LABEL_FAMILY,
    LABEL_JOB,
    LABEL_MANAGED_BY,
    LABEL_VERSION,
    MANAGED_BY,
)
from racetrack_api.v1alpha1 import API_VERSION, Job

# Hash of the rendered child; the reconciler rewrites a child only when it differs, so a
# restart over 1,000 unchanged Jobs reads but does not write.
ANNOTATION_RENDER_HASH = "racetrack.io/render-hash"
ANNOTATION_JOB_GENERATION = "racetrack.io/job-generation"
# On a Job's pod template: the revision of its family's token, so the pods roll when it changes.
ANNOTATION_FAMILY_TOKEN = "racetrack.io/family-token"

CONTAINER_NAME = "job"
PORT_NAME = "http"
# Job types with a proxy (docker-proxy): the runtime's proxy beside the user's image.
PROXY_CONTAINER_NAME = "proxy"
USER_MODULE_PORT_NAME = "user-module"


def child_name(job: Job) -> str:
    return job.name


def selector_labels(job: Job) -> dict[str, str]:
    """The immutable Deployment selector: only the Job, nothing that could ever change."""
    return {LABEL_JOB: job.name}


def labels(job: Job) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": job.spec.name,
        "app.kubernetes.io/instance": job.name,
        "app.kubernetes.io/version": job.spec.version,
        "app.kubernetes.io/component": "job",
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_FAMILY: job.spec.name,
        LABEL_VERSION: job.spec.version,
        LABEL_JOB: job.name,
    }


def owner_reference(job: Job) -> dict[str, object]:
    """Makes the child garbage-collected with its Job (and found from the child's events)."""
    return {
        "apiVersion": job.api_version,
        "kind": job.kind,
        "name": job.name,
        "uid": str(job.metadata["uid"]),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def owning_job(meta: dict[str, Any]) -> str | None:
    """The name of the Job controlling a child, from the child's metadata."""
    for ref in meta.get("ownerReferences") or []:
        if ref.get("kind") == Job.crd.kind and ref.get("apiVersion") == API_VERSION:
            return str(ref["name"])
    return None
