"""Reconcile one Job: checks, JobFamily, Deployment and Service, then status and events.

Level-triggered, in the controller-runtime manner: ``reconcile_job`` runs whenever the Job's
watch shows something we have not acted on (``render.jobs.needs_apply``), makes the children
match, and requeues itself when the world may still fix a problem (a missing Secret) or a call
failed. ``sync_job`` is also called by the Deployment watch (``apply=False``: only refresh
status from the Deployment, using what the last reconciliation learnt, see ``jobstate``). Both
run under one lock per Job, so status writes never interleave; status is written only when it
changed.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import logging
import time
from typing import Any

from racetrack_api import conditions as c
from racetrack_api.labels import LABEL_JOB
from racetrack_api.v1alpha1 import Job
from racetrack_api.v1alpha1.job import JobStatus, PurgeStatus, UnhealthyPod
from racetrack_kube import client, paths
from racetrack_operator import metrics
from racetrack_operator.reconcile import build as builds
from racetrack_operator.reconcile import children, tokens
from racetrack_operator.reconcile.context import Context
from racetrack_operator.reconcile.family import (
    ensure_family,
    job_forgotten,
    job_known,
    known_versions,
    request_sync,
)
from racetrack_operator.reconcile.grants import grant_deployer
from racetrack_operator.reconcile.jobstate import Desired, JobState, load
from racetrack_operator.reconcile.requeue import MAX_BACKOFF
from racetrack_operator.render import buildstatus
from racetrack_operator.render import rollout as rollouts
from racetrack_operator.render.jobs import event_ref, needs_apply
from racetrack_operator.render.names import ANNOTATION_RENDER_HASH
from racetrack_operator.render.pods import LOG_TAIL_LINES, find_unhealthy, log_tail
from racetrack_operator.render.problems import Problem
from racetrack_operator.render.purgefacts import purge_status, same_purge
from racetrack_operator.render.status import events, job_status, progress_only, status_patch
from racetrack_operator.render.tokens import FamilyToken

log = logging.getLogger(__name__)

Key = tuple[str, str]


@dataclasses.dataclass(frozen=True)
class Outcome:
    problem: Problem | None
    ready: bool


async def sync_job(
    ctx: Context,
    namespace: str,
    name: str,
    *,
    apply: bool,
    deployment: dict[str, Any] | None = None,
    raw: dict[str, Any] | None = None,
    look_at_pods: bool = False,
    defer_progress: bool = False,
) -> Outcome | None:
    """Returns None when the Job is gone or being deleted, or the refresh was merged.

    ``raw`` is the Job as kopf handed it to a handler (saves a read); ``deployment`` is what
    the Deployment watch just reported; ``look_at_pods`` reads the pods of an unavailable Job
    to find a failing one and its last log lines; ``defer_progress`` leaves a status that
    only reports rollout progress to a refresh a little later (``progress_write_seconds``).
    """
    key = (namespace, name)
    if not apply:
        # Deployment events come in bursts during a rollout: while a refresh for this Job is
        # already waiting for the lock, hand it the newer Deployment instead of queueing.
        if key in ctx.waiting_refresh:
            ctx.waiting_refresh[key] = deployment
            return None
        ctx.waiting_refresh[key] = deployment
    started = time.monotonic()
    registered = not apply
    try:
        async with ctx.locks.hold(("job", namespace, name)):
            if not apply:
                deployment = ctx.waiting_refresh.pop(key, deployment)
                registered = False
            result = await _sync_locked(
                ctx, key, apply, deployment, raw, look_at_pods, defer_progress
            )
    except Exception:
        metrics.ERRORS.labels("Job").inc()
        metrics.RECONCILES.labels("Job", "error").inc()
        raise
    finally:
        if registered:
            # Cancelled while waiting for the lock: leave no waiter that nobody will serve,
            # or every later refresh of this Job would be merged into it and lost.
            ctx.waiting_refresh.pop(key, None)
        metrics.DURATION.labels("Job").observe(time.monotonic() - started)
    if result is None:
        return None
    outcome, tell_family = result
    metrics.RECONCILES.labels("Job", "stalled" if outcome.problem else "ok").inc()
    if tell_family:
        request_sync(ctx, namespace, tell_family)
    return outcome


async def reconcile_job(
    ctx: Context, namespace: str, name: str, raw: dict[str, Any] | None = None
) -> None:
    """Apply the Job; on a retryable problem or an error, try again later by itself."""
    key = (namespace, name)

    async def again() -> None:
        await reconcile_job(ctx, namespace, name)

    try:
        outcome = await sync_job(ctx, namespace, name, apply=True, raw=raw)
    except Exception as error:
        cap = ctx.settings.api_retry_seconds if client.unavailable(error) else MAX_BACKOFF
        delay = ctx.requeue.backoff(key, cap)
        log.exception("Reconciling Job %s/%s failed; retrying in %.0f s.", namespace, name, delay)
        ctx.requeue.schedule(key, delay, again)
        return
    ctx.requeue.succeeded(key)
    state = ctx.jobs.get(key)
    if state is not None and state.build.running:
        # A running build's step is in its pods, which change without an event we watch.
        ctx.requeue.schedule(("build", *key), ctx.settings.build_poll_seconds, again)
    if outcome is not None and outcome.problem is not None:
        problem = outcome.problem
        log.warning(
            "Job %s/%s is stalled (%s): %s", namespace, name, problem.reason, problem.message
        )
        if problem.retry:
            ctx.requeue.schedule(key, ctx.settings.stalled_retry_seconds, again)


async def job_event(ctx: Context, key: Key, event_type: str, raw: dict[str, Any]) -> None:
    """One event of the Job watch, as ``reconcile.jobqueue`` hands it over."""
    namespace, name = key
    if event_type == "DELETED":
        job_deleted(ctx, namespace, name, str((raw.get("spec") or {}).get("name") or ""))
    else:
        await job_seen(ctx, namespace, name, raw)


async def job_seen(ctx: Context, namespace: str, name: str, raw: dict[str, Any]) -> None:
    """The Job's watch delivered it: reconcile unless only our own status write changed."""
    state = ctx.jobs.get((namespace, name))
    known = state.job if state is not None else None
    if state is None and "purge" not in (raw.get("status") or {}):
        ctx.purge_due.set()
    if state is not None and raw["metadata"].get("deletionTimestamp"):
        # Deleting (held by someone's finalizer): no version of its family any more.
        forget(ctx, namespace, name)
        if state.parsed:
            request_sync(ctx, namespace, state.job.spec.name)
        return
    if needs_apply(known, state is not None and state.applied, raw):
        await reconcile_job(ctx, namespace, name, raw)


