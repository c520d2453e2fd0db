"""Job status from observations: conditions, reasons, transitions, events, no-op detection."""

from __future__ import annotations

from typing import Any

from rtjob_fixtures import adder, python3  # type: ignore[import-not-found]

from racetrack_api import conditions as c
from racetrack_api.v1alpha1 import Job
from racetrack_api.v1alpha1.job import JobStatus, UnhealthyPod
from racetrack_operator.render.deployment import desired_deployment
from racetrack_operator.render.diff import merge_patch
from racetrack_operator.render.names import ANNOTATION_RENDER_HASH
from racetrack_operator.render.problems import Problem
from racetrack_operator.render.rollout import deployment_view, observe
from racetrack_operator.render.status import events, job_status, progress_only, status_patch
from racetrack_operator.settings import Settings

URL = "http://adder-v1-0-0.ml.svc.cluster.local:7000"
T0, T1 = "2026-11-25T12:00:00Z", "2026-11-25T12:05:00Z"


def deployment(job: Job, *, available: int, updated: int | None = None) -> dict[str, Any]:
    body = desired_deployment(job, python3(), Settings())
    body["metadata"]["generation"] = 1
    replicas = body["spec"]["replicas"]
    body["status"] = {
        "observedGeneration": 1,
        "replicas": replicas,
        "updatedReplicas": replicas if updated is None else updated,
        "availableReplicas": available,
        "readyReplicas": available,
    }
    return body


def rollout(job: Job, dep: dict[str, Any] | None) -> Any:
    """What the Deployment ``dep`` says about the rollout of ``job`` as it is now."""
    desired = desired_deployment(job, python3(), Settings())
    return observe(dep, desired["metadata"]["annotations"][ANNOTATION_RENDER_HASH], 1)


def status(job: Job, dep: dict[str, Any] | None, problem: Problem | None = None) -> JobStatus:
    return job_status(job, problem=problem, rollout=rollout(job, dep), url=URL, timestamp=T0)


def cond(s: JobStatus, type_: str) -> tuple[str, str]:
    found = c.find(s.conditions, type_)
    assert found is not None
    return found.status, found.reason


def test_available_deployment_makes_the_job_ready() -> None:
    job = adder()
    s = status(job, deployment(job, available=2))
    assert cond(s, c.READY) == ("True", c.REASON_JOB_READY)
    assert cond(s, c.DEPLOYED) == ("True", c.REASON_DEPLOYMENT_UP_TO_DATE)
    assert cond(s, c.AVAILABLE) == ("True", c.REASON_REPLICAS_AVAILABLE)
    # kstatus "abnormal-true" conditions are absent when not True (Flux does the same).
    assert [x.type for x in s.conditions] == [c.READY, c.DEPLOYED, c.AVAILABLE]
    assert s.url == URL and s.available_replicas == 2 and s.observed_generation == 1
    assert all(x.observed_generation == 1 for x in s.conditions)


def test_rollout_in_progress_is_reconciling_not_ready() -> None:
    job = adder()
    s = status(job, deployment(job, available=1, updated=1))
    assert cond(s, c.READY) == ("False", c.REASON_ROLLOUT_IN_PROGRESS)
    assert cond(s, c.RECONCILING) == ("True", c.REASON_ROLLOUT_IN_PROGRESS)
    assert c.find(s.conditions, c.STALLED) is None
    ready = c.find(s.conditions, c.READY)
    assert ready is not None and "1 of 2 replicas updated" in ready.message


def test_outdated_deployment_is_not_deployed() -> None:
    old = adder()
    new = adder(spec={"replicas": 3}, generation=2)
    s = status(new, deployment(old, available=2))
    assert cond(s, c.DEPLOYED) == ("False", c.REASON_DEPLOYMENT_OUTDATED)
    assert cond(s, c.READY)[0] == "False"
    assert s.observed_generation == 2


def test_problem_stalls_with_its_reason_everywhere_it_shows() -> None:
    problem = Problem(c.REASON_SECRET_NOT_FOUND, 'Secret "x" does not exist', retry=True)
    s = status(adder(), None, problem)
    assert cond(s, c.STALLED) == ("True", c.REASON_SECRET_NOT_FOUND)
    assert cond(s, c.READY) == ("False", c.REASON_SECRET_NOT_FOUND)
    assert c.find(s.conditions, c.RECONCILING) is None  # kstatus: Failed, not InProgress
    assert cond(s, c.DEPLOYED) == ("False", c.REASON_DEPLOYMENT_MISSING)
    assert s.url is None


def test_progress_deadline_exceeded_stalls() -> None:
    job = adder()
    dep = deployment(job, available=0)
    dep["status"]["conditions"] = [
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
         "message": 'ReplicaSet "x" has timed out progressing.'}
    ]  # fmt: skip
    s = status(job, dep)
    assert cond(s, c.STALLED) == ("True", c.REASON_PROGRESS_DEADLINE_EXCEEDED)


def test_scaled_to_zero_is_ready() -> None:
    job = adder(spec={"replicas": 0})
    s = status(job, deployment(job, available=0))
    assert cond(s, c.AVAILABLE) == ("True", c.REASON_SCALED_TO_ZERO)
    assert cond(s, c.READY)[0] == "True"


