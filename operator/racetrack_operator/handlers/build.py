"""Build watch: a change in a build's batch Job tells its Job how the build goes.

Only batch Jobs the operator started are handled (its managed-by and component labels); the
Job they build is named by their ``racetrack.io/build-of`` label. A deleted build frees its
slot; one deleted by hand is started again by its Job's next reconciliation, as long as the
Job still wants that image.
"""

from __future__ import annotations

from typing import Any

import kopf

from racetrack_api.labels import LABEL_BUILD_OF, LABEL_MANAGED_BY, MANAGED_BY
from racetrack_operator.handlers.startup import context
from racetrack_operator.reconcile.job import build_seen
from racetrack_operator.render.build import COMPONENT


@kopf.on.event(
    "batch",
    "v1",
    "jobs",
    labels={LABEL_MANAGED_BY: MANAGED_BY, "app.kubernetes.io/component": COMPONENT},
    id="job-build",
)
async def build_event(
    event: kopf.RawEvent,
    body: kopf.Body,
    meta: kopf.Meta,
    namespace: str | None,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    job = (meta.get("labels") or {}).get(LABEL_BUILD_OF)
    if job is None or namespace is None:
        return
    deleted = event["type"] == "DELETED"
    await build_seen(context(memo), namespace, str(job), dict(body), deleted=deleted)