async def deployment_seen(ctx: Context, namespace: str, job: str, view: dict[str, Any]) -> None:
    """The Job's Deployment changed: refresh the Job's status from its view (as
    ``render.rollout.deployment_view`` makes it; the child watch keeps only views)."""
    key = (namespace, job)
    state = ctx.jobs.get(key)
    if state is not None and state.applied and ctx.deployments.get(key) == view:
        # Nothing the status reads changed (a revision annotation, a condition's heartbeat):
        # the last refresh from this very view stands.
        return
    ctx.deployments[key] = view
    await _refresh(ctx, namespace, job, deployment=view, defer_progress=True)


async def _refresh(ctx: Context, namespace: str, name: str, **options: Any) -> None:
    """Refresh the Job's status; if that fails, reconcile it again soon (neither kopf's watch
    handlers nor the requeue retry by themselves; a full reconciliation reads afresh)."""
    try:
        await sync_job(ctx, namespace, name, apply=False, **options)
    except Exception:
        log.exception("Refreshing Job %s/%s failed; reconciling it again soon.", namespace, name)
        ctx.requeue.schedule(
            (namespace, name), 1.0, functools.partial(reconcile_job, ctx, namespace, name)
        )


async def deployment_deleted(ctx: Context, namespace: str, job: str) -> None:
    """Someone deleted the Job's Deployment: the Job still wants it."""
    ctx.deployments.pop((namespace, job), None)
    await reconcile_job(ctx, namespace, job)