def test_transition_time_moves_only_when_status_flips() -> None:
    job = adder()
    first = status(job, deployment(job, available=1, updated=1))
    later_job = job.model_copy(update={"status": first})
    still_rolling = job_status(
        later_job,
        problem=None,
        rollout=rollout(job, deployment(job, available=1, updated=2)),
        url=URL,
        timestamp=T1,
    )
    ready = c.find(still_rolling.conditions, c.READY)
    assert ready is not None and ready.status == "False"
    assert ready.last_transition_time == T0  # message changed, status did not
    done = job_status(
        later_job.model_copy(update={"status": still_rolling}),
        problem=None,
        rollout=rollout(job, deployment(job, available=2)),
        url=URL,
        timestamp=T1,
    )
    flipped = c.find(done.conditions, c.READY)
    assert flipped is not None and flipped.last_transition_time == T1


def test_events_only_on_flips() -> None:
    job = adder()
    stalled = status(job, None, Problem(c.REASON_UNKNOWN_JOB_TYPE, "no such type", retry=False))
    assert [(e.type, e.reason) for e in events(JobStatus(), stalled)] == [
        ("Warning", c.REASON_UNKNOWN_JOB_TYPE)
    ]
    assert events(stalled, stalled) == []
    ready = status(job, deployment(job, available=2))
    assert [(e.type, e.reason) for e in events(stalled, ready)] == [
        ("Normal", "Recovered"),
        ("Normal", c.REASON_JOB_READY),
    ]
    assert c.find(ready.conditions, c.STALLED) is None  # recovered: the condition goes away


def test_unchanged_status_is_not_written() -> None:
    job = adder()
    s = status(job, deployment(job, available=2))
    assert merge_patch(s.to_wire(), s.to_wire()) is None
    stalled = status(job, None, Problem(c.REASON_SECRET_NOT_FOUND, "missing", retry=True))
    patch = merge_patch(s.to_wire(), stalled.to_wire())
    assert patch is not None
    assert patch["url"] is None and patch["image"] is None  # removed fields become nulls


def test_deployment_view_is_enough_for_status() -> None:
    job = adder()
    full = deployment(job, available=2)
    full["status"]["conditions"] = [{"type": "Available", "status": "True", "reason": "x"}]
    view = deployment_view(full)
    assert status(job, view) == status(job, full)
    assert view["metadata"]["annotations"] == {
        ANNOTATION_RENDER_HASH: full["metadata"]["annotations"][ANNOTATION_RENDER_HASH]
    }
    assert "env" not in str(view)  # the pod template is not kept


def test_an_unhealthy_pod_is_shown_while_unavailable_and_dropped_once_available() -> None:
    job = adder()
    crashing = UnhealthyPod(
        name="adder-v1-0-0-7d9f-abcde",
        reason="CrashLoopBackOff",
        restarts=4,
        log_tail=["ImportError: class NoSuchClass was not found"],
    )
    common: dict[str, Any] = {
        "problem": None,
        "url": URL,
        "timestamp": "2026-11-25T12:00:00Z",
        "unhealthy": crashing,
    }
    failing_rollout = rollout(job, deployment(job, available=1, updated=2))
    failing = job_status(job, rollout=failing_rollout, **common)
    assert failing.unhealthy_pod == crashing
    available = c.find(failing.conditions, c.AVAILABLE)
    assert available is not None
    assert "Pod adder-v1-0-0-7d9f-abcde: CrashLoopBackOff" in available.message
    assert failing.to_wire()["unhealthyPod"]["logTail"] == crashing.log_tail

    healed = job_status(job, rollout=rollout(job, deployment(job, available=2)), **common)
    assert healed.unhealthy_pod is None


def test_each_condition_answers_from_the_rollout_alone() -> None:
    job = adder()
    missing = rollout(job, None)
    assert not missing.exists and not missing.done
    half = rollout(job, deployment(job, available=1, updated=1))
    assert half.up_to_date and not half.done and not half.fully_available
    old_but_serving = rollout(
        adder(spec={"replicas": 3}, generation=2), deployment(job, available=2)
    )
    assert not old_but_serving.up_to_date and old_but_serving.fully_available
    assert not old_but_serving.done


def test_the_operator_never_writes_the_gateways_last_call_time() -> None:
    job = adder()
    new = status(job, deployment(job, available=2))
    assert new.last_call_time is None  # the operator's view has none
    stored = new.model_copy(update={"last_call_time": T1, "ready_replicas": 1})
    # Computed from a view without lastCallTime, against a stored status that has one:
    # the write names only the operator's fields, so it neither drops nor resets the time.
    patch = status_patch(stored, new)
    assert patch == {"readyReplicas": 2}
    assert status_patch(new, new.model_copy(update={"last_call_time": T1})) is None
    # A status computed from a view that carries the time keeps it in the operator's copy.
    seen = job.model_copy(update={"status": stored})
    assert status(seen, deployment(seen, available=2)).last_call_time == T1


def test_replica_counts_and_messages_alone_are_progress_but_a_flip_is_not() -> None:
    job = adder()  # two replicas
    created = status(job, deployment(job, available=0, updated=0))
    updated = status(job, deployment(job, available=0))
    half = status(job, deployment(job, available=1))
    done = status(job, deployment(job, available=2))
    assert status_patch(created, updated) is not None
    assert progress_only(created, updated) and progress_only(updated, half)
    assert not progress_only(half, done)  # Ready flips
    stalled = status(job, deployment(job, available=1), Problem("SecretMissing", "no", True))
    assert not progress_only(half, stalled)
    unhealthy = half.model_copy(
        update={"unhealthy_pod": UnhealthyPod(name="p", reason="CrashLoopBackOff", restarts=1)}
    )
    assert not progress_only(half, unhealthy)
    regenerated = half.model_copy(update={"observed_generation": 2})
    assert not progress_only(half, regenerated)
