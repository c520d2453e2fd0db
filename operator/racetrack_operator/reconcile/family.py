"""JobFamily: make sure it exists, and keep its status (versions, latest) in step with its Jobs.

A family's first sync in this process lists its Jobs from the API server (with the CRD's
selectable field ``spec.name``, so only that family's), never trusting a partial in-memory
view filled during a restart. Later syncs take the versions from what the Job watch and the
reconciler already know (``Context.jobs``): the listed Jobs and every Job reconciled since,
minus those deleted. A listed Job not loaded yet counts as the list showed it (its own
reconciliation, when it comes, loads it and syncs the family again); only a member known
neither way makes a sync list again. While the versions of a family converge together (an
operator starting over a backlog), that is one list per family instead of one per sync.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import cast

import pydantic

from racetrack_api.permissions import SubjectRef
from racetrack_api.v1alpha1 import API_VERSION, Job, JobFamily
from racetrack_api.v1alpha1.jobfamily import JobFamilyStatus
from racetrack_api.v1alpha1.permission import SubjectKind
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
        found = await ctx.kube.get(path)
        if found is None:
            found = await ctx.kube.create(
                paths.racetrack(JobFamily, namespace),
                desired_family(namespace, family, owner_email),
            )
            if found is not None:
                log.info("Created JobFamily %s/%s.", namespace, family)
        if found is not None:
            # Its token is looked at next (reconcile.tokens.family_token): no second read.
            ctx.identity.remember(SubjectRef(SubjectKind.JOB_FAMILY, family, namespace), found)
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
        jobs = known_versions(ctx, namespace, family)
        if jobs is None:
            jobs = await _listed_versions(ctx, namespace, family)
        generation = int(current["metadata"].get("generation") or 0)
        old = JobFamilyStatus.model_validate(current.get("status") or {})
        # The token and the conditions are the token reconciler's (reconcile.tokens).
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


def known_versions(ctx: Context, namespace: str, family: str) -> list[Job] | None:
    """The family's Jobs as this process knows them, or None when it cannot tell."""
    key = (namespace, family)
    if key not in ctx.families_listed:
        return None
    jobs = []
    for name in ctx.family_members.get(key, ()):
        state = ctx.jobs.get((namespace, name))
        if state is not None:
            if state.parsed and state.job.spec.name == family:
                jobs.append(state.job)
            continue
        listed = ctx.family_listed_jobs.get((namespace, name))
        if listed is None:
            return None  # neither loaded nor listed (a Job our models refused): list again
        if listed.spec.name == family:
            jobs.append(listed)
    return jobs


def job_known(ctx: Context, namespace: str, family: str, name: str) -> None:
    """A Job of ``family`` was loaded: later syncs count it as loaded."""
    ctx.family_members.setdefault((namespace, family), set()).add(name)
    ctx.family_listed_jobs.pop((namespace, name), None)


def job_forgotten(ctx: Context, namespace: str, family: str, name: str) -> None:
    ctx.family_members.get((namespace, family), set()).discard(name)


async def _listed_versions(ctx: Context, namespace: str, family: str) -> list[Job]:
    key = (namespace, family)
    # Jobs loaded while the list is under way join the members too (job_known).
    members = ctx.family_members.setdefault(key, set())
    listed = await ctx.kube.list_objects(
        paths.racetrack(Job, namespace), field_selector=f"spec.name={family}"
    )
    jobs = []
    for item in listed:
        if item["metadata"].get("deletionTimestamp"):
            continue  # no version any more (its reconciler forgets it too)
        name = str(item["metadata"]["name"])
        members.add(name)
        try:
            job = Job.model_validate({"apiVersion": API_VERSION, "kind": "Job", **item})
        except pydantic.ValidationError:
            # Its own reconciliation reports it as Stalled; it is no version of anything.
            continue
        jobs.append(job)
        if (namespace, name) not in ctx.jobs:
            ctx.family_listed_jobs[(namespace, name)] = job
    ctx.families_listed.add(key)
    return jobs
