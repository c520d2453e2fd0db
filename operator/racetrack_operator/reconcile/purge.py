"""The purge timer: every ``Settings.purge_interval_seconds``, each Job's ``status.purge``.

One pass lists the Jobs of the watched namespaces (what a score needs is in their status,
and the newer versions are the other Jobs of the list), keeps of each only what a score
reads (``purgefacts.purge_view``, page by page: 10,000 Jobs as listed, managed fields and
all, decode to about 100 MiB of Python objects, their views to a third of that), asks
``render.purgefacts`` what each should carry, and merge-patches ``status.purge`` of only
those whose score or reasons changed, naming no other field: ``lastCallTime`` belongs to
the gateway and the rest of the status to the Job's reconciliation. An unchanged portfolio
costs one list per interval. The reconciliation's own status writes carry the score their
new status deserves (``reconcile.job``), so a pass mostly finds a Job that just changed
scored already, and writes only for time passing, calls and newer versions.

A new Job (and the older versions it outscores) would show no score until the next interval;
so a Job seen without one, or a deleted Job, sets ``Context.purge_due`` and a pass follows
once no other came for ``SETTLE_SECONDS`` (at most ``BUSY_SECONDS`` after the first), which
gathers a burst of applies into one list.

A pass leaves alone a Job with no score that this process has not handled yet and that waits
in the job queue: the status write of its first reconciliation carries a score, and if it
cannot (its family not known yet), the Job sets ``purge_due`` when its turn comes and the
pass after scores it. A Job being handled is scored as before: it may have set ``purge_due``
before this pass began, and nothing would ask again. For the same reason the first pass
waits until the Job watch has listed every Job: at start-up each Job without a score would
otherwise cost a write of its own.

Why one timer for all Jobs rather than kopf's per-object ``@kopf.timer``: kopf puts a
finalizer on every object with a timer, so deleting a Job would wait for a running operator,
and the newer-versions count needs the family's other Jobs anyway.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Callable

from racetrack_api.v1alpha1 import Job
from racetrack_kube import client, paths
from racetrack_operator.reconcile.context import Context
from racetrack_operator.render.purgefacts import purge_updates, purge_view

log = logging.getLogger(__name__)

Clock = Callable[[], datetime.datetime]

SETTLE_SECONDS = 5.0
#: While changes keep coming (a backlog of Jobs converging, a GitOps sync of hundreds), a due
#: pass waits until none came for ``SETTLE_SECONDS``, but no longer than this after the
#: first: each pass lists every Job, and a pass every few seconds during a backlog of a
#: thousand Jobs decoded each of them a dozen times.
BUSY_SECONDS = 60.0


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


async def refresh_purge(ctx: Context, now: datetime.datetime) -> int:
    """One pass; returns how many Jobs got a new ``status.purge``."""
    namespaces = ctx.settings.watched_namespaces
    collections = (
        [paths.racetrack(Job, namespace) for namespace in namespaces]
        if namespaces
        else [paths.racetrack(Job)]
    )
    jobs = []
    for collection in collections:
        jobs.extend(await ctx.kube.list_objects(collection, transform=purge_view))
    updates = purge_updates(jobs, now)
    queue = ctx.job_queue
    if queue is not None:
        unscored = {
            (str(job["metadata"].get("namespace")), str(job["metadata"]["name"]))
            for job in jobs
            if "purge" not in job["status"]
        }
        for key in [k for k in unscored if k in updates and k not in ctx.jobs and queue.waiting(k)]:
            del updates[key]
    # All at once: the client's pool bounds the requests in flight (api_concurrency).
    results = await asyncio.gather(
        *(_write(ctx, namespace, name, purge) for (namespace, name), purge in updates.items())
    )
    return sum(results)


async def _write(ctx: Context, namespace: str, name: str, purge: dict[str, object]) -> bool:
    try:
        await ctx.kube.merge_patch_metadata(
            paths.racetrack(Job, namespace, name) + "/status", {"status": {"purge": purge}}
        )
    except client.ApiError as error:
        if error.status == 404:  # deleted since the list
            return False
        raise
    return True


async def purge_timer(ctx: Context, clock: Clock = _utcnow) -> None:
    """Refresh every interval for as long as the operator runs; a failed pass is logged and
    the next one tries again."""
    interval = ctx.settings.purge_interval_seconds
    if ctx.job_queue is not None:
        await ctx.jobs_listed.wait()
    while True:
        ctx.purge_due.clear()  # what changes during this pass asks for the next one
        try:
            written = await refresh_purge(ctx, clock())
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("Refreshing the purge scores failed; trying again in %.0f s.", interval)
        else:
            if written:
                log.info("Refreshed the purge score of %d Job(s).", written)
        await _next_pass(ctx, interval)


async def _next_pass(ctx: Context, interval: float) -> None:
    try:
        await asyncio.wait_for(ctx.purge_due.wait(), timeout=interval)
    except TimeoutError:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(BUSY_SECONDS, interval)
    while True:
        ctx.purge_due.clear()
        quiet = min(SETTLE_SECONDS, interval, deadline - loop.time())
        if quiet <= 0:
            return
        try:
            await asyncio.wait_for(ctx.purge_due.wait(), timeout=quiet)
        except TimeoutError:
            return  # settled
