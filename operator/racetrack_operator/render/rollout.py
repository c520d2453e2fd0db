"""What a Job's Deployment says about its rollout, read once and used by every condition.

``deployment_view`` trims a Deployment to the fields read here; the operator keeps one per Job
from its Deployment watch (a whole Deployment weighs tens of kilobytes in Python, the view a
few hundred bytes, which matters with thousands of Jobs). ``observe`` turns it into a
``Rollout``: whether the Deployment is the one the Job asks for, and whether every wanted
replica runs that template and is available.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from racetrack_operator.render import names

_KEPT_STATUS = ("observedGeneration", "replicas", "updatedReplicas", "availableReplicas")
_DEADLINE = "ProgressDeadlineExceeded"


def deployment_view(body: dict[str, Any]) -> dict[str, Any]:
    """The part of a Deployment that status and change detection read, in the same shape."""
    meta = body.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    spec = body.get("spec") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or [{}]
    status = body.get("status") or {}
    view_status = {key: status[key] for key in (*_KEPT_STATUS, "readyReplicas") if key in status}
    deadline = [
        {"type": cond.get("type"), "reason": cond.get("reason"), "message": cond.get("message")}
        for cond in status.get("conditions") or []
        if cond.get("reason") == _DEADLINE
    ]
    if deadline:
        view_status["conditions"] = deadline
    return {
        "metadata": {
            "name": meta.get("name"),
            "generation": meta.get("generation"),
            "annotations": {
                key: value
                for key, value in annotations.items()
                if key == names.ANNOTATION_RENDER_HASH
            },
            "ownerReferences": [
                {"uid": ref.get("uid"), "controller": ref.get("controller")}
                for ref in meta.get("ownerReferences") or []
            ],
        },
        "spec": {
            "replicas": spec.get("replicas", 1),
            "template": {"spec": {"containers": [{"image": containers[0].get("image")}]}},
        },
        "status": view_status,
    }


@dataclasses.dataclass(frozen=True)
class Rollout:
    """A Job's Deployment as far as its conditions are concerned (``exists`` False: none)."""

    exists: bool
    name: str = ""
    image: str | None = None
    up_to_date: bool = False
    """The Deployment carries the template the Job asks for (same render hash)."""
    want: int = 0
    total: int = 0
    updated: int = 0
    ready: int = 0
    available: int = 0
    fully_available: bool = False
    """Every wanted replica is available, whatever template it runs."""
    done: bool = False
    """Up to date, seen by the Deployment controller, every wanted replica updated and
    available, and no old replica left."""
    deadline_exceeded: str | None = None
    """The Deployment controller's message when the rollout exceeded its progress deadline."""


def observe(deployment: dict[str, Any] | None, desired_hash: str | None, replicas: int) -> Rollout:
    """The ``Rollout`` of ``deployment`` against the hash the Job's Deployment should carry."""
    if deployment is None:
        return Rollout(exists=False, want=replicas)
    meta: dict[str, Any] = deployment.get("metadata") or {}
    status: dict[str, Any] = deployment.get("status") or {}
    spec: dict[str, Any] = deployment.get("spec") or {}
    want = int(spec.get("replicas", replicas))
    total, updated = _int(status, "replicas"), _int(status, "updatedReplicas")
    available = _int(status, "availableReplicas")
    up_to_date = (
        desired_hash is not None
        and (meta.get("annotations") or {}).get(names.ANNOTATION_RENDER_HASH) == desired_hash
    )
    observed = _int(status, "observedGeneration") >= _int(meta, "generation")
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or [{}]
    return Rollout(
        exists=True,
        name=str(meta.get("name") or ""),
        image=containers[0].get("image"),
        up_to_date=up_to_date,
        want=want,
        total=total,
        updated=updated,
        ready=_int(status, "readyReplicas"),
        available=available,
        fully_available=available >= want,
        done=up_to_date and observed and updated == want and available >= want and total == updated,
        deadline_exceeded=_deadline_message(status),
    )


def _int(source: dict[str, Any], key: str) -> int:
    return int(source.get(key) or 0)


def _deadline_message(status: dict[str, Any]) -> str | None:
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Progressing" and cond.get("reason") == _DEADLINE:
            return str(cond.get("message") or "the Deployment exceeded its progress deadline")
    return None
