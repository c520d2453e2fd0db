"""Deployment watch: a change in a Job's Deployment refreshes that Job's status.

This is how a Job learns that its pods became available (and Ready flips) without polling.
A Deployment deleted by hand is put back, as the Job still wants it.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

import kopf

from racetrack_operator.handlers.startup import context
from racetrack_operator.reconcile.job import reconcile_job, sync_job
from racetrack_operator.render.names import LABEL_MANAGED_BY, MANAGED_BY
from racetrack_operator.render.status import deployment_view

log = logging.getLogger(__name__)


def _owner(meta: kopf.Meta) -> str | None:
    for ref in meta.get("ownerReferences") or []:
        if ref.get("kind") == "Job" and str(ref.get("apiVersion", "")).startswith("racetrack.io/"):
            return str(ref["name"])
    return None


@kopf.on.event("apps", "v1", "deployments", labels={LABEL_MANAGED_BY: MANAGED_BY}, id="job-child")
async def deployment_event(
    event: kopf.RawEvent,
    body: kopf.Body,
    meta: kopf.Meta,
    namespace: str | None,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    owner = _owner(meta)
    if owner is None or namespace is None:
        return
    ctx = context(memo)
    if event["type"] == "DELETED":
        ctx.deployments.pop((namespace, owner), None)
        await reconcile_job(ctx, namespace, owner)
        return
    view = deployment_view(dict(body))
    ctx.deployments[(namespace, owner)] = view
    try:
        await sync_job(ctx, namespace, owner, apply=False, deployment=view)
    except Exception:
        # kopf does not retry watch handlers; a full reconciliation later reads afresh.
        log.exception("Refreshing Job %s/%s failed; reconciling it again soon.", namespace, owner)
        ctx.requeue.schedule((namespace, owner), 1.0, partial(reconcile_job, ctx, namespace, owner))
