"""The Job's status, computed from what the reconciler observed: one function per condition.

The Job handler and the Deployment watch both refresh status through ``job_status``, so they
can never disagree about what a state means. Each condition's function takes only what that
condition depends on (the problem, the ``Rollout`` of the Job's Deployment, ...) and returns
its value, or None where the condition is present only while True (``Reconciling``,
``Stalled``: see ``racetrack_api.conditions``).
"""

from __future__ import annotations

import dataclasses

from racetrack_api import conditions as c
from racetrack_api.v1alpha1 import Job
from racetrack_api.v1alpha1.common import Condition, ConditionStatus
from racetrack_api.v1alpha1.job import JobStatus, UnhealthyPod
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


def deployed(rollout: Rollout, generation: int, problem: Problem | None) -> Value:
    blocked = f" Blocked: {problem.message}" if problem else ""
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


def available(rollout: Rollout, unhealthy: UnhealthyPod | None) -> Value:
    if not rollout.exists:
        return Value("False", c.REASON_DEPLOYMENT_MISSING, "No Deployment yet.")
    if rollout.done:
        reason = c.REASON_SCALED_TO_ZERO if rollout.want == 0 else c.REASON_REPLICAS_AVAILABLE
        return Value("True", reason, f"{rollout.available}/{rollout.want} replicas available.")
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
    problem: Problem | None, rollout: Rollout, url: str | None, deployed_: Value, available_: Value
) -> Value:
    if problem is not None:
        return Value("False", problem.reason, problem.message)
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
) -> JobStatus:
    generation = job.generation
    problem = effective_problem(problem, rollout)
    deployed_ = deployed(rollout, generation, problem)
    available_ = available(rollout, unhealthy)
    ready_ = ready(problem, rollout, url, deployed_, available_)
    values: dict[str, Value | None] = {
        c.READY: ready_,
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
        url=url if rollout.exists else None,
        replicas=rollout.total,
        ready_replicas=rollout.ready,
        available_replicas=rollout.available,
        updated_replicas=rollout.updated,
        unhealthy_pod=None if rollout.done else unhealthy,
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
        ready_cond = c.find(new.conditions, c.READY)
        out.append(
            Event("Normal", c.REASON_JOB_READY, ready_cond.message if ready_cond else "Ready.")
        )
    return out