async def build_seen(
    ctx: Context, namespace: str, job: str, batch: dict[str, Any], *, deleted: bool = False
) -> None:
    """A build's batch Job changed: its Job learns how the build went, and a build that
    finished (or was deleted) frees its slot for a Job waiting for one."""
    if deleted or buildstatus.finished(batch):
        ctx.builds.finished((namespace, str(batch["metadata"]["name"])))
        for waiting in ctx.builds.take_waiting(ctx.settings.max_concurrent_builds):
            ctx.requeue.schedule(waiting, 0.0, functools.partial(reconcile_job, ctx, *waiting))
    if not deleted:
        await reconcile_job(ctx, namespace, job)


def job_deleted(ctx: Context, namespace: str, name: str, family: str) -> None:
    forget(ctx, namespace, name)
    ctx.purge_due.set()  # the older versions of its family have one newer version less
    if family:
        # The family forgets this version; the family itself stays (see JobFamily's docs).
        request_sync(ctx, namespace, family)


def family_token_changed(
    ctx: Context, namespace: str, family: str, token: FamilyToken | None
) -> None:
    """The family's token changed (reset, key rotation, repair): its Jobs' pods roll."""
    for name in list(ctx.identity.family_jobs.get((namespace, family), ())):
        state = ctx.jobs.get((namespace, name))
        # No state: its first reconciliation is under way and may have read the old token.
        if state is None or (state.job.spec.name == family and state.family_token != token):
            ctx.requeue.schedule(
                (namespace, name), 0.0, functools.partial(reconcile_job, ctx, namespace, name)
            )


def forget(ctx: Context, namespace: str, name: str) -> None:
    state = ctx.jobs.pop((namespace, name), None)
    # Listed, never loaded, now gone: its family's next sync must not count it (see family).
    ctx.family_listed_jobs.pop((namespace, name), None)
    if state is not None:
        ctx.identity.family_jobs.get((namespace, state.job.spec.name), set()).discard(name)
        job_forgotten(ctx, namespace, state.job.spec.name, name)
    ctx.requeue.cancel((namespace, name))
    ctx.requeue.cancel(("unhealthy", namespace, name))
    ctx.requeue.cancel(("progress", namespace, name))
    ctx.requeue.cancel(("build", namespace, name))
    ctx.builds.forget((namespace, name))
    metrics.JOB_CONDITIONS.forget(namespace, name)


async def _sync_locked(
    ctx: Context,
    key: Key,
    apply: bool,
    deployment: dict[str, Any] | None,
    raw: dict[str, Any] | None,
    look_at_pods: bool,
    defer_progress: bool = False,
) -> tuple[Outcome, str] | None:
    """The Outcome, and the family to tell about it ("" for none); None if the Job is gone."""
    state = ctx.jobs.get(key)
    # The first time this process applies a Job (after a restart its family may have been
    # missing when a Deployment event first loaded it), its family is synced as well.
    first_apply = apply and (state is None or not state.applied)
    if apply or state is None:
        loaded = await _load_and_apply(ctx, key, apply, raw)
        if loaded is None:
            return None
        state, applied_deployment = loaded
        deployment = applied_deployment or deployment
    if deployment is None:
        # Even when stalled, report on whatever Deployment is running.
        namespace, name = key
        deployment = ctx.deployments.get(key) or await ctx.kube.get(
            paths.deployments(namespace, name)
        )
    rollout = rollouts.observe(deployment, state.desired_hash, state.job.spec.replicas)
    unhealthy = await _watch_unhealthy(ctx, key, rollout, look_at_pods)
    old = state.job.status
    new = job_status(
        state.job,
        problem=state.problem,
        rollout=rollout,
        url=state.url,
        timestamp=c.now(),
        unhealthy=unhealthy,
        build=state.build.status,
        built=state.build.built,
    )
    patch = status_patch(old, new)
    if defer_progress and _defer_progress(ctx, key, patch, old, new):
        return Outcome(state.problem, c.is_true(old.conditions, c.READY)), ""
    patch, new = _with_purge(ctx, state, patch, new)
    written = await _write_status(ctx, key, state, patch, old, new)
    if written is None:
        return None
    ready = c.is_true(new.conditions, c.READY)
    # The family lists versions and their readiness: tell it when either may have changed.
    family_changed = written and (
        c.is_true(old.conditions, c.READY) != ready or old.observed_generation == 0
    )
    tell_family = state.parsed and (family_changed or first_apply)
    return Outcome(state.problem, ready), state.job.spec.name if tell_family else ""


