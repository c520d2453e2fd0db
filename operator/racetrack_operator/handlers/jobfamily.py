"""JobFamily watch: a family whose status is behind its generation gets its versions listed.

Covers families created by hand (``examples/jobfamily.yaml``) and by the operator. A watch
handler (not ``on.create``) because it writes nothing kopf-specific onto the family.
"""

from __future__ import annotations

from typing import Any

import kopf

from racetrack_api.meta import GROUP
from racetrack_api.v1alpha1 import VERSION, JobFamily
from racetrack_operator.handlers.startup import context
from racetrack_operator.reconcile.family import request_sync


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
