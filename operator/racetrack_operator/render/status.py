"""The Job's status, computed from what the reconciler observed: one function per condition.

The Job handler and the Deployment watch both refresh status through ``job_status``, so they
can never disagree about what a state means. Each condition's function takes only what that
condition depends on (the problem, the ``Rollout`` of the Job's Deployment, ...) and returns
its value, or None where the condition is present only while True (``Reconciling``,
``Stalled``: see ``racetrack_api.conditions``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from racetrack_api import conditions as c
from racetrack_api.v1alpha1 import Job
from racetrack_api.v1alpha1.common import Condition, ConditionStatus
from racetrack_api.v1alpha1.job import (
    GATEWAY_STATUS_FIELDS,
    PURGE_STATUS_FIELDS,
    BuildStatus,
    JobStatus,
    UnhealthyPod,
)
from racetrack_operator.render.diff import merge_patch
from racetrack_operator.render.problems import Problem
from racetrack_operator.render.rollout import Rollout


@dataclasses.dataclass(frozen=True)
class Value:
    """What one condition should say."""

    status: ConditionStatus
    reason: str
    message: str


@dataclasses.dataclass(frozen=True)
class Event:
    """A Kubernetes event worth showing in ``kubectl describe``."""

    type: str  # Normal or Warning
    reason: str
    message: str


def effective_problem(problem: Problem | None, rollout: Rollout) -> Problem | None:
    """The spec's problem, else a rollout the Deployment controller gave up on."""
    if problem is None and rollout.deadline_exceeded:
        return Problem(c.REASON_PROGRESS_DEADLINE_EXCEEDED, rollout.deadline_exceeded, retry=True)
    return problem


def deployed(
    rollout: Rollout, generation: int, problem: Problem | None, built_: Value | None = None
) -> Value:
    blocked = f" Blocked: {problem.message}" if problem else ""
    if not blocked and built_ is not None and built_.status != "True":
        blocked = f" Waiting for the image: {built_.message}"
    if not rollout.exists:
        return Value("False", c.REASON_DEPLOYMENT_MISSING, "No Deployment yet." + blocked)
    if not rollout.up_to_date:
        return Value(
            "False",
            c.REASON_DEPLOYMENT_OUTDATED,
            f"Deployment {rollout.name} does not match generation {generation} yet." + blocked,
        )
    return Value(
        "True",
        c.REASON_DEPLOYMENT_UP_TO_DATE,
        f"Deployment {rollout.name} matches generation {generation}.",
    )


def available(
    rollout: Rollout, unhealthy: UnhealthyPod | None, built_: Value | None = None
) -> Value:
    if not rollout.exists:
        return Value("False", c.REASON_DEPLOYMENT_MISSING, "No Deployment yet.")
    if rollout.done:
        reason = c.REASON_SCALED_TO_ZERO if rollout.want == 0 else c.REASON_REPLICAS_AVAILABLE
        return Value("True", reason, f"{rollout.available}/{rollout.want} replicas available.")
    if built_ is not None and built_.status != "True" and rollout.fully_available:
        # The Deployment is held while the new image is built (or after it failed): the
        # previous image serves, with every replica.
        return Value(
            "True",
            c.REASON_REPLICAS_AVAILABLE,
            f"{rollout.available}/{rollout.want} replicas of the previous image available.",
        )
    trouble = (
        f" Pod {unhealthy.name}: {unhealthy.reason} (last log lines in status.unhealthyPod)."
        if unhealthy
        else ""
    )
    return Value(
        "False",
        c.REASON_ROLLOUT_IN_PROGRESS,
        f"{rollout.updated} of {rollout.want} replicas updated, "
        f"{rollout.available} available.{trouble}",
    )


def ready(
    problem: Problem | None,
    rollout: Rollout,
    url: str | None,
    deployed_: Value,
    available_: Value,
    built_: Value | None = None,
) -> Value:
    if problem is not None:
        return Value("False", problem.reason, problem.message)
    if built_ is not None and built_.status != "True":
        # The generation is not ready until its image exists; the previous one still serves.
        return Value("False", built_.reason, built_.message)
    if rollout.done:
        return Value("True", c.REASON_JOB_READY, f"Job is ready at {url}." if url else "")
    # Not ready, nothing wrong: say what the rollout waits for.
    reason = c.REASON_ROLLOUT_IN_PROGRESS if rollout.exists else c.REASON_DEPLOYMENT_MISSING
    waiting_for = available_ if rollout.up_to_date else deployed_
    return Value("False", reason, waiting_for.message)


def stalled(problem: Problem | None) -> Value | None:
    return None if problem is None else Value("True", problem.reason, problem.message)


def reconciling(problem: Problem | None, ready_: Value) -> Value | None:
    # A stalled Job is not also reconciling, or kstatus would report it in progress
    # instead of failed.
    if problem is not None or ready_.status == "True":
        return None
    return Value("True", ready_.reason, ready_.message)