async def _load_and_apply(
    ctx: Context, key: Key, apply: bool, raw: dict[str, Any] | None
) -> tuple[JobState, dict[str, Any] | None] | None:
    """Read (unless given), parse and check the Job; with ``apply``, make its children match.

    Returns the new state and the Deployment as applied (None when nothing was applied), or
    None when the Job is gone or being deleted.
    """
    namespace, name = key
    if raw is None:
        raw = await ctx.kube.get(paths.racetrack(Job, namespace, name))
    if raw is None or raw["metadata"].get("deletionTimestamp"):
        forget(ctx, namespace, name)
        return None
    builder = functools.partial(builds.ensure_build, ctx.kube, ctx.builds, ctx.settings)

    async def family_token(job: Job) -> FamilyToken | None:
        if apply:
            await ensure_family(ctx, namespace, job.spec.name, job.spec.owner_email)
            if job.status.observed_generation == 0:
                await grant_deployer(ctx, job)  # a new Job: its deployer's grants, once
        return await tokens.family_token(ctx, namespace, job.spec.name, job.name)

    state, desired = await load(
        ctx.kube,
        ctx.settings,
        raw,
        ctx.jobs.get(key),
        builder if apply else None,
        family_token,
    )
    deployment = None
    if apply and desired is not None:
        try:
            deployment = await _apply(ctx, state, desired)
        except children.NotOurs as error:
            state.problem = Problem(
                c.REASON_NAME_CONFLICT,
                f"{error}; delete it or give this Job another metadata.name",
                retry=True,
            )
    state.applied = apply
    ctx.jobs[key] = state
    if state.parsed:
        job_known(ctx, namespace, state.job.spec.name, name)
    return state, deployment


async def _watch_unhealthy(
    ctx: Context, key: Key, rollout: rollouts.Rollout, look_at_pods: bool
) -> UnhealthyPod | None:
    """While replicas are missing, look at the Job's pods again on a timer: pods fail
    without their Deployment changing. A rollout that finishes first costs no pod reads, and
    no look at all: its timer goes."""
    namespace, name = key
    if not rollout.exists or rollout.fully_available:
        ctx.requeue.cancel(("unhealthy", namespace, name))
        return None
    unhealthy = await diagnose(ctx, namespace, name) if look_at_pods else None

    async def look_again() -> None:
        try:
            await sync_job(ctx, namespace, name, apply=False, look_at_pods=True)
        except Exception:
            log.exception("Looking at the pods of Job %s/%s failed; again soon.", namespace, name)
            ctx.requeue.schedule(
                ("unhealthy", namespace, name), ctx.settings.api_retry_seconds, look_again
            )

    ctx.requeue.schedule(
        ("unhealthy", namespace, name), ctx.settings.stalled_retry_seconds, look_again
    )
    return unhealthy


def _defer_progress(
    ctx: Context, key: Key, patch: dict[str, Any] | None, old: JobStatus, new: JobStatus
) -> bool:
    """Leave a status that only reports rollout progress to a refresh a moment later, merged
    with whatever the Deployment reports meanwhile: a rollout's replica counts move on most
    of its Deployment's events, and each write is one more Job event for every watcher."""
    delay = ctx.settings.progress_write_seconds
    if delay <= 0 or patch is None or not progress_only(old, new):
        return False
    namespace, name = key
    ctx.requeue.schedule(
        ("progress", namespace, name), delay, functools.partial(_refresh, ctx, namespace, name)
    )
    return True


def _with_purge(
    ctx: Context, state: JobState, patch: dict[str, Any] | None, new: JobStatus
) -> tuple[dict[str, Any] | None, JobStatus]:
    """A status write also carries the purge score the new status deserves, when the Job's
    family is known: otherwise the purge timer's next pass would write it, one more write
    (and one more event for every watcher) per change of every Job. Nothing is written for
    the score alone; that stays the timer's work (time passing, calls, newer versions)."""
    if patch is None or not state.parsed:
        return patch, new
    job = state.job
    versions = known_versions(ctx, str(job.namespace), job.spec.name)
    if versions is None:
        return patch, new
    seen_as_listed: dict[str, Any] = {
        "metadata": {"creationTimestamp": job.metadata.get("creationTimestamp")},
        "spec": {"name": job.spec.name, "version": job.spec.version},
        "status": new.to_wire(),
    }
    purge = purge_status(
        seen_as_listed,
        [version.version for version in versions],
        datetime.datetime.now(datetime.UTC),
    )
    if same_purge(seen_as_listed["status"].get("purge"), purge):
        return patch, new
    return {**patch, "purge": purge}, new.model_copy(
        update={"purge": PurgeStatus.model_validate(purge)}
    )


