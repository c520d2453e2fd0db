"""From Jobs as the API server lists them to each Job's purge status (pure).

What ``render.purge`` scores is read from what the Job's status already says, so the timer
needs nothing but one list of Jobs:

- lost: the Job should be serving (not stalled, not being rolled out or built, not scaled to
  zero) but no Deployment of it exists;
- failing: the Job is Stalled, or not Ready with a pod that is not ready (a crash, a probe);
- updated: the later of its creation and the last flip of its Ready condition (a deploy, a
  redeploy, a rollout all flip it);
- last call: ``status.lastCallTime``, written by the gateway; none means "never called";
- newer versions: Jobs of the same family in the same namespace with a higher semantic
  version, pre-releases included (as the original counted them).

Objects are read as plain JSON, so one Job our models would refuse never stops the others
from being scored.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from racetrack_api import conditions as c
from racetrack_api.semver import is_semver, semver_key
from racetrack_operator.render.purge import PurgeFacts, purge_score

JsonDict = dict[str, Any]
Key = tuple[str, str]


def purge_statuses(jobs: Iterable[JsonDict], now: datetime.datetime) -> dict[Key, JsonDict]:
    """The ``status.purge`` each Job should carry, by (namespace, name), as JSON."""
    listed = [job for job in jobs if _family(job)]
    versions: dict[tuple[str, str], list[str]] = defaultdict(list)
    for job in listed:
        versions[(_namespace(job), _family(job))].append(_version(job))
    out: dict[Key, JsonDict] = {}
    for job in listed:
        facts = purge_facts(job, versions[(_namespace(job), _family(job))])
        purge = purge_score(facts, now)
        out[(_namespace(job), job["metadata"]["name"])] = {
            "score": purge.score,
            "reasons": list(purge.reasons),
        }
    return out


def purge_updates(jobs: Iterable[JsonDict], now: datetime.datetime) -> dict[Key, JsonDict]:
    """Only the Jobs whose ``status.purge`` differs from what it should be."""
    listed = list(jobs)
    current = {
        (_namespace(job), job["metadata"]["name"]): (job.get("status") or {}).get("purge")
        for job in listed
    }
    return {
        key: purge
        for key, purge in purge_statuses(listed, now).items()
        if not _same(current.get(key), purge)
    }


def purge_facts(job: JsonDict, family_versions: Iterable[str]) -> PurgeFacts:
    status: JsonDict = job.get("status") or {}
    conditions: list[JsonDict] = status.get("conditions") or []
    ready = _condition(conditions, c.READY)
    stalled = _condition(conditions, c.STALLED).get("status") == "True"
    reconciling = _condition(conditions, c.RECONCILING).get("status") == "True"
    not_ready = ready.get("status") != "True"
    failing = stalled or (not_ready and bool(status.get("unhealthyPod")))
    available = _condition(conditions, c.AVAILABLE)
    lost = (
        not failing
        and not reconciling
        and not_ready
        and available.get("reason") == c.REASON_DEPLOYMENT_MISSING
    )
    created = _time(job["metadata"].get("creationTimestamp")) or _EPOCH
    flipped = _time(ready.get("lastTransitionTime")) or created
    version = _version(job)
    return PurgeFacts(
        lost=lost,
        failing=failing,
        updated_at=max(created, flipped),
        last_call=_time(status.get("lastCallTime")),
        newer_versions=_newer(version, family_versions),
    )


def _newer(version: str, versions: Iterable[str]) -> int:
    if not is_semver(version):
        return 0
    mine = semver_key(version)
    return sum(1 for other in set(versions) if is_semver(other) and semver_key(other) > mine)


def _same(current: Any, desired: JsonDict) -> bool:
    if not isinstance(current, dict):
        return False
    try:
        score = float(current.get("score", -1))
    except (TypeError, ValueError):
        return False
    return score == desired["score"] and current.get("reasons") == desired["reasons"]


def _condition(conditions: list[JsonDict], type_: str) -> JsonDict:
    return next((cond for cond in conditions if cond.get("type") == type_), {})


def _time(text: Any) -> datetime.datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def _namespace(job: JsonDict) -> str:
    return str(job["metadata"].get("namespace") or "")


def _family(job: JsonDict) -> str:
    return str((job.get("spec") or {}).get("name") or "")


def _version(job: JsonDict) -> str:
    return str((job.get("spec") or {}).get("version") or "")


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