def job_status(
    job: Job,
    *,
    problem: Problem | None,
    rollout: Rollout,
    url: str | None,
    timestamp: str,
    unhealthy: UnhealthyPod | None = None,
    build: BuildStatus | None = None,
    built: Value | None = None,
) -> JobStatus:
    """``build`` and ``built`` are the image build's record and condition (None for Jobs
    with a prebuilt image, which have no Built condition)."""
    generation = job.generation
    problem = effective_problem(problem, rollout)
    deployed_ = deployed(rollout, generation, problem, built)
    available_ = available(rollout, unhealthy, built)
    ready_ = ready(problem, rollout, url, deployed_, available_, built)
    values: dict[str, Value | None] = {
        c.READY: ready_,
        c.BUILT: built,
        c.DEPLOYED: deployed_,
        c.AVAILABLE: available_,
        c.RECONCILING: reconciling(problem, ready_),
        c.STALLED: stalled(problem),
    }
    conds: list[Condition] = list(job.status.conditions)
    for type_, value in values.items():
        if value is None:
            conds = c.remove_conditions(conds, type_)
        else:
            conds = c.set_condition(
                conds, type_, value.status, value.reason, value.message, generation, timestamp
            )
    return JobStatus(
        observed_generation=generation,
        conditions=sorted(conds, key=lambda cond: _ORDER.get(cond.type, 99)),
        image=rollout.image,
        build=build,
        url=url if rollout.exists else None,
        replicas=rollout.total,
        ready_replicas=rollout.ready,
        available_replicas=rollout.available,
        updated_replicas=rollout.updated,
        unhealthy_pod=None if rollout.done else unhealthy,
        last_call_time=job.status.last_call_time,
        purge=job.status.purge,
    )


def status_patch(old: JobStatus, new: JobStatus) -> dict[str, Any] | None:
    """The merge patch of the operator's status write, None when there is nothing to write.

    Only fields the reconciliation owns: the gateway writes ``lastCallTime`` and the purge
    score has writers of its own (the purge timer, and ``reconcile.job`` adds it freshly
    scored), so a status computed from the operator's (possibly older) view of the Job never
    names them, and a write can never set them back or drop them."""
    before, after = old.to_wire(), new.to_wire()
    for field in (*GATEWAY_STATUS_FIELDS, *PURGE_STATUS_FIELDS):
        before.pop(field, None)
        after.pop(field, None)
    return merge_patch(before, after)


_ORDER = {t: i for i, t in enumerate(c.JOB_CONDITION_TYPES)}


def events(old: JobStatus, new: JobStatus) -> list[Event]:
    """What a person should see in ``kubectl describe``: builds, flips of Ready and Stalled."""
    out = build_events(old, new)
    old_stalled, new_stalled = c.find(old.conditions, c.STALLED), c.find(new.conditions, c.STALLED)
    if new_stalled is not None and new_stalled.status == "True":
        # A failed build is told by its BuildFailed event.
        told = new_stalled.reason in c.BUILD_FAILURE_REASONS
        if not told and (
            old_stalled is None
            or (old_stalled.status, old_stalled.reason) != ("True", new_stalled.reason)
        ):
            out.append(Event("Warning", new_stalled.reason, new_stalled.message))
    elif old_stalled is not None and old_stalled.status == "True":
        out.append(Event("Normal", "Recovered", f"No longer stalled ({old_stalled.reason})."))
    was_ready, is_ready = c.is_true(old.conditions, c.READY), c.is_true(new.conditions, c.READY)
    if is_ready and not was_ready:
        ready_cond = c.find(new.conditions, c.READY)
        out.append(
            Event("Normal", c.REASON_JOB_READY, ready_cond.message if ready_cond else "Ready.")
        )
    return out


def build_events(old: JobStatus, new: JobStatus) -> list[Event]:
    """A build started, succeeded or failed: each told once, when it happens."""
    before, after = old.build, new.build
    if after is None:
        return []
    out: list[Event] = []
    if after.attempts > 0 and (before is None or before.job != after.job or before.attempts == 0):
        out.append(Event("Normal", "BuildStarted", f"Building the image in batch Job {after.job}."))
    built_ = c.find(new.conditions, c.BUILT)
    if built_ is None:
        return out
    if after.image and (before is None or before.image != after.image):
        out.append(Event("Normal", c.REASON_BUILD_SUCCEEDED, built_.message))
    finished = after.finished_at and (before is None or before.finished_at != after.finished_at)
    if built_.status == "False" and finished:
        out.append(Event("Warning", "BuildFailed", f"{built_.reason}: {built_.message}"))
    return out


#: Status fields that count how far a rollout got; they change on most Deployment events.
_PROGRESS_FIELDS = ("replicas", "readyReplicas", "availableReplicas", "updatedReplicas")


def progress_only(old: JobStatus, new: JobStatus) -> bool:
    """Whether ``new`` tells nothing ``old`` does not besides how far a rollout got: replica
    counts and condition messages. Every condition's status and reason, the generation
    observed, the image, URL, build and unhealthy pod are the same, so no event is due and
    kstatus readers (``kubectl wait``, Argo CD, Flux) would conclude the same from both."""

    def phase(status: JobStatus) -> dict[str, Any]:
        wire = status.to_wire()
        for field in (*_PROGRESS_FIELDS, *GATEWAY_STATUS_FIELDS, *PURGE_STATUS_FIELDS):
            wire.pop(field, None)
        wire["conditions"] = [
            (cond.type, cond.status, cond.reason, cond.observed_generation)
            for cond in status.conditions
        ]
        return wire

    return phase(old) == phase(new)
