"""Where a deploy stands, read from the Job's conditions (pure, so it is tested on tables)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from racetrack_api import conditions

SUBMITTED = "submitted"
BUILDING = "building"
DEPLOYING = "deploying"
READY = "ready"
FAILED = "failed"


@dataclass(frozen=True)
class Progress:
    phase: str
    detail: str = ""

    @property
    def finished(self) -> bool:
        return self.phase in (READY, FAILED)


def condition(job: dict[str, Any], type_: str) -> dict[str, Any]:
    for found in (job.get("status") or {}).get("conditions") or []:
        if found.get("type") == type_:
            return dict(found)
    return {}


def progress(job: dict[str, Any]) -> Progress:
    """The deploy's phase: submitted until the operator has seen this generation, then
    building, deploying, and ready, or failed when the Job is Stalled."""
    status = job.get("status") or {}
    generation = (job.get("metadata") or {}).get("generation", 0)
    if status.get("observedGeneration", 0) < generation:
        return Progress(SUBMITTED, "waiting for the operator")
    stalled = condition(job, conditions.STALLED)
    if stalled.get("status") == "True":
        return Progress(FAILED, f"{stalled.get('reason')}: {stalled.get('message')}")
    ready = condition(job, conditions.READY)
    if ready.get("status") == "True":
        return Progress(READY, str(ready.get("message") or ""))
    built = condition(job, conditions.BUILT)
    if built and built.get("status") != "True":
        step = (status.get("build") or {}).get("step")
        detail = f"{built.get('reason')}" + (f" ({step})" if step else "")
        if built.get("message"):
            detail += f": {built['message']}"
        return Progress(BUILDING, detail)
    available = condition(job, conditions.AVAILABLE)
    replicas = f"{status.get('readyReplicas', 0)}/{status.get('replicas', 0)} pods ready"
    message = available.get("message") or ready.get("message") or ""
    return Progress(DEPLOYING, f"{replicas}" + (f": {message}" if message else ""))
