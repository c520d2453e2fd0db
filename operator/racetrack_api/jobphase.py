"""A Job's state in the original's words, read from its status as plain JSON.

The original named a job's state ``starting``, ``running``, ``error`` or ``lost``; here
conditions say more, and this is how they map back, for the purge score and the portfolio:

- ``error``: the Job is Stalled, or not Ready with a pod that is not ready (a crash, a probe);
- ``lost``: not error, and not Ready for want of a Deployment (not being built) for at least
  ``LOST_AFTER``: nothing in the cluster serves it. The operator recreates a Deployment
  that goes away at once, so this is one it cannot make; the grace keeps the moment between
  a Job's creation and its Deployment's from counting;
- ``running``: Ready;
- ``starting``: anything else (being built, rolled out, or not seen by the operator yet).

Read from JSON rather than the models, so one Job our models would refuse never stops a list.
"""

from __future__ import annotations

import datetime
from typing import Any, Literal

from racetrack_api import conditions as c

Phase = Literal["starting", "running", "error", "lost"]
JsonDict = dict[str, Any]
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
LOST_AFTER = datetime.timedelta(minutes=10)


def phase(job: JsonDict, now: datetime.datetime) -> Phase:
    status: JsonDict = job.get("status") or {}
    conditions: list[JsonDict] = status.get("conditions") or []
    ready_condition = condition(conditions, c.READY)
    ready = ready_condition.get("status") == "True"
    if condition(conditions, c.STALLED).get("status") == "True":
        return "error"
    if not ready and status.get("unhealthyPod"):
        return "error"
    if ready:
        return "running"
    if ready_condition.get("reason") == c.REASON_DEPLOYMENT_MISSING:
        since = parse_time(ready_condition.get("lastTransitionTime"))
        if since is not None and now - since >= LOST_AFTER:
            return "lost"
    return "starting"


def updated_at(job: JsonDict) -> datetime.datetime:
    """The later of the Job's creation and the last flip of its Ready condition (a deploy,
    a redeploy and a rollout all flip it)."""
    conditions = (job.get("status") or {}).get("conditions") or []
    created = parse_time((job.get("metadata") or {}).get("creationTimestamp")) or EPOCH
    flipped = parse_time(condition(conditions, c.READY).get("lastTransitionTime")) or created
    return max(created, flipped)


def last_call(job: JsonDict) -> datetime.datetime | None:
    """When the gateway last saw the job called; None when it never did."""
    return parse_time((job.get("status") or {}).get("lastCallTime"))


def condition(conditions: list[JsonDict], type_: str) -> JsonDict:
    return next((cond for cond in conditions if cond.get("type") == type_), {})


def parse_time(text: Any) -> datetime.datetime | None:
    """An RFC 3339 time (``Z`` or an offset), None for anything else."""
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)
