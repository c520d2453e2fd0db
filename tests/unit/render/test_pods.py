"""Which pod explains a Job that is not available, and which of its logs to show."""

from __future__ import annotations

import datetime
from typing import Any

from racetrack_operator.render.pods import READINESS_FAILING, find_unhealthy, log_tail

NOW = datetime.datetime(2026, 11, 25, 12, 0, tzinfo=datetime.UTC)


def pod(name: str, *statuses: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": name}, "status": {"containerStatuses": list(statuses)}}


def container(ready: bool, state: dict[str, Any], restarts: int = 0) -> dict[str, Any]:
    return {"name": "job", "ready": ready, "state": state, "restartCount": restarts}


def running_since(seconds: int) -> dict[str, Any]:
    started = (NOW - datetime.timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")
    return {"running": {"startedAt": started}}


def test_healthy_and_starting_pods_are_not_blamed() -> None:
    pods = [
        pod("a", container(True, running_since(600))),
        pod("b", container(False, running_since(3))),
        pod("c", container(False, {"waiting": {"reason": "ContainerCreating"}})),
    ]
    assert find_unhealthy(pods, NOW) is None


def test_crash_loop_is_explained_by_the_previous_run() -> None:
    crashing = container(
        False,
        {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting"}},
        restarts=3,
    )
    trouble = find_unhealthy([pod("adder-1", crashing)], NOW)
    assert trouble is not None
    assert (trouble.pod, trouble.reason, trouble.restarts) == ("adder-1", "CrashLoopBackOff", 3)
    assert trouble.message == "back-off 40s restarting"
    assert trouble.previous_logs is True


def test_running_but_never_ready_is_a_failing_readiness_probe() -> None:
    trouble = find_unhealthy([pod("adder-1", container(False, running_since(60)))], NOW)
    assert trouble is not None
    assert trouble.reason == READINESS_FAILING
    assert trouble.previous_logs is False


def test_image_pull_errors_are_reported_without_logs_from_a_previous_run() -> None:
    pulling = container(False, {"waiting": {"reason": "ImagePullBackOff", "message": "not found"}})
    trouble = find_unhealthy([pod("x", pulling)], NOW)
    assert trouble is not None
    assert (trouble.reason, trouble.previous_logs) == ("ImagePullBackOff", False)


def test_the_first_failing_pod_by_name_is_chosen_and_terminating_ones_are_skipped() -> None:
    failing = container(False, running_since(60))
    leaving = pod("a", failing)
    leaving["metadata"]["deletionTimestamp"] = "2026-11-25T11:59:00Z"
    trouble = find_unhealthy([pod("c", failing), leaving, pod("b", failing)], NOW)
    assert trouble is not None and trouble.pod == "b"


def test_log_tail_keeps_the_last_non_empty_lines() -> None:
    text = "\n".join(f"line {i}" for i in range(30)) + "\n\n"
    assert log_tail(text, 3) == ["line 27", "line 28", "line 29"]
    assert log_tail("x" * 1000)[0] == "x" * 300
