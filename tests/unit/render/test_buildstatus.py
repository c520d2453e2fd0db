"""What a build's batch Job and pods say, turned into status.build and the Built condition."""

from __future__ import annotations

from typing import Any

from build_fixtures import (  # type: ignore[import-not-found]
    DIGEST,
    REVISION,
    RUNNING,
    WAITING,
    batch,
    pip_failure,
    pod,
    succeeded_pod,
    terminated,
)
from racetrack_api import conditions as c
from racetrack_api.v1alpha1.job import BuildStatus
from racetrack_operator.render import buildstatus
from racetrack_operator.render.status import Value

REGISTRY = "registry.example.org"
REPOSITORY = "racetrack/jobs/adder"


def status_and_built(
    job: dict[str, Any], pods: list[dict[str, Any]]
) -> tuple[buildstatus.BuildObservation, BuildStatus, Value]:
    seen = buildstatus.observe(job, pods)
    status = buildstatus.build_status(seen, "inputs", REGISTRY, REPOSITORY)
    return seen, status, buildstatus.built(seen, status, timeout_seconds=900)


def test_a_running_build_names_its_step() -> None:
    running = pod(
        "p1",
        "2026-12-01T12:00:00Z",
        fetch=terminated(0, {"revision": REVISION, "timings": {"clone": 0.4}}),
        build=RUNNING,
    )
    seen, status, value = status_and_built(batch("b", active=1), [running])
    assert (seen.outcome, seen.step, seen.attempts) == ("running", "build", 1)
    assert (value.status, value.reason) == ("Unknown", c.REASON_BUILDING)
    assert value.message == "Build b: step build."
    assert status.revision == REVISION and status.image is None


def test_a_build_that_pushed_is_built_with_its_digest_and_timings() -> None:
    seen, status, value = status_and_built(batch("b", "Complete", succeeded=1), [succeeded_pod()])
    assert seen.outcome == "succeeded"
    assert status.image == f"{REGISTRY}/{REPOSITORY}:1.0.0-3f2a9c1d0b7e@{DIGEST}"
    assert status.step is None
    assert status.durations == {"clone": 0.4, "dependencies": 0.1, "layers": 0.2, "push": 0.3}
    assert (value.status, value.reason) == ("True", c.REASON_BUILD_SUCCEEDED)
    assert DIGEST in value.message


def test_the_pod_says_it_is_done_before_the_job_controller_does() -> None:
    seen, _, value = status_and_built(batch("b", active=1), [succeeded_pod()])
    assert seen.outcome == "succeeded" and seen.finished_at == "2026-12-01T12:00:08Z"
    assert value.status == "True"


def test_a_requirement_that_does_not_install_fails_the_build_with_pip_s_words() -> None:
    failed = pod(
        "p1",
        "2026-12-01T12:00:00Z",
        fetch=terminated(0, {"revision": REVISION}),
        build=terminated(65, pip_failure()),
    )
    for job in (batch("b", active=1), batch("b", "FailureTarget:PodFailurePolicy", failed=1)):
        seen, status, value = status_and_built(job, [failed])
        assert seen.outcome == "failed"
        assert (value.status, value.reason) == ("False", c.REASON_DEPENDENCIES_FAILED)
        assert "No matching distribution found for x==9" in value.message
        assert "Last log lines:\nERROR: Could not find a version" in value.message
        assert "kubectl logs job/b --all-containers" in value.message
        assert status.step == "dependencies"
        assert status.log_tail == pip_failure()["log"]
    problem = buildstatus.failure_problem(value)
    assert problem is not None and problem.reason == c.REASON_DEPENDENCIES_FAILED
    assert not problem.retry


def test_a_failure_that_may_pass_is_retried_and_said_so() -> None:
    unreachable = {
        "reason": "FetchFailed",
        "message": "git could not fetch the default branch (will retry): Failed to connect",
        "permanent": False,
        "log": ["fatal: unable to access: Failed to connect"],
    }
    first = pod("p1", "2026-12-01T12:00:00Z", fetch=terminated(75, unreachable), build=WAITING)
    second = pod("p2", "2026-12-01T12:00:20Z", fetch=RUNNING, build=WAITING)
    seen, _, value = status_and_built(batch("b", active=1, failed=1), [second, first])
    assert (seen.outcome, seen.step, seen.attempts) == ("running", "fetch", 2)
    assert (value.status, value.reason) == ("Unknown", c.REASON_BUILDING)
    assert (
        "(attempt 2); the last attempt failed in step fetch: git could not fetch" in value.message
    )
    # Out of retries: failed for good, after how many attempts.
    third = pod("p3", "2026-12-01T12:00:50Z", fetch=terminated(75, unreachable), build=WAITING)
    seen, _, value = status_and_built(
        batch("b", "Failed:BackoffLimitExceeded", failed=3), [first, second, third]
    )
    assert (value.status, value.reason) == ("False", c.REASON_FETCH_FAILED)
    assert "Step fetch failed after 3 attempts" in value.message


def test_a_step_that_died_without_a_word_is_explained_by_its_log_tail() -> None:
    killed = pod(
        "p1",
        "2026-12-01T12:00:00Z",
        fetch=terminated(0, {"revision": REVISION}),
        build=terminated(137, "Collecting torch\nKilled\n", reason="OOMKilled"),
    )
    _, status, value = status_and_built(batch("b", "Failed:BackoffLimitExceeded"), [killed])
    assert value.reason == c.REASON_BUILD_FAILED
    assert "step build stopped (OOMKilled, exit code 137)" in value.message
    assert status.log_tail == ["Collecting torch", "Killed"]


def test_a_build_past_its_deadline_timed_out() -> None:
    _, _, value = status_and_built(batch("b", "Failed:DeadlineExceeded"), [])
    assert (value.status, value.reason) == ("False", c.REASON_BUILD_TIMED_OUT)
    assert "did not finish within 900 s" in value.message


def test_a_build_that_timed_out_names_the_step_it_was_in() -> None:
    stopped = pod(
        "p1",
        "2026-12-01T12:00:00Z",
        fetch=terminated(0, {"revision": REVISION, "timings": {"clone": 0.4}}),
        build=RUNNING,
    )
    seen, _, value = status_and_built(batch("b", "Failed:DeadlineExceeded"), [stopped])
    assert (seen.step, value.reason) == ("build", c.REASON_BUILD_TIMED_OUT)
    assert "did not finish within 900 s in step build" in value.message


def test_a_build_waiting_for_a_slot_says_so() -> None:
    status = buildstatus.queued_status("inputs", "b")
    value = buildstatus.built(None, status, running=4, limit=4)
    assert (value.status, value.reason) == ("Unknown", c.REASON_BUILD_QUEUED)
    assert "4 of 4 builds run" in value.message


def test_a_finished_batch_job_is_finished_whatever_its_pods_say() -> None:
    assert buildstatus.finished(batch("b", "Complete"))
    assert buildstatus.finished(batch("b", "Failed:DeadlineExceeded"))
    assert not buildstatus.finished(batch("b", active=1))
