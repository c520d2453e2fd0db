"""The desired Service of a Job: ClusterIP, port ``http`` to the job type's port."""

from __future__ import annotations

from typing import Any

from racetrack_api.jobtypes import JobType
from racetrack_api.v1alpha1 import Job
from racetrack_operator.render import names
from racetrack_operator.render.hashing import render_hash


def desired_service(job: Job, job_type: JobType) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": names.child_name(job),
            "namespace": job.namespace,
            "labels": names.labels(job),
            "ownerReferences": [names.owner_reference(job)],
        },
        "spec": {
            "type": "ClusterIP",
            "selector": names.selector_labels(job),
            "ports": [
                {
                    "name": names.PORT_NAME,
                    "port": job_type.port,
                    "targetPort": names.PORT_NAME,
                    "protocol": "TCP",
                }
            ],
        },
    }
    body["metadata"]["annotations"] = {names.ANNOTATION_RENDER_HASH: render_hash(body)}
    return body


def service_url(job: Job, job_type: JobType, cluster_domain: str) -> str:
    """In-cluster URL of the job (what the gateway forwards to)."""
    return f"http://{names.child_name(job)}.{job.namespace}.svc.{cluster_domain}:{job_type.port}"
