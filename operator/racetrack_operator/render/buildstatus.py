"""What a build's batch Job and pods say, as the Job's ``status.build`` and ``Built`` (pure).

Build pods report through their containers' termination messages (see the builder's
``report``): results on success, a reason and the last log lines on failure, or, for a
container that died without a word, the tail of its log (``FallbackToLogsOnError``). The
pod's status carries them, so reading them needs only the pods, never their logs. The
step running now is the first container of the newest pod that has not finished.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Literal

from racetrack_api import conditions as c
from racetrack_api.v1alpha1.job import BuildStatus
from racetrack_operator.render.problems import Problem
from racetrack_operator.render.status import Value

Outcome = Literal["running", "succeeded", "failed"]
#: Log lines repeated in the Built condition's message (all of them are in status.build).
LOG_LINES_IN_MESSAGE = 5


@dataclasses.dataclass(frozen=True)
class StepFailure:
    step: str
    reason: str
    message: str
    permanent: bool
    log: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class BuildObservation:
    job: str
    outcome: Outcome
    attempts: int = 0
    step: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    results: dict[str, Any] = dataclasses.field(default_factory=dict)
    failure: StepFailure | None = None
    #: Why the batch Job failed, in the Job controller's words (DeadlineExceeded...).
    job_failure: str | None = None


def _containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    status = pod.get("status") or {}
    return [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]


def _terminated(container: dict[str, Any]) -> dict[str, Any] | None:
    found: dict[str, Any] | None = (container.get("state") or {}).get("terminated")
    return found


def _message(terminated: dict[str, Any]) -> dict[str, Any] | None:
    try:
        document = json.loads(terminated.get("message") or "")
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def step_failure(name: str, terminated: dict[str, Any]) -> StepFailure:
    """A failed container's report, or what Kubernetes knows when it left none."""
    document = _message(terminated)
    if document is not None and document.get("reason") in c.BUILD_FAILURE_REASONS:
        return StepFailure(
            str(document.get("step") or name),
            str(document["reason"]),
            str(document.get("message") or ""),
            bool(document.get("permanent")),
            tuple(str(line) for line in document.get("log") or ()),
        )
    why = terminated.get("reason") or "Error"
    text = str(terminated.get("message") or "")
    log = tuple(line.rstrip()[:300] for line in text.splitlines() if line.strip())[-20:]
    return StepFailure(
        name,
        c.REASON_BUILD_FAILED,
        f"step {name} stopped ({why}, exit code {terminated.get('exitCode')})",
        permanent=False,
        log=log,
    )


def _pod_view(pod: dict[str, Any]) -> tuple[str | None, dict[str, Any], StepFailure | None]:
    """The pod's current step, its steps' results so far, and its failure if any."""
    results: dict[str, Any] = {}
    durations: dict[str, float] = {}
    for container in _containers(pod):
        name = str(container.get("name"))
        terminated = _terminated(container)
        if terminated is None:
            return name, {**results, "durations": durations}, None
        if terminated.get("exitCode") != 0:
            return name, {**results, "durations": durations}, step_failure(name, terminated)
        document = _message(terminated) or {}
        durations.update(document.pop("timings", None) or {})
        results.update(document)
    return None, {**results, "durations": durations}, None


def _finished_at(pod: dict[str, Any]) -> str | None:
    times = [
        str(terminated.get("finishedAt"))
        for container in _containers(pod)
        if (terminated := _terminated(container)) and terminated.get("finishedAt")
    ]
    return max(times) if times else None


def _created(pod: dict[str, Any]) -> str:
    return str((pod.get("metadata") or {}).get("creationTimestamp") or "")


def _job_condition(batch: dict[str, Any], *types: str) -> dict[str, Any] | None:
    for condition in (batch.get("status") or {}).get("conditions") or []:
        if condition.get("type") in types and condition.get("status") == "True":
            found: dict[str, Any] = condition
            return found
    return None


def finished(batch: dict[str, Any]) -> bool:
    """Whether a build's batch Job succeeded or failed for good."""
    return _job_condition(batch, *_DONE, *_FAILED) is not None


_DONE = ("Complete", "SuccessCriteriaMet")
_FAILED = ("Failed", "FailureTarget")


def observe(batch: dict[str, Any], pods: list[dict[str, Any]]) -> BuildObservation:
    """The build as its batch Job and pods show it."""
    status = batch.get("status") or {}
    ordered = sorted(pods, key=_created)
    step: str | None = None
    results: dict[str, Any] = {}
    newest_failure = failure = None
    if ordered:
        step, results, newest_failure = _pod_view(ordered[-1])
        failure = newest_failure
        # The newest pod is fine so far: say why the attempt before it failed, if one did.
        for pod in reversed(ordered[:-1]):
            if failure is not None:
                break
            failure = _pod_view(pod)[2]
    done = _job_condition(batch, *_DONE)
    failed = _job_condition(batch, *_FAILED)
    outcome: Outcome = "succeeded" if done else "failed" if failed else "running"
    finished = (done or failed or {}).get("lastTransitionTime")
    # The newest pod says it a second or two before the Job controller does: pushed, or
    # failed in a way retrying cannot fix.
    if outcome == "running" and ordered:
        if step is None and results.get("digest"):
            outcome, finished = "succeeded", _finished_at(ordered[-1])
        elif newest_failure is not None and newest_failure.permanent:
            outcome, finished = "failed", _finished_at(ordered[-1])
    attempts = int(status.get("failed") or 0) + int(status.get("active") or 0)
    return BuildObservation(
        job=str(batch["metadata"]["name"]),
        outcome=outcome,
        attempts=max(len(ordered), attempts),
        step=step,
        started_at=status.get("startTime"),
        finished_at=str(finished) if finished else None,
        results=results,
        failure=failure,
        job_failure=str(failed.get("reason")) if failed else None,
    )


