"""Which pod of a Job is unhealthy, and whose logs explain it: pure, from pod objects.

The original Racetrack failed a deployment with the last 20 log lines of the job; we keep the
Job running (Kubernetes keeps retrying) and show the same evidence in ``status.unhealthyPod``
for as long as the Job is not available. A container that is waiting after a crash is
explained by its *previous* run's logs; one that runs but fails its readiness probe, by the
current run's.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

#: A container running for less than this and not ready yet is still starting, not failing.
STARTING_GRACE = datetime.timedelta(seconds=15)
LOG_TAIL_LINES = 10
READINESS_FAILING = "ReadinessProbeFailing"


@dataclasses.dataclass(frozen=True)
class PodTrouble:
    pod: str
    container: str
    reason: str
    message: str
    restarts: int
    #: Read the previous run's logs (the current one has not started or just crashed).
    previous_logs: bool


def _started(running: dict[str, Any]) -> datetime.datetime | None:
    started = running.get("startedAt")
    if not started:
        return None
    return datetime.datetime.fromisoformat(str(started).replace("Z", "+00:00"))


def _trouble(pod: dict[str, Any], now: datetime.datetime) -> PodTrouble | None:
    name = str(pod["metadata"]["name"])
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("ready"):
            continue
        state = status.get("state") or {}
        restarts = int(status.get("restartCount", 0))
        if waiting := state.get("waiting"):
            reason = str(waiting.get("reason", ""))
            if reason in ("", "ContainerCreating", "PodInitializing") and restarts == 0:
                continue  # still starting
            return PodTrouble(
                name,
                str(status["name"]),
                reason or "Waiting",
                str(waiting.get("message", "")),
                restarts,
                previous_logs=restarts > 0,
            )
        if terminated := state.get("terminated"):
            return PodTrouble(
                name,
                str(status["name"]),
                str(terminated.get("reason") or "Terminated"),
                f"exit code {terminated.get('exitCode')}",
                restarts,
                previous_logs=False,
            )
        if (running := state.get("running")) is not None:
            started = _started(running)
            if started is not None and now - started < STARTING_GRACE:
                continue
            return PodTrouble(
                name,
                str(status["name"]),
                READINESS_FAILING,
                "the container runs but does not pass its readiness probe",
                restarts,
                previous_logs=False,
            )
    return None


def find_unhealthy(pods: list[dict[str, Any]], now: datetime.datetime) -> PodTrouble | None:
    """The first pod (by name, so the answer is stable) with a container that is failing."""
    for pod in sorted(pods, key=lambda p: str(p["metadata"]["name"])):
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            continue
        if trouble := _trouble(pod, now):
            return trouble
    return None


def log_tail(text: str, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last non-empty lines of a log, each cut to a length a status can carry."""
    kept = [line.rstrip()[:300] for line in text.splitlines() if line.strip()]
    return kept[-lines:]
