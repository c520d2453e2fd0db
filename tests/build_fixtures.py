"""Batch Jobs and build pods as the API server reports them, for the build status tests."""

from __future__ import annotations

import json
from typing import Any

DIGEST = "sha256:" + "d" * 64
REVISION = "3f2a9c1d0b7e" + "0" * 28


def terminated(
    exit_code: int, message: dict[str, Any] | str | None = None, **extra: Any
) -> dict[str, Any]:
    text = message if isinstance(message, str) else json.dumps(message or {})
    return {
        "terminated": {
            "exitCode": exit_code,
            "message": text,
            "finishedAt": extra.pop("finished", "2026-12-01T12:00:08Z"),
            **extra,
        }
    }


RUNNING = {"running": {"startedAt": "2026-12-01T12:00:02Z"}}
WAITING = {"waiting": {"reason": "PodInitializing"}}


def pod(name: str, created: str, **states: dict[str, Any]) -> dict[str, Any]:
    """A build pod whose containers (in order: fetch, then build or dockerfile) are in
    ``states``."""
    names = list(states)
    init = [{"name": n, "state": states[n]} for n in names[:-1]]
    main = [{"name": names[-1], "state": states[names[-1]]}]
    return {
        "metadata": {"name": name, "creationTimestamp": created},
        "status": {"initContainerStatuses": init, "containerStatuses": main},
    }


def batch(
    name: str = "adder-v1-0-0-build-01234567", *conditions: str, **status: Any
) -> dict[str, Any]:
    """A build's batch Job; ``conditions`` as ``Type`` or ``Type:Reason``."""
    out: dict[str, Any] = {
        "metadata": {"name": name, "namespace": "ml"},
        "status": {"startTime": "2026-12-01T12:00:00Z", **status},
    }
    out["status"]["conditions"] = [
        {
            "type": condition.partition(":")[0],
            "status": "True",
            "reason": condition.partition(":")[2],
            "lastTransitionTime": "2026-12-01T12:00:09Z",
        }
        for condition in conditions
    ]
    return out


BUILD_REPORT = {
    "digest": DIGEST,
    "tag": "1.0.0-3f2a9c1d0b7e",
    "revision": REVISION,
    "cached": True,
    "timings": {"dependencies": 0.1, "layers": 0.2, "push": 0.3},
}


def succeeded_pod() -> dict[str, Any]:
    return pod(
        "p1",
        "2026-12-01T12:00:00Z",
        fetch=terminated(0, {"revision": REVISION, "timings": {"clone": 0.4}}),
        build=terminated(0, BUILD_REPORT),
    )


def pip_failure() -> dict[str, Any]:
    return {
        "reason": "DependenciesFailed",
        "step": "dependencies",
        "message": "installing the requirements failed: No matching distribution found for x==9",
        "permanent": True,
        "log": ["ERROR: Could not find a version that satisfies the requirement x==9"],
    }