async def _write_status(
    ctx: Context,
    key: Key,
    state: JobState,
    patch: dict[str, Any] | None,
    old: JobStatus,
    new: JobStatus,
) -> bool | None:
    """Write ``patch`` (``status_patch(old, new)``), post the events the change deserves;
    whether anything was written, or None when the Job was deleted meanwhile."""
    namespace, name = key
    if patch is not None:
        try:
            await ctx.kube.merge_patch_metadata(
                paths.racetrack(Job, namespace, name) + "/status", {"status": patch}
            )
        except client.ApiError as error:
            if error.status == 404:
                forget(ctx, namespace, name)
                return None
            raise
        state.job = state.job.model_copy(update={"status": new})
        # A progress report waiting for its turn is in this write already.
        ctx.requeue.cancel(("progress", namespace, name))
    for event in events(old, new):
        ctx.recorder.post(event_ref(state.job), event.type, event.reason, event.message)
    metrics.JOB_CONDITIONS.record(
        namespace, name, {cond.type: cond.status for cond in new.conditions}
    )
    return patch is not None


async def diagnose(ctx: Context, namespace: str, name: str) -> UnhealthyPod | None:
    """A failing pod of the Job with its container's last log lines, or None."""
    pods = await ctx.kube.list_objects(paths.pods(namespace), label_selector=f"{LABEL_JOB}={name}")
    trouble = find_unhealthy(pods, datetime.datetime.now(datetime.UTC))
    if trouble is None:
        return None
    query = [("container", trouble.container), ("tailLines", str(LOG_TAIL_LINES))]
    if trouble.previous_logs:
        query.append(("previous", "true"))
    try:
        text = await ctx.kube.text(f"{paths.pods(namespace)}/{trouble.pod}/log", query)
    except client.ApiError as error:
        # No logs yet (an image that cannot be pulled) is an answer too.
        text = f"(no logs: HTTP {error.status})"
    return UnhealthyPod(
        name=trouble.pod,
        reason=trouble.reason,
        message=trouble.message,
        restarts=trouble.restarts,
        log_tail=log_tail(text),
    )


async def _apply(ctx: Context, state: JobState, desired: Desired) -> dict[str, Any]:
    job = state.job
    namespace = str(job.namespace)
    live, done = await children.ensure(
        ctx.kube,
        paths.deployments(namespace),
        desired.deployment,
        replace=True,
        seen=ctx.deployments.get((namespace, job.name)),
        # A Job without status was never deployed: try creating its Deployment at once. One
        # with status, seen before its Deployment's watch event (an operator restart), is
        # read first: an "already exists" answer costs the API server more than a read.
        create_first=job.status.observed_generation == 0,
    )
    if done:
        log.info("%s Deployment %s/%s.", done.capitalize(), namespace, job.name)
    if done == "updated":
        # Creation is told by the Ready event; a rollout of a running Job deserves its own.
        ctx.recorder.post(
            event_ref(job),
            "Normal",
            "DeploymentUpdated",
            f"Rolling out generation {job.generation} to Deployment {job.name}.",
        )
    service_hash = desired.service["metadata"]["annotations"][ANNOTATION_RENDER_HASH]
    if state.service_hash == service_hash:
        # This process already made sure of this very Service; a Service deleted by hand
        # since is put back by the next change of the Job or an operator restart (its
        # watch forgets the hash, see reconcile.childwatch).
        return live
    async with ctx.service_writes:
        _, service_done = await children.ensure(
            ctx.kube,
            paths.services(namespace),
            desired.service,
            replace=False,
            seen=ctx.listed_service(namespace, job.name),
            create_first=done == "created",
        )
    state.service_hash = service_hash
    if service_done:
        log.info("%s Service %s/%s.", service_done.capitalize(), namespace, job.name)
    return live
