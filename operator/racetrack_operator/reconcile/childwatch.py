"""The watches of the Jobs' Deployments and Services, listed before the Job watch starts.

A Job's reconciliation asks whether its Deployment and Service are already as rendered (their
render hash and controller). Known from these watches, that costs no read: an operator
restarted over thousands of Ready Jobs compares each with what the lists delivered and
makes no request per Job. Both watches keep slim views, never whole bodies:
- Deployments: what status and change detection read (``render.rollout.deployment_view``);
  a change refreshes its Job's status, a deletion puts the Deployment back;
- Services: metadata only (PartialObjectMetadata), the hash and the owner; a Service deleted
  by hand is put back by the next change of its Job or an operator restart, as before.

Until a list has completed (the API server refused it within the start-up wait) the
reconciler reads what it needs, as it would without these watches.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from racetrack_api.labels import LABEL_MANAGED_BY, MANAGED_BY
from racetrack_kube import paths
from racetrack_kube.client import JsonDict, Kube
from racetrack_kube.informer import Informer
from racetrack_operator.reconcile.context import Context
from racetrack_operator.reconcile.job import deployment_deleted, deployment_seen
from racetrack_operator.render.names import ANNOTATION_RENDER_HASH, owning_job
from racetrack_operator.render.rollout import deployment_view

log = logging.getLogger(__name__)

_MANAGED = f"{LABEL_MANAGED_BY}={MANAGED_BY}"


def start(ctx: Context, kube: Kube) -> list[Informer]:
    """Start the watches (one per watched namespace, or one for all); the caller waits for
    their ``synced`` before Jobs are reconciled."""
    watches: list[Informer] = []
    for namespace in ctx.settings.watched_namespaces or (None,):
        deployments = Informer(
            kube,
            "Job Deployments",
            paths.deployments(namespace),
            lambda _, old, new: _deployment_changed(ctx, old, new),
            label_selector=_MANAGED,
            transform=_deployment_kept,
        )
        services = Informer(
            kube,
            "Job Services",
            paths.services(namespace),
            lambda _, old, new: _service_changed(ctx, old, new),
            label_selector=_MANAGED,
            metadata_only=True,
            transform=service_view,
        )
        ctx.services.append(services)
        watches += [deployments, services]
    for watch in watches:
        _spawn(ctx, watch.run())
    return watches


def service_view(body: JsonDict) -> JsonDict:
    """What ``reconcile.children.ensure`` compares: the render hash and the controller."""
    meta = body.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    kept = {key: meta.get(key) for key in ("name", "namespace", "resourceVersion")}
    kept["annotations"] = {
        key: value for key, value in annotations.items() if key == ANNOTATION_RENDER_HASH
    }
    kept["ownerReferences"] = [
        {"uid": ref.get("uid"), "controller": ref.get("controller")}
        for ref in meta.get("ownerReferences") or []
    ]
    return {"metadata": kept}


def _deployment_kept(body: JsonDict) -> JsonDict:
    meta = body.get("metadata") or {}
    return {
        # The informer compares resource versions; the view itself has none.
        "metadata": {"resourceVersion": meta.get("resourceVersion")},
        "namespace": meta.get("namespace"),
        "job": owning_job(meta),
        "view": deployment_view(body),
    }


def _deployment_changed(ctx: Context, old: JsonDict | None, new: JsonDict | None) -> None:
    kept = new if new is not None else old
    if kept is None or kept["job"] is None or kept["namespace"] is None:
        return
    namespace, job = str(kept["namespace"]), str(kept["job"])
    if new is None:
        _spawn(ctx, deployment_deleted(ctx, namespace, job))
    elif (namespace, job) not in ctx.jobs and not ctx.locks.busy(("job", namespace, job)):
        # A Job this process has not reconciled, nor is reconciling (just started: the Job
        # watch lists every Job next): its reconciliation reads this view, not the API.
        ctx.deployments[(namespace, job)] = new["view"]
    else:
        _spawn(ctx, deployment_seen(ctx, namespace, job, new["view"]))


def _service_changed(ctx: Context, old: JsonDict | None, new: JsonDict | None) -> None:
    if new is None and old is not None:
        state = ctx.jobs.get((str(old["metadata"]["namespace"]), str(old["metadata"]["name"])))
        if state is not None:
            state.service_hash = None  # the next reconciliation makes sure of it again


def _spawn(ctx: Context, work: Coroutine[Any, Any, None]) -> None:
    task = asyncio.get_running_loop().create_task(work)
    ctx.background.add(task)
    task.add_done_callback(ctx.background.discard)
