"""JobFamily: make sure it exists, and keep its status (versions, latest) in step with its Jobs.

The family's Jobs are listed with the CRD's selectable field ``spec.name``, so a sync reads
only that family's Jobs, and reads them from the API server: the status is computed from
the truth, never from a partial in-memory view filled during a restart.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import cast

import pydantic

from racetrack_api.v1alpha1 import API_VERSION, Job, JobFamily
from racetrack_api.v1alpha1.jobfamily import JobFamilyStatus
from racetrack_kube import client, paths
from racetrack_operator.reconcile.coalesce import Coalescer
from racetrack_operator.reconcile.context import Context
from racetrack_operator.render.diff import merge_patch
from racetrack_operator.render.family import desired_family, family_status

log = logging.getLogger(__name__)


async def ensure_family(ctx: Context, namespace: str, family: str, owner_email: str) -> None:
    key = (namespace, family)
    if key in ctx.known_families:
        return
    # Ten versions of a new family arriving together look the family up once, not ten times.
    async with ctx.locks.hold(("ensure-family", namespace, family)):
        if key in ctx.known_families:
            return
        path = paths.racetrack(JobFamily, namespace, family)
        if await ctx.kube.get(path) is None:
            created = await ctx.kube.create(
                paths.racetrack(JobFamily, namespace),
                desired_family(namespace, family, owner_email),
            )
            if created is not None:
                log.info("Created JobFamily %s/%s.", namespace, family)
        ctx.known_families.add(key)


def request_sync(ctx: Context, namespace: str, family: str) -> None:
    """Sync the family's status soon, merged with other requests for it (see coalesce)."""
    if ctx.family_syncs is None:

        async def work(key: Hashable) -> None:
            ns, name = cast(tuple[str, str], key)
            await sync_family(ctx, ns, name)

        ctx.family_syncs = Coalescer(
            work,
            delay=ctx.settings.family_sync_seconds,
            transient=client.unavailable,
            max_delay=ctx.settings.api_retry_seconds,
        )
    ctx.family_syncs.request((namespace, family))


async def sync_family(ctx: Context, namespace: str, family: str) -> None:
    async with ctx.locks.hold(("family", namespace, family)):
        path = paths.racetrack(JobFamily, namespace, family)
        current = await ctx.kube.get(path)
        if current is None:
            ctx.known_families.discard((namespace, family))
            return
        listed = await ctx.kube.list_objects(
            paths.racetrack(Job, namespace), field_selector=f"spec.name={family}"
        )
        jobs = []
        for item in listed:
            try:
                jobs.append(Job.model_validate({"apiVersion": API_VERSION, "kind": "Job", **item}))
            except pydantic.ValidationError:
                # Its own reconciliation reports it as Stalled; it is no version of anything.
                continue
        generation = int(current["metadata"].get("generation") or 0)
        old = JobFamilyStatus.model_validate(current.get("status") or {})
        # The token (published by the family's token issuer, read by the gateway) and the
        # conditions are not computed here: keep them, or this write would drop them.
        new = family_status(jobs, generation).model_copy(
            update={"token": old.token, "conditions": old.conditions}
        )
        patch = merge_patch(old.to_wire(), new.to_wire())
        if patch is not None:
            await ctx.kube.merge_patch(f"{path}/status", {"status": patch})
            log.info(
                "Updated JobFamily %s/%s: %d versions, latest %s.",
                namespace,
                family,
                len(new.versions),
                new.latest,
            )
