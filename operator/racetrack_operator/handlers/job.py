"""Job handler: one watch handler, level-triggered (see ``reconcile.job``).

Every event of a Job is compared with what the operator last reconciled; only a new
generation (a spec change), a new ``racetrack.io/redeploy-at`` or a Job not seen before is
reconciled, so the echoes of our own status writes cost nothing. On operator start the watch
lists every Job first, which reconciles them all (what ``on.resume`` would do).

The handler only hands the event to the Jobs' work queue (``reconcile.jobqueue``) and
returns: kopf's worker for the Job is free at once, so its later events never pile up in
kopf's queue while the reconciliation waits on the API server.

Why not ``on.create``/``on.update``: those make kopf write its progress and last-handled
configuration into each Job, one more write per change on the busiest objects we have, and
retries are as easy to schedule here (``reconcile.requeue``). A Job that cannot progress is
Stalled; if the world can fix it (a Secret appearing) it is retried on a timer, otherwise the
spec change that fixes it triggers the next run.
"""

from __future__ import annotations

from typing import Any

import kopf

from racetrack_api.meta import GROUP
from racetrack_api.v1alpha1 import VERSION, Job
from racetrack_operator.handlers.startup import context
from racetrack_operator.render.jobs import without_bookkeeping


@kopf.on.event(GROUP, VERSION, Job.crd.plural, id="job")
async def job_event(
    event: kopf.RawEvent, name: str, namespace: str | None, memo: kopf.Memo, **_: Any
) -> None:
    if namespace is None:
        return
    queue = context(memo).job_queue
    if queue is None:
        raise RuntimeError("the Jobs' work queue is missing: the operator's start-up failed")
    # kopf reports the objects of its first list with no type: they are additions.
    body = without_bookkeeping(dict(event["object"]))
    queue.add((namespace, name), event["type"] or "ADDED", body)
