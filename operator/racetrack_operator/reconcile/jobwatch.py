"""The Job watch: level-triggered, a watch of our own feeding the Jobs' work queue.

Every event of a Job goes to the work queue (``reconcile.jobqueue``), less its managed fields
and kubectl's copy of the spec; the reconciliation compares it with what it last reconciled
(``reconcile.job.job_seen``), so only a new generation (a spec change), a new
``racetrack.io/redeploy-at`` or a Job not seen before costs any work, and the echoes of our
own status writes cost nothing. The watch starts with a list of every Job, which reconciles
them all (what kopf's ``on.resume`` would do); it starts after the Deployments' and Services'
watches have listed, so those reconciliations compare with what those lists delivered.

Why not a kopf handler: kopf gives each event a worker of its own with its per-object logger
and bookkeeping, which cost more than deciding that an echo changes nothing, and its first
list arrives whole before the first Job is handed over. This watch lists in pages, reconciles
from the first page on, and keeps of each Job only what a deletion and its family's status
need (``render.family.member_view``), as the Deployments' watch keeps views. Why not
``on.create``/``on.update`` either: those write kopf's progress and last-handled
configuration into each Job, one more write per change on the busiest objects we have, and
retries are as easy to schedule here (``reconcile.requeue``). A Job that cannot progress is
Stalled; if the world can fix it (a Secret appearing) it is retried on a timer, otherwise
the spec change that fixes it triggers the next run.
"""

from __future__ import annotations

import asyncio

from racetrack_api.v1alpha1 import Job
from racetrack_kube import paths
from racetrack_kube.client import JsonDict, Kube
from racetrack_kube.informer import Informer
from racetrack_operator.reconcile.context import Context
from racetrack_operator.reconcile.family import request_sync
from racetrack_operator.render.family import member_of_view, member_view
from racetrack_operator.render.jobs import without_bookkeeping


def start(ctx: Context, kube: Kube) -> None:
    """Start the Job watch (one per watched namespace, or one for all), handing every change
    to ``ctx.job_queue``."""
    watches = [
        Informer(
            kube,
            "Jobs",
            paths.racetrack(Job, namespace),
            lambda _, old, new: job_changed(ctx, old, new),
            transform=without_bookkeeping,
            stored=member_view,
        )
        for namespace in ctx.settings.watched_namespaces or (None,)
    ]
    ctx.job_watches = watches
    loop = asyncio.get_running_loop()
    ctx.timers.extend(loop.create_task(watch.run()) for watch in watches)
    ctx.timers.append(loop.create_task(_set_when_listed(ctx, watches)))


async def _set_when_listed(ctx: Context, watches: list[Informer]) -> None:
    await asyncio.gather(*(watch.synced.wait() for watch in watches))
    ctx.jobs_listed.set()


def job_changed(ctx: Context, old: JsonDict | None, new: JsonDict | None) -> None:
    queue = ctx.job_queue
    if queue is None:
        raise RuntimeError("the Jobs' work queue is missing: the operator's start-up failed")
    job = new if new is not None else old
    if job is None:
        return
    meta = job["metadata"]
    key = (str(meta.get("namespace") or ""), str(meta["name"]))
    family = (key[0], str((job.get("spec") or {}).get("name") or ""))
    if new is None:
        ctx.family_members.get(family, set()).discard(key[1])
        queue.add(key, "DELETED", job)
    else:
        # Every Job is a member of its family from its first event on, so once the watch
        # has listed, a family's members are all here (reconcile.family).
        ctx.family_members.setdefault(family, set()).add(key[1])
        queue.add(key, "ADDED" if old is None else "MODIFIED", new)
        if old is not None and _membership_changed(old, member_view(new)):
            # As stored, the version started or stopped serving: its family hears of it from
            # what the API server holds, whichever write made the change.
            request_sync(ctx, *family)


def _membership_changed(old: JsonDict, new: JsonDict) -> bool:
    """Whether two member views of a Job count differently in its family. Most events (the
    echoes of progress and purge writes) leave the view as it was but for its
    resourceVersion: those are told apart by comparing plain dicts, before any model."""
    if (
        old["spec"] == new["spec"]
        and old["status"] == new["status"]
        and old["metadata"].get("deletionTimestamp") == new["metadata"].get("deletionTimestamp")
    ):
        return False
    return member_of_view(old) != member_of_view(new)
