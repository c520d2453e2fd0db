"""JobFamily watches: a family whose status is behind its generation gets its versions listed,
and every family keeps its caller token (mounted into its Jobs' pods as ``AUTH_TOKEN``).

Covers families created by hand (``examples/jobfamily.yaml``) and by the operator. Watch
handlers (not ``on.create``) because they write nothing kopf-specific onto the family.
"""

from __future__ import annotations

from typing import Any

import kopf

from racetrack_api.meta import GROUP
from racetrack_api.permissions import SubjectRef
from racetrack_api.v1alpha1 import VERSION, JobFamily
from racetrack_api.v1alpha1.permission import SubjectKind
from racetrack_operator.handlers.startup import context
from racetrack_operator.reconcile.family import request_sync
from racetrack_operator.reconcile.tokens import subject_deleted, subject_seen


def _behind(event: kopf.RawEvent, meta: kopf.Meta, status: kopf.Status, **_: Any) -> bool:
    deleted = event["type"] == "DELETED"
    return deleted or status.get("observedGeneration") != meta.get("generation")


@kopf.on.event(GROUP, VERSION, JobFamily.crd.plural, id="jobfamily-sync", when=_behind)
async def jobfamily_event(
    event: kopf.RawEvent,
    name: str,
    namespace: str | None,
    meta: kopf.Meta,
    status: kopf.Status,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    if namespace is None:
        return
    if event["type"] == "DELETED":
        context(memo).known_families.discard((namespace, name))
        return
    request_sync(context(memo), namespace, name)


@kopf.on.event(GROUP, VERSION, JobFamily.crd.plural, id="jobfamily-token")
async def jobfamily_token_event(
    event: kopf.RawEvent, name: str, namespace: str | None, memo: kopf.Memo, **_: Any
) -> None:
    if namespace is None:
        return
    ref = SubjectRef(SubjectKind.JOB_FAMILY, name, namespace)
    if event["type"] == "DELETED":
        subject_deleted(context(memo), ref)
    else:
        await subject_seen(context(memo), ref, dict(event["object"]))
