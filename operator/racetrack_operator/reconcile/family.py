"""JobFamily: make sure it exists, and keep its status (versions, latest) in step with its Jobs.

A family's first sync in this process lists its Jobs, never trusting a partial in-memory view
filled during a restart: from the Job watch's store once that watch has listed every Job
(``reconcile.jobwatch`` keeps a ``render.family.member_view`` of each, and each family's
members), else from the API server (with the CRD's selectable field ``spec.name``, so only
that family's). Later syncs take the versions from what the reconciler already knows
(``Context.jobs``): the listed Jobs and every Job reconciled since, minus those deleted. A
listed Job not loaded yet counts as the list showed it (its own reconciliation, when it
comes, loads it and syncs the family again); only a member known neither way makes a sync
list again.

The family itself is not read either once its watch has shown it: a sync compares the new
status with the family as its watch or our own last write showed it (``reconcile.identity``
keeps both, ordered by resourceVersion, and the sync's lock orders our writes). A spec
change the watch has not delivered yet costs one sync with an older ``observedGeneration``;
its event asks for the next one.

A sync is asked for by a Job's reconciliation when the Job's Ready flips (or it is written for
the first time), and by the Job watch whenever what it stores of a Job says the version
started or stopped serving (``reconcile.jobwatch``): the family follows what the API server
holds even when a reconciliation's word was lost.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import cast

from racetrack_api.permissions import SubjectRef
from racetrack_api.v1alpha1 import Job, JobFamily
from racetrack_api.v1alpha1.jobfamily import JobFamilyStatus
from racetrack_api.v1alpha1.permission import SubjectKind
from racetrack_kube import client, paths
from racetrack_operator.reconcile.coalesce import Coalescer
from racetrack_operator.reconcile.context import Context
from racetrack_operator.render.diff import merge_patch
from racetrack_operator.render.family import (
    Member,
    desired_family,
    family_status,
    member,
    member_of_view,
    member_view,
)

log = logging.getLogger(__name__)


async def ensure_family(ctx: Context, namespace: str, family: str, owner_email: str) -> None:
    key = (namespace, family)
    if key in ctx.known_families:
        return
    # Ten versions of a new family arriving together look the family up once, not ten times.
    async with ctx.locks.hold(("ensure-family", namespace, family)):
        if key in ctx.known_families:
            return
        ref = SubjectRef(SubjectKind.JOB_FAMILY, family, namespace)
        path = paths.racetrack(JobFamily, namespace, family)
        # The family watch (reconcile.tokens) may have shown it already: no read then.
        found = ctx.identity.subjects.get(ref) or await ctx.kube.get(path)
        if found is None:
            found = await ctx.kube.create(
                paths.racetrack(JobFamily, namespace),
                desired_family(namespace, family, owner_email),
            )
            if found is not None:
                log.info("Created JobFamily %s/%s.", namespace, family)
        if found is not None:
            # Its token is looked at next (reconcile.tokens.family_token): no second read.
            ctx.identity.remember(ref, found)
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
    if ctx.job_watches:
        # A sync asked for while the Job watch is still listing (an operator starting over
        # thousands of Jobs) waits for its store instead of listing the family's Jobs.
        await ctx.jobs_listed.wait()
    async with ctx.locks.hold(("family", namespace, family)):
        ref = SubjectRef(SubjectKind.JOB_FAMILY, family, namespace)
        path = paths.racetrack(JobFamily, namespace, family)
        # As the family watch and our own writes last showed it (see the module's docs).
        current = ctx.identity.subjects.get(ref)
        if current is None:
            current = await ctx.kube.get(path)
            if current is None:
                ctx.known_families.discard((namespace, family))
                return
            ctx.identity.remember(ref, current)
        members = known_versions(ctx, namespace, family)
        if members is None:
            members = await _listed_versions(ctx, namespace, family)
        generation = int(current["metadata"].get("generation") or 0)
        old = JobFamilyStatus.model_validate(current.get("status") or {})
        # The token and the conditions are the token reconciler's (reconcile.tokens).
        new = family_status(members, generation).model_copy(
            update={"token": old.token, "conditions": old.conditions}
        )
        patch = merge_patch(old.to_wire(), new.to_wire())
        if patch is not None:
            try:
                written = await ctx.kube.merge_patch_metadata(f"{path}/status", {"status": patch})
            except client.ApiError as error:
                if error.status != 404:
                    raise
                ctx.known_families.discard((namespace, family))
                return  # deleted since the watch showed it; its deletion is on its way
            seen = {"metadata": written["metadata"], "spec": current.get("spec")}
            ctx.identity.remember(ref, {**seen, "status": new.to_wire()})
            log.info(
                "Updated JobFamily %s/%s: %d versions, latest %s.",
                namespace,
                family,
                len(new.versions),
                new.latest,
            )


def known_versions(ctx: Context, namespace: str, family: str) -> list[Member] | None:
    """The family's Jobs as this process knows them, or None when it cannot tell."""
    key = (namespace, family)
    if key not in ctx.families_listed:
        return None
    members = []
    for name in ctx.family_members.get(key, ()):
        state = ctx.jobs.get((namespace, name))
        if state is not None:
            if state.parsed and state.job.spec.name == family:
                members.append(member(state.job))
            continue
        listed = ctx.family_listed_jobs.get((namespace, name))
        if listed is None:
            return None  # neither loaded nor listed (a Job our models refused): list again
        members.append(listed)
    return members


def job_known(ctx: Context, namespace: str, family: str, name: str) -> None:
    """A Job of ``family`` was loaded: later syncs count it as loaded."""
    ctx.family_members.setdefault((namespace, family), set()).add(name)
    ctx.family_listed_jobs.pop((namespace, name), None)


def job_forgotten(ctx: Context, namespace: str, family: str, name: str) -> None:
    ctx.family_members.get((namespace, family), set()).discard(name)


async def _listed_versions(ctx: Context, namespace: str, family: str) -> list[Member]:
    key = (namespace, family)
    # Jobs loaded while the list is under way join the members too (job_known).
    members = ctx.family_members.setdefault(key, set())
    if ctx.jobs_listed.is_set() and ctx.job_watches:
        # The Job watch has every Job, and the family's among the members (reconcile.jobwatch).
        views = [
            view for name in list(members) if (view := ctx.listed_job(namespace, name)) is not None
        ]
    else:
        views = await ctx.kube.list_objects(
            paths.racetrack(Job, namespace),
            field_selector=f"spec.name={family}",
            transform=member_view,
        )
    listed = []
    for view in views:
        if view["spec"].get("name") != family or view["metadata"].get("deletionTimestamp"):
            continue  # no version (any more): its reconciler forgets it too
        name = str(view["metadata"]["name"])
        members.add(name)
        found = member_of_view(view)
        if found is None:
            continue  # its own reconciliation reports it as Stalled
        listed.append(found)
        if (namespace, name) not in ctx.jobs:
            ctx.family_listed_jobs[(namespace, name)] = found
    ctx.families_listed.add(key)
    return listed
