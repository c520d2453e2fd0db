"""ExternalServiceConsumer watch: its token and legacy caller token, issued and reset."""

from __future__ import annotations

from typing import Any

import kopf

from racetrack_api.meta import GROUP
from racetrack_api.permissions import SubjectRef
from racetrack_api.v1alpha1 import VERSION, ExternalServiceConsumer
from racetrack_api.v1alpha1.permission import SubjectKind
from racetrack_operator.handlers.startup import context
from racetrack_operator.reconcile.tokens import subject_deleted, subject_seen


@kopf.on.event(GROUP, VERSION, ExternalServiceConsumer.crd.plural, id="esc")
async def esc_event(
    event: kopf.RawEvent, name: str, namespace: str | None, memo: kopf.Memo, **_: Any
) -> None:
    if namespace is None:
        return
    ref = SubjectRef(SubjectKind.EXTERNAL_SERVICE_CONSUMER, name, namespace)
    if event["type"] == "DELETED":
        subject_deleted(context(memo), ref)
    else:
        await subject_seen(context(memo), ref, dict(event["object"]))