def build_status(
    observation: BuildObservation, inputs: str, registry: str, repository: str
) -> BuildStatus:
    """``status.build`` for an observed build; ``image`` only once it succeeded."""
    results = observation.results
    image = None
    if observation.outcome == "succeeded" and results.get("digest") and results.get("tag"):
        image = f"{registry}/{repository}:{results['tag']}@{results['digest']}"
    failure = observation.failure
    failed = observation.outcome == "failed"
    return BuildStatus(
        inputs=inputs,
        job=observation.job,
        step=(failure.step if failed and failure else observation.step),
        attempts=observation.attempts,
        revision=results.get("revision"),
        image=image,
        started_at=observation.started_at,
        finished_at=observation.finished_at,
        durations=dict(results.get("durations") or {}),
        log_tail=list(failure.log) if failed and failure else [],
    )


def queued_status(inputs: str, job: str) -> BuildStatus:
    return BuildStatus(inputs=inputs, job=job)


def built(
    observation: BuildObservation | None,
    status: BuildStatus,
    *,
    running: int = 0,
    limit: int = 0,
    timeout_seconds: int = 0,
) -> Value:
    """The ``Built`` condition; ``observation`` None means the build waits for a slot."""
    if observation is None:
        if status.image:
            return Value("True", c.REASON_BUILD_SUCCEEDED, f"Built {status.image}.")
        if status.finished_at:
            return Value("False", c.REASON_BUILD_FAILED, f"Build {status.job} failed.")
        return Value(
            "Unknown",
            c.REASON_BUILD_QUEUED,
            f"Waiting for a build slot: {running} of {limit} builds run "
            "(RACETRACK_MAX_CONCURRENT_BUILDS).",
        )
    if observation.outcome == "succeeded":
        if status.image is None:
            return Value(
                "False", c.REASON_BUILD_FAILED,
                f"Build {observation.job} finished without reporting an image; see "
                f"kubectl logs job/{observation.job} --all-containers",
            )  # fmt: skip
        took = _took(status)
        return Value("True", c.REASON_BUILD_SUCCEEDED, f"Built {status.image}{took}.")
    failure = observation.failure
    if observation.outcome == "failed":
        return _failed(observation, failure, timeout_seconds)
    where = f"step {observation.step}" if observation.step else "starting"
    attempt = f" (attempt {observation.attempts})" if observation.attempts > 1 else ""
    retrying = ""
    if failure is not None:
        retrying = f"; the last attempt failed in step {failure.step}: {failure.message}"
    return Value(
        "Unknown", c.REASON_BUILDING, f"Build {observation.job}: {where}{attempt}{retrying}."
    )


def _took(status: BuildStatus) -> str:
    total = sum(status.durations.values())
    return f" ({total:.1f} s of build steps)" if total else ""


def _failed(observation: BuildObservation, failure: StepFailure | None, timeout: int) -> Value:
    logs = f"kubectl logs job/{observation.job} --all-containers"
    if observation.job_failure == "DeadlineExceeded":
        # A step killed at the deadline often exits without a report: name the one it was in.
        step = failure.step if failure else observation.step
        where = f" in step {step}" if step else ""
        return Value(
            "False",
            c.REASON_BUILD_TIMED_OUT,
            f"Build {observation.job} did not finish within {timeout} s{where} "
            f"(RACETRACK_BUILD_TIMEOUT_SECONDS); see {logs}",
        )
    if failure is None:
        return Value(
            "False",
            c.REASON_BUILD_FAILED,
            f"Build {observation.job} failed ({observation.job_failure}); see {logs}",
        )
    attempts = "" if failure.permanent else f" after {observation.attempts} attempts"
    tail = "\n".join(failure.log[-LOG_LINES_IN_MESSAGE:])
    return Value(
        "False",
        failure.reason,
        f"Step {failure.step} failed{attempts}: {failure.message}"
        + (f"\nLast log lines:\n{tail}" if tail else "")
        + f"\nFull log: {logs}; set the annotation racetrack.io/rebuild-at to build again.",
    )


def failure_problem(value: Value) -> Problem | None:
    """A build that failed for good stalls the Job until its spec (or rebuild-at) changes."""
    if value.status != "False":
        return None
    return Problem(value.reason, value.message, retry=False)
