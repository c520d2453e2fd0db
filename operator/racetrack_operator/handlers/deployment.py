"""Deployment watch: a change in a Job's Deployment refreshes that Job's status.

This is how a Job learns that its pods became available (and Ready flips) without polling.
A Deployment deleted by hand is put back, as the Job still wants it.
"""

from __future__ import annotations

from typing import Any

import kopf

from racetrack_api.labels import LABEL_MANAGED_BY, MANAGED_BY
from racetrack_operator.handlers.startup import context
from racetrack_operator.reconcile.job import deployment_deleted, deployment_seen
from racetrack_operator.render.names import owning_job


@kopf.on.event("apps", "v1", "deployments", labels={LABEL_MANAGED_BY: MANAGED_BY}, id="job-child")
async def deployment_event(
    event: kopf.RawEvent,
    body: kopf.Body,
    meta: kopf.Meta,
    namespace: str | None,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    job = owning_job(dict(meta))
    if job is None or namespace is None:
        return
    if event["type"] == "DELETED":
        await deployment_deleted(context(memo), namespace, job)
    else:
        await deployment_seen(context(memo), namespace, job, dict(body))
