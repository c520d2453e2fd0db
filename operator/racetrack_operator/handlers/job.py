"""Job handler: one watch handler, level-triggered (see ``reconcile.job``).

Every event of a Job is compared with what the operator last reconciled; only a new
generation (a spec change), a new ``racetrack.io/redeploy-at`` or a Job not seen before is
reconciled, so the echoes of our own status writes cost nothing. On operator start the watch
lists every Job first, which reconciles them all (what ``on.resume`` would do).

Why not ``on.create``/``on.update``: those make kopf write its progress and last-handled
configuration into each Job, one more write per change on the busiest objects we have, and
retries are as easy to schedule here (``reconcile.requeue``). A Job that cannot progress is
Stalled; if the world can fix it (a Secret appearing) it is retried on a timer, otherwise the
spec change that fixes it triggers the next run.
"""

from __future__ import annotations

from typing import Any

import kopf

from racetrack_operator.handlers.startup import context
from racetrack_operator.reconcile.family import request_sync
from racetrack_operator.reconcile.job import forget, needs_apply, reconcile_job

GROUP, VERSION, PLURAL = "racetrack.io", "v1alpha1", "jobs"


@kopf.on.event(GROUP, VERSION, PLURAL, id="job")
async def job_event(
    event: kopf.RawEvent,
    name: str,
    namespace: str | None,
    spec: kopf.Spec,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    if namespace is None:
        return
    ctx = context(memo)
    if event["type"] == "DELETED":
        forget(ctx, namespace, name)
        if spec.get("name"):
            # The family forgets this version; the family itself stays (see JobFamily's docs).
            request_sync(ctx, namespace, str(spec["name"]))
        return
    raw = dict(event["object"])
    if needs_apply(ctx.jobs.get((namespace, name)), raw):
        await reconcile_job(ctx, namespace, name, raw)
