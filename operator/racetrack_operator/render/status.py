"""The Job's status, computed from what the reconciler observed.

One pure function decides every condition from (the Job, a problem if any, the Deployment as
read from the API server, the hash the Deployment should carry), so the Job handler and the
Deployment watch, which both refresh status, can never disagree about what a state means.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from racetrack_operator import conditions as c
from racetrack_operator.api.v1alpha1 import Job
from racetrack_operator.api.v1alpha1.common import Condition, ConditionStatus
from racetrack_operator.api.v1alpha1.job import JobStatus, UnhealthyPod
from racetrack_operator.render import names


@dataclasses.dataclass(frozen=True)
class Problem:
    """Why a valid spec cannot progress; becomes ``Stalled`` with this reason and message."""

    reason: str
    message: str
    retry: bool
    """True when the world may fix it without a spec change (a Secret appearing)."""


@dataclasses.dataclass(frozen=True)
class Event:
    """A Kubernetes event worth showing in ``kubectl describe``."""

    type: str  # Normal or Warning
    reason: str
    message: str


def deployment_view(body: dict[str, Any]) -> dict[str, Any]:
    """The part of a Deployment that status and change detection read, in the same shape.

    The operator keeps one per Job from its Deployment watch; a whole Deployment weighs tens of
    kilobytes in Python, this a few hundred bytes, which matters with thousands of Jobs.
    """
    meta = body.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    spec = body.get("spec") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or [{}]
    status = body.get("status") or {}
    keep = ("observedGeneration", "replicas", "updatedReplicas", "availableReplicas")
    view_status = {key: status[key] for key in (*keep, "readyReplicas") if key in status}
    deadline = [
        {"type": c.get("type"), "reason": c.get("reason"), "message": c.get("message")}
        for c in status.get("conditions") or []
        if c.get("reason") == "ProgressDeadlineExceeded"
    ]
    if deadline:
        view_status["conditions"] = deadline
    return {
        "metadata": {
            "name": meta.get("name"),
            "generation": meta.get("generation"),
            "annotations": {
                k: v for k, v in annotations.items() if k == names.ANNOTATION_RENDER_HASH
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


def _int(status: dict[str, Any], key: str) -> int:
    return int(status.get(key) or 0)


def _deadline_exceeded(deployment: dict[str, Any]) -> str | None:
    for cond in (deployment.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            return str(cond.get("message") or "the Deployment exceeded its progress deadline")
    return None


def job_status(
    job: Job,
    *,
    problem: Problem | None,
    deployment: dict[str, Any] | None,
    desired_hash: str | None,
    url: str | None,
    timestamp: str,
    unhealthy: UnhealthyPod | None = None,
) -> JobStatus:
    generation = job.generation
    dep_status: dict[str, Any] = (deployment or {}).get("status") or {}
    dep_meta: dict[str, Any] = (deployment or {}).get("metadata") or {}
    want = int(((deployment or {}).get("spec") or {}).get("replicas", job.spec.replicas))
    updated = _int(dep_status, "updatedReplicas")
    available = _int(dep_status, "availableReplicas")
    total = _int(dep_status, "replicas")
    up_to_date = (
        deployment is not None
        and desired_hash is not None
        and (dep_meta.get("annotations") or {}).get(names.ANNOTATION_RENDER_HASH) == desired_hash
    )
    observed = _int(dep_status, "observedGeneration") >= _int(dep_meta, "generation")
    rolled_out = up_to_date and observed and updated == want and available >= want
    rolled_out = rolled_out and total == updated

    if problem is None and deployment is not None and (message := _deadline_exceeded(deployment)):
        problem = Problem(c.REASON_PROGRESS_DEADLINE_EXCEEDED, message, retry=True)

    conds: list[Condition] = list(job.status.conditions)

    def put(type_: str, status: ConditionStatus, reason: str, message: str) -> None:
        nonlocal conds
        conds = c.set_condition(conds, type_, status, reason, message, generation, timestamp)

    blocked = f" Blocked: {problem.message}" if problem else ""
    if deployment is None:
        put(c.DEPLOYED, "False", c.REASON_DEPLOYMENT_MISSING, "No Deployment yet." + blocked)
    elif not up_to_date:
        put(
            c.DEPLOYED,
            "False",
            c.REASON_DEPLOYMENT_OUTDATED,
            f"Deployment {dep_meta.get('name')} does not match generation {generation} yet."
            + blocked,
        )
    else:
        put(
            c.DEPLOYED,
            "True",
            c.REASON_DEPLOYMENT_UP_TO_DATE,
            f"Deployment {dep_meta.get('name')} matches generation {generation}.",
        )

    if deployment is None:
        put(c.AVAILABLE, "False", c.REASON_DEPLOYMENT_MISSING, "No Deployment yet.")
    elif rolled_out:
        reason = c.REASON_SCALED_TO_ZERO if want == 0 else c.REASON_REPLICAS_AVAILABLE
        put(c.AVAILABLE, "True", reason, f"{available}/{want} replicas available.")
    else:
        trouble = (
            f" Pod {unhealthy.name}: {unhealthy.reason} (last log lines in status.unhealthyPod)."
            if unhealthy
            else ""
        )
        put(
            c.AVAILABLE,
            "False",
            c.REASON_ROLLOUT_IN_PROGRESS,
            f"{updated} of {want} replicas updated, {available} available.{trouble}",
        )

    # Reconciling and Stalled are there only while True (see ``conditions``); a stalled Job is
    # not also reconciling, or kstatus would report it in progress instead of failed.
    ready = problem is None and up_to_date and rolled_out
    if ready:
        put(c.READY, "True", c.REASON_JOB_READY, f"Job is ready at {url}." if url else "")
        conds = c.remove_conditions(conds, c.RECONCILING, c.STALLED)
    elif problem is not None:
        put(c.READY, "False", problem.reason, problem.message)
        put(c.STALLED, "True", problem.reason, problem.message)
        conds = c.remove_conditions(conds, c.RECONCILING)
    else:
        reason = c.REASON_DEPLOYMENT_MISSING if deployment is None else c.REASON_ROLLOUT_IN_PROGRESS
        cond = c.find(conds, c.AVAILABLE if up_to_date else c.DEPLOYED)
        message = cond.message if cond is not None else ""
        put(c.READY, "False", reason, message)
        put(c.RECONCILING, "True", reason, message)
        conds = c.remove_conditions(conds, c.STALLED)

    image = None
    if deployment is not None:
        containers = deployment["spec"]["template"]["spec"].get("containers") or [{}]
        image = containers[0].get("image")
    return JobStatus(
        observed_generation=generation,
        conditions=sorted(conds, key=lambda cond: _ORDER.get(cond.type, 99)),
        image=image,
        url=url if deployment is not None else None,
        replicas=total,
        ready_replicas=_int(dep_status, "readyReplicas"),
        available_replicas=available,
        updated_replicas=updated,
        unhealthy_pod=None if rolled_out else unhealthy,
    )


_ORDER = {t: i for i, t in enumerate(c.JOB_CONDITION_TYPES)}


def events(old: JobStatus, new: JobStatus) -> list[Event]:
    """What a person should see in ``kubectl describe``: flips of Ready and Stalled only."""
    out: list[Event] = []
    old_stalled, new_stalled = c.find(old.conditions, c.STALLED), c.find(new.conditions, c.STALLED)
    if new_stalled is not None and new_stalled.status == "True":
        if old_stalled is None or (old_stalled.status, old_stalled.reason) != (
            "True",
            new_stalled.reason,
        ):
            out.append(Event("Warning", new_stalled.reason, new_stalled.message))
    elif old_stalled is not None and old_stalled.status == "True":
        out.append(Event("Normal", "Recovered", f"No longer stalled ({old_stalled.reason})."))
    was_ready, is_ready = c.is_true(old.conditions, c.READY), c.is_true(new.conditions, c.READY)
    if is_ready and not was_ready:
        ready = c.find(new.conditions, c.READY)
        out.append(Event("Normal", c.REASON_JOB_READY, ready.message if ready else "Ready."))
    return out
