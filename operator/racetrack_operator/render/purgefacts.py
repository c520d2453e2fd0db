"""From Jobs as the API server lists them to each Job's purge status (pure).

What ``render.purge`` scores is read from what the Job's status already says, so the timer
needs nothing but one list of Jobs:

- lost and failing: the original's ``lost`` and ``error`` (see ``racetrack_api.jobphase``);
- updated: the later of its creation and the last flip of its Ready condition;
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

from racetrack_api.jobphase import last_call, phase, updated_at
from racetrack_api.semver import is_semver, semver_key
from racetrack_operator.render.purge import PurgeFacts, purge_score

JsonDict = dict[str, Any]
Key = tuple[str, str]


def purge_view(job: JsonDict) -> JsonDict:
    """What ``purge_updates`` reads of a listed Job, and nothing else: a pass over thousands
    of Jobs keeps this of each instead of the whole body (see ``reconcile.purge``)."""
    meta, spec, status = (job.get(part) or {} for part in ("metadata", "spec", "status"))
    return {
        "metadata": {key: meta[key] for key in _VIEW_METADATA if key in meta},
        "spec": {key: spec[key] for key in _VIEW_SPEC if key in spec},
        "status": {key: status[key] for key in _VIEW_STATUS if key in status},
    }


_VIEW_METADATA = ("name", "namespace", "creationTimestamp")
_VIEW_SPEC = ("name", "version")
_VIEW_STATUS = ("conditions", "unhealthyPod", "lastCallTime", "purge")


def purge_statuses(jobs: Iterable[JsonDict], now: datetime.datetime) -> dict[Key, JsonDict]:
    """The ``status.purge`` each Job should carry, by (namespace, name), as JSON."""
    listed = [job for job in jobs if _family(job)]
    versions: dict[tuple[str, str], list[str]] = defaultdict(list)
    for job in listed:
        versions[(_namespace(job), _family(job))].append(_version(job))
    return {
        (_namespace(job), job["metadata"]["name"]): purge_status(
            job, versions[(_namespace(job), _family(job))], now
        )
        for job in listed
    }


def purge_status(job: JsonDict, family_versions: Iterable[str], now: datetime.datetime) -> JsonDict:
    """The ``status.purge`` one Job should carry, as JSON; ``family_versions`` are the
    versions of its family's Jobs."""
    purge = purge_score(purge_facts(job, family_versions, now), now)
    return {"score": purge.score, "reasons": list(purge.reasons)}


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
        if not same_purge(current.get(key), purge)
    }


def purge_facts(
    job: JsonDict, family_versions: Iterable[str], now: datetime.datetime
) -> PurgeFacts:
    state = phase(job, now)
    return PurgeFacts(
        lost=state == "lost",
        failing=state == "error",
        updated_at=updated_at(job),
        last_call=last_call(job),
        newer_versions=_newer(_version(job), family_versions),
    )


def _newer(version: str, versions: Iterable[str]) -> int:
    if not is_semver(version):
        return 0
    mine = semver_key(version)
    return sum(1 for other in set(versions) if is_semver(other) and semver_key(other) > mine)


def same_purge(current: Any, desired: JsonDict) -> bool:
    """Whether a stored ``status.purge`` says what ``desired`` says."""
    if not isinstance(current, dict):
        return False
    try:
        score = float(current.get("score", -1))
    except (TypeError, ValueError):
        return False
    return score == desired["score"] and bool(current.get("reasons") == desired["reasons"])


def _namespace(job: JsonDict) -> str:
    return str(job["metadata"].get("namespace") or "")


def _family(job: JsonDict) -> str:
    return str((job.get("spec") or {}).get("name") or "")


def _version(job: JsonDict) -> str:
    return str((job.get("spec") or {}).get("version") or "")
